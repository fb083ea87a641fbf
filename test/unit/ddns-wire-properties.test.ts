import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { RrType } from '../../lib/dns/dns-codes.ts';
import type { DnsHeader } from '../../lib/dns/dns-header.ts';
import { decodeMessage, encodeMessage, messageEncodingLength, type DnsMessage } from '../../lib/dns/dns-message.ts';
import type { DnsQuestion, DnsRecord } from '../../lib/dns/dns-record.ts';
import type { Rdata } from '../../lib/dns/rdata.ts';
import { decodeUpdate, encodeUpdate } from '../../lib/dns/update-message.ts';
import type { Prerequisite, RecordData, UpdateOp, UpdateRequest } from '../../lib/dns/update-request.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { bufferToIpv6 } from '../../lib/wire/ipv6.ts';
import { assertRoundTrip, type Codec } from './helpers/roundtrip.ts';

const RUNS = { numRuns: 500, includeErrorInReport: true };

const messageCodec: Codec<DnsMessage> = { encode: encodeMessage, decode: decodeMessage, encodingLength: messageEncodingLength };

// ---- arbitraries -----------------------------------------------------------

const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const bytes = (maxLength: number, minLength = 0) => fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** Labels in canonical text form (escapes as the decoder writes them), from a pool so names share suffixes. */
const label = fc.oneof(
  fc.constantFrom('leasehold', 'test', 'web1', 'in-addr', 'arpa', 'x\\.y', 'sp\\032ace', '\\\\', 'Mixed', '_tcp'),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
);
const name = fc.oneof(fc.constant(''), fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('.')));
const ipv6 = bytes(16, 16).map((b) => bufferToIpv6(b, 0));

const header: fc.Arbitrary<DnsHeader> = record({
  id: u16, qr: fc.boolean(), opcode: fc.integer({ min: 0, max: 15 }), aa: fc.boolean(), tc: fc.boolean(), rd: fc.boolean(),
  ra: fc.boolean(), z: fc.boolean(), ad: fc.boolean(), cd: fc.boolean(), rcode: fc.integer({ min: 0, max: 15 }),
});

const question: fc.Arbitrary<DnsQuestion> = record({ name, type: u16, class: u16 });

/** A type with data that suits it (typed, raw for untyped types, or empty for any). */
const typeAndRdata: fc.Arbitrary<{ type: number; rdata: Rdata }> = fc.oneof(
  fc.ipV4().map((value) => ({ type: RrType.A, rdata: { kind: 'a', value } as Rdata })),
  ipv6.map((value) => ({ type: RrType.AAAA, rdata: { kind: 'aaaa', value } as Rdata })),
  name.map((value) => ({ type: RrType.PTR, rdata: { kind: 'ptr', value } as Rdata })),
  bytes(40, 1).map((value) => ({ type: RrType.DHCID, rdata: { kind: 'dhcid', value } as Rdata })),
  record({
    algorithm: fc.constantFrom('hmac-sha256', 'hmac-sha1', 'hmac-sha512', 'Other.Alg'),
    timeSigned: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
    fudge: u16, mac: bytes(64), originalId: u16, error: u16, otherData: bytes(6),
  }).map((value) => ({ type: RrType.TSIG, rdata: { kind: 'tsig', value } as Rdata })),
  fc.record({ type: fc.constantFrom(2, 6, 16, 41, 99, 65280), value: bytes(30, 1) }).map(({ type, value }) => ({ type, rdata: { kind: 'raw', value } as Rdata })),
  u16.map((type) => ({ type, rdata: { kind: 'empty' } as Rdata })),
);

const dnsRecord: fc.Arbitrary<DnsRecord> = fc
  .record({ name, cls: u16, ttl: u32, data: typeAndRdata })
  .map(({ name: n, cls, ttl, data }) => ({ name: n, type: data.type, class: cls, ttl, rdata: data.rdata }));

const records = fc.array(dnsRecord, { maxLength: 4 });
const dnsMessage: fc.Arbitrary<DnsMessage> = record({
  header, questions: fc.array(question, { maxLength: 2 }), answers: records, authorities: records, additionals: records,
});

// ---- properties ------------------------------------------------------------

test('property: any message round-trips (encode → decode → equal, same bytes, exact length)', (t) => {
  fc.assert(fc.property(dnsMessage, (m) => void assertRoundTrip(messageCodec, m)), RUNS);
  t.pass();
});

/** Decodes or throws DecodeError, nothing else; what decodes re-encodes to something that decodes the same. */
function exercise(input: Buffer): void {
  let decoded: DnsMessage;
  try {
    decoded = decodeMessage(input);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return;
  }
  assert.deepStrictEqual(decodeMessage(encodeMessage(decoded)), decoded);
}

test('property: arbitrary bytes decode or throw DecodeError', (t) => {
  fc.assert(fc.property(bytes(600), exercise), { ...RUNS, numRuns: 3000 });
  t.pass();
});

test('property: corrupted and truncated valid messages decode or throw DecodeError', (t) => {
  const corrupted = fc
    .record({
      m: dnsMessage,
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat()),
    })
    .map(({ m, edits, cut }) => {
      const buf = Buffer.from(encodeMessage(m));
      for (const e of edits) buf[e.at % buf.length] = e.value;
      return cut === null ? buf : buf.subarray(0, cut % (buf.length + 1));
    });
  fc.assert(fc.property(corrupted, exercise), { ...RUNS, numRuns: 3000 });
  t.pass();
});

// ---- UpdateRequest ---------------------------------------------------------

const dhcidText = bytes(35, 3).map((b) => b.toString('base64'));
const recordData: fc.Arbitrary<RecordData> = fc.oneof(
  fc.ipV4().map((data) => ({ type: 'A' as const, data })),
  ipv6.map((data) => ({ type: 'AAAA' as const, data })),
  name.filter((n) => n !== '').map((data) => ({ type: 'PTR' as const, data })),
  dhcidText.map((data) => ({ type: 'DHCID' as const, data })),
);
const recordType = fc.constantFrom('A' as const, 'AAAA' as const, 'PTR' as const, 'DHCID' as const);
const prerequisite: fc.Arbitrary<Prerequisite> = fc.oneof(
  name.map((n): Prerequisite => ({ kind: 'name-in-use', name: n })),
  name.map((n): Prerequisite => ({ kind: 'name-not-in-use', name: n })),
  fc.tuple(name, recordType).map(([n, type]): Prerequisite => ({ kind: 'rrset-exists', name: n, type })),
  fc.tuple(name, recordData).map(([n, r]): Prerequisite => ({ kind: 'rrset-exists-value', name: n, record: r })),
  fc.tuple(name, recordType).map(([n, type]): Prerequisite => ({ kind: 'rrset-not-exists', name: n, type })),
);
const updateOp: fc.Arbitrary<UpdateOp> = fc.oneof(
  fc.tuple(name, u32, recordData).map(([n, ttl, r]): UpdateOp => ({ kind: 'add', name: n, ttl, record: r })),
  fc.tuple(name, recordType).map(([n, type]): UpdateOp => ({ kind: 'delete-rrset', name: n, type })),
  name.map((n): UpdateOp => ({ kind: 'delete-name', name: n })),
  fc.tuple(name, recordData).map(([n, r]): UpdateOp => ({ kind: 'delete-record', name: n, record: r })),
);
const updateRequest: fc.Arbitrary<UpdateRequest> = record({
  zone: name,
  prerequisites: fc.array(prerequisite, { maxLength: 5 }),
  updates: fc.array(updateOp, { maxLength: 5 }),
});

test('property: every UpdateRequest survives encodeUpdate → decodeUpdate', (t) => {
  fc.assert(
    fc.property(u16, updateRequest, (id, req) => {
      assert.deepStrictEqual(decodeUpdate(encodeUpdate(id, req)), { id, request: req });
    }),
    RUNS,
  );
  t.pass();
});

test('property: decodeUpdate on arbitrary messages returns a request or throws DecodeError', (t) => {
  fc.assert(
    fc.property(dnsMessage, fc.boolean(), name, (m, asUpdate, zone) => {
      // Half of them shaped like an UPDATE, so the section checks get exercised.
      const shaped: DnsMessage = asUpdate
        ? { ...m, header: { ...m.header, opcode: 5 }, questions: [{ name: zone, type: RrType.SOA, class: 1 }] }
        : m;
      try {
        const { id, request } = decodeUpdate(encodeMessage(shaped));
        assert.deepStrictEqual(decodeUpdate(encodeUpdate(id, request)).request, request);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
      }
    }),
    RUNS,
  );
  t.pass();
});
