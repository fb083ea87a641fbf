import test from 'ava';
import { RrType } from '../../lib/dns/dns-codes.ts';
import { newHeader } from '../../lib/dns/dns-header.ts';
import { encodeMessage } from '../../lib/dns/dns-message.ts';
import { decodeUpdate, encodeUpdate } from '../../lib/dns/update-message.ts';
import type { Prerequisite, UpdateOp } from '../../lib/dns/update-request.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';

/** Hex with spaces and `//` comments, as the RFC tables are read out below. */
const hex = (s: string): string => s.replace(/\/\/[^\n]*|\s+/g, '');

const ZONE = 'leasehold.test';
const ZONE_WIRE = '09 6c65617365686f6c64 04 74657374 00';
const NAME = 'web1.leasehold.test';
const NAME_WIRE = `04 77656231 ${ZONE_WIRE}`;
const DHCID_B64 = 'AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfzuVU4AkNaI=';
const DHCID_HEX = Buffer.from(DHCID_B64, 'base64').toString('hex');

/**
 * Header (RFC 2136 §2.2: ID 0x1234, opcode UPDATE = 5 so 0x2800, ZOCOUNT 1)
 * and Zone section (§2.3: ZNAME, ZTYPE SOA, ZCLASS IN), then the one record.
 */
function expectedUpdate(counts: { pr: number; up: number }, recordHex: string): string {
  return hex(`
    1234 2800 0001 ${counts.pr.toString(16).padStart(4, '0')} ${counts.up.toString(16).padStart(4, '0')} 0000
    ${ZONE_WIRE} 0006 0001
    ${recordHex}
  `);
}

const prerequisiteForms: Array<[string, Prerequisite, string]> = [
  // §2.4.1: CLASS ANY, TYPE the RRset's, TTL 0, RDLENGTH 0.
  ['§2.4.1 rrset-exists (value independent)', { kind: 'rrset-exists', name: NAME, type: 'A' }, `${NAME_WIRE} 0001 00ff 00000000 0000`],
  // §2.4.2: CLASS the zone's (IN), TTL 0, the RDATA to match.
  ['§2.4.2 rrset-exists-value (value dependent)', { kind: 'rrset-exists-value', name: NAME, record: { type: 'DHCID', data: DHCID_B64 } },
    `${NAME_WIRE} 0031 0001 00000000 0023 ${DHCID_HEX}`],
  // §2.4.3: CLASS NONE, TYPE the RRset's, TTL 0, RDLENGTH 0.
  ['§2.4.3 rrset-not-exists', { kind: 'rrset-not-exists', name: NAME, type: 'DHCID' }, `${NAME_WIRE} 0031 00fe 00000000 0000`],
  // §2.4.4: CLASS ANY, TYPE ANY, TTL 0, RDLENGTH 0.
  ['§2.4.4 name-in-use', { kind: 'name-in-use', name: NAME }, `${NAME_WIRE} 00ff 00ff 00000000 0000`],
  // §2.4.5: CLASS NONE, TYPE ANY, TTL 0, RDLENGTH 0.
  ['§2.4.5 name-not-in-use', { kind: 'name-not-in-use', name: NAME }, `${NAME_WIRE} 00ff 00fe 00000000 0000`],
];

for (const [title, prerequisite, recordHex] of prerequisiteForms) {
  test(`prerequisite ${title}: exact bytes`, (t) => {
    const request = { zone: ZONE, prerequisites: [prerequisite], updates: [] };
    const bytes = encodeUpdate(0x1234, request);
    t.is(bytes.toString('hex'), expectedUpdate({ pr: 1, up: 0 }, recordHex));
    t.deepEqual(decodeUpdate(bytes), { id: 0x1234, request });
  });
}

const updateForms: Array<[string, UpdateOp, string]> = [
  // §2.5.1: CLASS the zone's, TYPE, TTL and RDATA of the record to add.
  ['§2.5.1 add A', { kind: 'add', name: NAME, ttl: 300, record: { type: 'A', data: '198.18.1.5' } }, `${NAME_WIRE} 0001 0001 0000012c 0004 c6120105`],
  ['§2.5.1 add AAAA', { kind: 'add', name: NAME, ttl: 300, record: { type: 'AAAA', data: 'fd00:198:18::5' } },
    `${NAME_WIRE} 001c 0001 0000012c 0010 fd000198001800000000000000000005`],
  ['§2.5.1 add PTR', { kind: 'add', name: '5.1.18.198.in-addr.arpa', ttl: 60, record: { type: 'PTR', data: NAME } },
    `0135 0131 023138 03313938 07696e2d61646472 0461727061 00  000c 0001 0000003c 0015 ${NAME_WIRE}`],
  ['§2.5.1 add DHCID', { kind: 'add', name: NAME, ttl: 300, record: { type: 'DHCID', data: DHCID_B64 } },
    `${NAME_WIRE} 0031 0001 0000012c 0023 ${DHCID_HEX}`],
  // §2.5.2: CLASS ANY, TYPE the RRset's, TTL 0, RDLENGTH 0.
  ['§2.5.2 delete-rrset', { kind: 'delete-rrset', name: NAME, type: 'AAAA' }, `${NAME_WIRE} 001c 00ff 00000000 0000`],
  // §2.5.3: CLASS ANY, TYPE ANY, TTL 0, RDLENGTH 0.
  ['§2.5.3 delete-name', { kind: 'delete-name', name: NAME }, `${NAME_WIRE} 00ff 00ff 00000000 0000`],
  // §2.5.4: CLASS NONE, TYPE and RDATA of the record, TTL 0.
  ['§2.5.4 delete-record', { kind: 'delete-record', name: NAME, record: { type: 'A', data: '198.18.1.5' } }, `${NAME_WIRE} 0001 00fe 00000000 0004 c6120105`],
];

for (const [title, update, recordHex] of updateForms) {
  test(`update ${title}: exact bytes`, (t) => {
    const request = { zone: ZONE, prerequisites: [], updates: [update] };
    const bytes = encodeUpdate(0x1234, request);
    t.is(bytes.toString('hex'), expectedUpdate({ pr: 0, up: 1 }, recordHex));
    t.deepEqual(decodeUpdate(bytes), { id: 0x1234, request });
  });
}

test('prerequisites go in the Prerequisite section, updates in the Update section, in order', (t) => {
  const request = {
    zone: ZONE,
    prerequisites: [{ kind: 'name-not-in-use', name: NAME } as const, { kind: 'rrset-not-exists', name: NAME, type: 'A' } as const],
    updates: [
      { kind: 'add', name: NAME, ttl: 300, record: { type: 'A', data: '198.18.1.5' } } as const,
      { kind: 'add', name: NAME, ttl: 300, record: { type: 'DHCID', data: DHCID_B64 } } as const,
      { kind: 'delete-rrset', name: NAME, type: 'AAAA' } as const,
    ],
  };
  const bytes = encodeUpdate(7, request);
  t.is(bytes.subarray(0, 12).toString('hex'), '0007280000010002000300' + '00');
  t.deepEqual(decodeUpdate(bytes), { id: 7, request });
});

test('encodeUpdate refuses data its record type cannot hold', (t) => {
  const add = (type: 'A' | 'AAAA' | 'PTR' | 'DHCID', data: string) => ({
    zone: ZONE, prerequisites: [], updates: [{ kind: 'add' as const, name: NAME, ttl: 60, record: { type, data } }],
  });
  t.throws(() => encodeUpdate(1, add('A', 'fd00::1')), { instanceOf: EncodeError });
  t.throws(() => encodeUpdate(1, add('AAAA', '198.18.0.1')), { instanceOf: EncodeError });
  t.throws(() => encodeUpdate(1, add('PTR', 'a..b')), { instanceOf: EncodeError });
  t.throws(() => encodeUpdate(1, add('DHCID', 'not base64!')), { instanceOf: EncodeError, message: /updates\[0\].*base64/ });
  t.throws(() => encodeUpdate(1, add('DHCID', '')), { instanceOf: EncodeError });
  t.throws(() => encodeUpdate(0x10000, add('A', '1.2.3.4')), { instanceOf: EncodeError, message: /header.id/ });
  t.throws(() => encodeUpdate(1, { ...add('A', '1.2.3.4'), updates: [{ kind: 'add', name: NAME, ttl: -1, record: { type: 'A', data: '1.2.3.4' } }] }),
    { instanceOf: EncodeError, message: /ttl/ });
});

test('decodeUpdate refuses what no RFC 2136 form or UpdateRequest expresses, naming the record', (t) => {
  const msg = (parts: { answers?: object[]; authorities?: object[]; questions?: object[]; opcode?: number }) =>
    encodeMessage({
      header: newHeader(1, parts.opcode ?? 5),
      questions: (parts.questions ?? [{ name: ZONE, type: RrType.SOA, class: 1 }]) as never,
      answers: (parts.answers ?? []) as never,
      authorities: (parts.authorities ?? []) as never,
      additionals: [],
    });
  const rr = (type: number, cls: number, ttl: number, rdata: object) => ({ name: NAME, type, class: cls, ttl, rdata });
  const empty = { kind: 'empty' };
  const a = { kind: 'a', value: '1.2.3.4' };
  const cases: Array<[string, Buffer, string, RegExp]> = [
    ['a query', msg({ opcode: 0 }), 'header.opcode', /not UPDATE/],
    ['two zones', msg({ questions: [{ name: ZONE, type: 6, class: 1 }, { name: ZONE, type: 6, class: 1 }] }), 'zone', /one IN SOA/],
    ['a zone of type A', msg({ questions: [{ name: ZONE, type: 1, class: 1 }] }), 'zone', /one IN SOA/],
    ['no zone', msg({ questions: [] }), 'zone', /one IN SOA/],
    ['prerequisite with a TTL', msg({ answers: [rr(1, 255, 5, empty)] }), 'prerequisites[0]', /TTL is 5/],
    ['prerequisite class NONE with data', msg({ answers: [rr(1, 254, 0, a)] }), 'prerequisites[0]', /no prerequisite form/],
    ['prerequisite on TXT', msg({ answers: [rr(16, 255, 0, empty)] }), 'prerequisites[0]', /type 16/],
    ['delete with a TTL', msg({ authorities: [rr(1, 255, 60, empty)] }), 'updates[0]', /TTL 60/],
    ['class ANY with data', msg({ authorities: [rr(1, 255, 0, a)] }), 'updates[0]', /no update form/],
    ['class NONE without data', msg({ authorities: [rr(1, 254, 0, empty)] }), 'updates[0]', /no update form/],
    ['add without data', msg({ authorities: [rr(1, 1, 60, empty)] }), 'updates[0]', /no update form/],
  ];
  for (const [what, bytes, field, message] of cases) {
    const err = t.throws(() => decodeUpdate(bytes), { instanceOf: DecodeError, message }, what);
    t.is(err?.field, field, what);
  }
  // The offset points at the record: here the first (and only) prerequisite, right after the zone.
  const err = t.throws(() => decodeUpdate(msg({ answers: [rr(1, 255, 5, empty)] })), { instanceOf: DecodeError });
  t.is(err?.offset, 12 + 16 + 4);
});
