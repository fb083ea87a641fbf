import test, { type ExecutionContext } from 'ava';
import { className, Opcode, RrClass, RrType, typeName } from '../../lib/dns/dns-codes.ts';
import { newHeader } from '../../lib/dns/dns-header.ts';
import { decodeMessage, decodeMessageLayout, encodeMessage, extendedRcode, messageEncodingLength, type DnsMessage } from '../../lib/dns/dns-message.ts';
import type { DnsRecord } from '../../lib/dns/dns-record.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';
import { assertRoundTrip, type Codec } from './helpers/roundtrip.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|\/\/[^\n]*/g, ''), 'hex');

const messageCodec: Codec<DnsMessage> = { encode: encodeMessage, decode: decodeMessage, encodingLength: messageEncodingLength };

/** The shared symmetry check, as an ava assertion; `expected` is commented hex. */
function roundTrip(t: ExecutionContext, m: DnsMessage, expected?: string): Buffer {
  const bytes = assertRoundTrip(messageCodec, m, expected === undefined ? undefined : hex(expected).toString('hex'));
  t.pass();
  return bytes;
}

function message(parts: Partial<DnsMessage> = {}): DnsMessage {
  return { header: newHeader(0x1234, Opcode.QUERY), questions: [], answers: [], authorities: [], additionals: [], ...parts };
}

const rr = (type: number, rdata: DnsRecord['rdata'], extra: Partial<DnsRecord> = {}): DnsRecord => ({
  name: 'web1.leasehold.test', type, class: RrClass.IN, ttl: 300, rdata, ...extra,
});

test('a query encodes as RFC 1035 §4.1 lays it out', (t) => {
  const query = message({ header: { ...newHeader(0xbeef, Opcode.QUERY), rd: true }, questions: [{ name: 'leasehold.test', type: RrType.SOA, class: RrClass.IN }] });
  roundTrip(t, query, `
    beef 0100 0001 0000 0000 0000          // ID, RD, QDCOUNT 1
    09 6c65617365686f6c64 04 74657374 00   // leasehold.test
    0006 0001                              // SOA IN
  `);
});

test('every header bit has its own field and survives a round trip', (t) => {
  const bits: Array<[keyof DnsMessage['header'], string]> = [
    ['qr', '8000'], ['aa', '0400'], ['tc', '0200'], ['rd', '0100'], ['ra', '0080'], ['z', '0040'], ['ad', '0020'], ['cd', '0010'],
  ];
  for (const [flag, word] of bits) {
    const m = message({ header: { ...newHeader(1, 0), [flag]: true } });
    t.is(roundTrip(t, m).subarray(2, 4).toString('hex'), word, flag);
  }
  const update = message({ header: { ...newHeader(1, Opcode.UPDATE), qr: true, rcode: 8 } });
  t.is(roundTrip(t, update).subarray(2, 4).toString('hex'), 'a808');
  t.deepEqual(decodeMessage(hex('0001 7fff 0000 0000 0000 0000')).header, {
    id: 1, qr: false, opcode: 15, aa: true, tc: true, rd: true, ra: true, z: true, ad: true, cd: true, rcode: 15,
  });
});

test('typed RDATA for A, AAAA, PTR, DHCID and TSIG; SOA, TXT and unknown types stay raw', (t) => {
  const records: DnsRecord[] = [
    rr(RrType.A, { kind: 'a', value: '198.18.1.5' }),
    rr(RrType.AAAA, { kind: 'aaaa', value: 'fd00:198:18::5' }),
    rr(RrType.PTR, { kind: 'ptr', value: 'web1.leasehold.test' }, { name: '5.1.18.198.in-addr.arpa' }),
    rr(RrType.DHCID, { kind: 'dhcid', value: hex('000201 636fc0b8271c82825bb1ac5c41cf5351aa69b4febd94e8f17cdb95000900d68' + '8') }),
    rr(RrType.TXT, { kind: 'raw', value: hex('0568656c6c6f') }),
    rr(RrType.SOA, { kind: 'raw', value: hex('00 00 00000001 00000e10 00000258 00015180 0000003c') }, { name: 'leasehold.test' }),
    rr(65280, { kind: 'raw', value: hex('0102') }, { class: 32 }),
    rr(RrType.TSIG, {
      kind: 'tsig',
      value: { algorithm: 'hmac-sha256', timeSigned: 0x0001_6b0a9ef7, fudge: 300, mac: hex('00112233'), originalId: 7, error: 18, otherData: hex('00006b0a9ef7') },
    }, { name: 'leasehold-key', class: RrClass.ANY, ttl: 0 }),
  ];
  const bytes = roundTrip(t, message({ answers: records }));
  const decoded = decodeMessage(bytes);
  t.is(decoded.answers[6].type, 65280, 'unknown type kept as a number');
  t.is(decoded.answers[6].class, 32, 'unknown class kept as a number');
  t.is(typeName(65280), 'TYPE65280');
  t.is(className(32), 'CLASS32');
});

test('the A record on the wire (RFC 1035 §3.4.1) and the AAAA record (RFC 3596 §2.2)', (t) => {
  roundTrip(t, message({ answers: [rr(RrType.A, { kind: 'a', value: '198.18.1.5' }, { name: 'a.test' })] }), `
    1234 0000 0000 0001 0000 0000
    01 61 04 74657374 00  0001 0001 0000012c 0004 c6120105
  `);
  roundTrip(t, message({ answers: [rr(RrType.AAAA, { kind: 'aaaa', value: 'fd00:198:18::5' }, { name: 'a.test' })] }), `
    1234 0000 0000 0001 0000 0000
    01 61 04 74657374 00  001c 0001 0000012c 0010 fd000198001800000000000000000005
  `);
});

test('empty RDATA is allowed for any type and class, as RFC 2136 deletions need', (t) => {
  for (const cls of [RrClass.IN, RrClass.NONE, RrClass.ANY]) {
    for (const type of [RrType.A, RrType.PTR, RrType.DHCID, RrType.ANY, RrType.TXT]) {
      const m = message({ authorities: [rr(type, { kind: 'empty' }, { class: cls, ttl: 0 })] });
      const bytes = roundTrip(t, m);
      t.is(bytes.subarray(-2).toString('hex'), '0000', `${typeName(type)} ${className(cls)}: RDLENGTH 0`);
    }
  }
});

test('follows backward compression pointers in owner names and PTR data', (t) => {
  // The question's "leasehold.test" at 12; the answer's owner "web1" + pointer to 12;
  // its PTR data "x" + pointer to the owner at 32.
  const bytes = hex(`
    0001 8000 0001 0001 0000 0000
    09 6c65617365686f6c64 04 74657374 00 0006 0001
    04 77656231 c00c  000c 0001 0000003c 0004 0178 c020
  `);
  const decoded = decodeMessage(bytes);
  t.is(decoded.questions[0].name, 'leasehold.test');
  t.is(decoded.answers[0].name, 'web1.leasehold.test');
  t.deepEqual(decoded.answers[0].rdata, { kind: 'ptr', value: 'x.web1.leasehold.test' });
});

test('refuses forward and self pointers, so no input loops', (t) => {
  const forward = hex('0001 8000 0001 0000 0000 0000  c00e 00 0001 0001');
  t.throws(() => decodeMessage(forward), { instanceOf: DecodeError, message: /does not point backwards/ });
  const self = hex('0001 8000 0001 0000 0000 0000  c00c 0001 0001');
  t.throws(() => decodeMessage(self), { instanceOf: DecodeError, message: /does not point backwards/ });
});

test('decode errors name the field and the offset', (t) => {
  const cases: Array<[string, Buffer, string, number]> = [
    ['short header', hex('0001 8000 0001'), 'header.ancount', 6],
    ['A with 3 bytes', hex('0001 8000 0000 0001 0000 0000  00 0001 0001 00000000 0003 010203'), 'rdata.a', 23],
    ['AAAA with 4 bytes', hex('0001 8000 0000 0001 0000 0000  00 001c 0001 00000000 0004 01020304'), 'rdata.aaaa', 23],
    ['RDLENGTH past the end', hex('0001 8000 0000 0001 0000 0000  00 0010 0001 00000000 0009 0102'), 'record.rdata', 23],
    ['PTR with bytes after its name', hex('0001 8000 0000 0001 0000 0000  00 000c 0001 00000000 0002 00ff'), 'record.rdata', 24],
    ['PTR name without its root label', hex('0001 8000 0000 0001 0000 0000  00 000c 0001 00000000 0002 0161'), 'rdata.ptr', 23],
    ['bytes after the last record', hex('0001 8000 0000 0000 0000 0000  ff'), 'message', 12],
    ['count larger than the records', hex('0001 8000 0000 0002 0000 0000  00 0010 0001 00000000 0000'), 'record.name', 23],
  ];
  for (const [what, bytes, field, offset] of cases) {
    const err = t.throws(() => decodeMessage(bytes), { instanceOf: DecodeError }, what);
    t.like(err, { field, offset }, what);
  }
});

test('TSIG RDATA must fill its RDLENGTH exactly, and its algorithm name is never compressed', (t) => {
  const tsigRecord = (rdata: string) => {
    const data = hex(rdata);
    return Buffer.concat([hex('0001 8000 0000 0000 0000 0001  00 00fa 00ff 00000000'), Buffer.from([data.length >> 8, data.length & 0xff]), data]);
  };
  const good = '0161 00  000000000001 012c 0000 0007 0000 0000';
  t.deepEqual(decodeMessage(tsigRecord(good)).additionals[0].rdata, {
    kind: 'tsig', value: { algorithm: 'a', timeSigned: 1, fudge: 300, mac: Buffer.alloc(0), originalId: 7, error: 0, otherData: Buffer.alloc(0) },
  });
  t.throws(() => decodeMessage(tsigRecord(`${good} ff`)), { instanceOf: DecodeError, message: /1 byte\(s\) left/ });
  t.throws(() => decodeMessage(tsigRecord('0161 00  000000000001 012c 0005 0102')), { instanceOf: DecodeError, message: /rdata.tsig.mac/ });
  t.throws(() => decodeMessage(tsigRecord('c00c  000000000001 012c 0000 0007 0000 0000')), { instanceOf: DecodeError, message: /not allowed/ });
});

test('encode refuses what the wire cannot carry', (t) => {
  const bad: Array<[string, DnsRecord, RegExp]> = [
    ['raw data for a typed type', rr(RrType.A, { kind: 'raw', value: hex('01020304') }), /must be given as 'a'/],
    ['typed data of another type', rr(RrType.AAAA, { kind: 'a', value: '1.2.3.4' }), /cannot go in a AAAA record/],
    ['a bad IPv4 address', rr(RrType.A, { kind: 'a', value: '1.2.3' }), /dotted-quad/],
    ['a bad IPv6 address', rr(RrType.AAAA, { kind: 'aaaa', value: 'fd00::1::2' }), /not an IPv6 address/],
    ['a TTL over 32 bits', rr(RrType.A, { kind: 'a', value: '1.2.3.4' }, { ttl: 2 ** 32 }), /record.ttl/],
    ['a type over 16 bits', rr(70000, { kind: 'raw', value: hex('00') }), /record.type/],
    ['an empty label', rr(RrType.A, { kind: 'a', value: '1.2.3.4' }, { name: 'a..test' }), /empty label/],
  ];
  for (const [what, record, message_] of bad) {
    t.throws(() => encodeMessage(message({ answers: [record] })), { instanceOf: EncodeError, message: message_ }, what);
  }
  t.throws(() => encodeMessage(message({ header: { ...newHeader(1, 16) } })), { instanceOf: EncodeError, message: /opcode/ });
});

test('decodeMessageLayout says where every question and record starts', (t) => {
  const m = message({
    questions: [{ name: 'a', type: 1, class: 1 }],
    answers: [rr(RrType.A, { kind: 'a', value: '1.2.3.4' }, { name: 'b' })],
    additionals: [rr(RrType.TXT, { kind: 'empty' }, { name: 'c' }), rr(RrType.TXT, { kind: 'empty' }, { name: '' })],
  });
  const { offsets } = decodeMessageLayout(encodeMessage(m));
  t.deepEqual(offsets, { questions: [12], answers: [19], authorities: [], additionals: [36, 49] });
});

test('extendedRcode adds the OPT record\'s upper bits (RFC 6891 §6.1.3)', (t) => {
  const opt = (ttl: number): DnsRecord => ({ name: '', type: RrType.OPT, class: 1232, ttl, rdata: { kind: 'empty' } });
  t.is(extendedRcode(message({ header: { ...newHeader(1, 0), rcode: 3 } })), 3);
  t.is(extendedRcode(message({ header: { ...newHeader(1, 0), rcode: 0 }, additionals: [opt(0x01000000)] })), 16);
  const decoded = decodeMessage(encodeMessage(message({ additionals: [opt(0x01008000)] })));
  t.is(decoded.additionals[0].class, 1232, 'the OPT payload size travels in CLASS');
});
