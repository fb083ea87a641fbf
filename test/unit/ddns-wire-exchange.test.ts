import test from 'ava';
import { Opcode, RrClass, RrType, TsigErrorCode } from '../../lib/dns/dns-codes.ts';
import { prepareRequest, queryMessage, judgeResponse, type PreparedRequest } from '../../lib/dns/dns-exchange.ts';
import { DnsRcodeError } from '../../lib/dns/dns-rcode-error.ts';
import { encodeMessage, type DnsMessage } from '../../lib/dns/dns-message.ts';
import type { DnsRecord } from '../../lib/dns/dns-record.ts';
import { TsigError } from '../../lib/dns/tsig-error.ts';
import { signMessage, type TsigKey } from '../../lib/dns/tsig.ts';
import { updateMessage } from '../../lib/dns/update-message.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';

const NOW = 1_800_000_000;
const key: TsigKey = { name: 'leasehold-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 5) };
const update = updateMessage(0x0101, {
  zone: 'leasehold.test',
  prerequisites: [{ kind: 'name-not-in-use', name: 'web1.leasehold.test' }],
  updates: [{ kind: 'add', name: 'web1.leasehold.test', ttl: 300, record: { type: 'A', data: '198.18.1.5' } }],
});

/** The server's side: an answer to `req` built from its message, optionally signed with the request MAC. */
function reply(req: PreparedRequest, change: (m: DnsMessage) => DnsMessage = (m) => m, sign?: { key: TsigKey; time?: number; error?: number }): Buffer {
  const base: DnsMessage = { ...req.message, header: { ...req.message.header, qr: true }, answers: [], authorities: [], additionals: [] };
  const bytes = encodeMessage(change(base));
  if (!sign) return bytes;
  return signMessage(bytes, sign.key, { time: sign.time ?? NOW, requestMac: req.mac, error: sign.error }).bytes;
}

const A: DnsRecord = { name: 'web1.leasehold.test', type: RrType.A, class: RrClass.IN, ttl: 60, rdata: { kind: 'a', value: '198.18.1.5' } };

test('prepareRequest signs when given a key and describes the request', (t) => {
  const plain = prepareRequest(update, undefined, NOW);
  t.deepEqual(plain.bytes, encodeMessage(update));
  t.is(plain.mac, undefined);
  t.is(plain.description, 'UPDATE leasehold.test');
  const signed = prepareRequest(update, key, NOW);
  t.is(signed.bytes.readUInt16BE(10), 1, 'ARCOUNT counts the TSIG record');
  t.is(signed.mac?.length, 32);
  t.is(prepareRequest(queryMessage(1, 'web1.leasehold.test', RrType.AAAA), undefined, NOW).description, 'QUERY web1.leasehold.test AAAA');
});

test('prepareRequest refuses a message over 65535 bytes (the TCP length field, RFC 1035 §4.2.2)', (t) => {
  const huge: DnsMessage = { ...queryMessage(1, 'x', 1), additionals: Array.from({ length: 300 }, () => ({ ...A, type: 16, rdata: { kind: 'raw', value: Buffer.alloc(255) } } as DnsRecord)) };
  t.throws(() => prepareRequest(huge, undefined, NOW), { instanceOf: EncodeError, message: /more than 65535/ });
});

test('an unsigned answer to an unsigned request', (t) => {
  const req = prepareRequest(queryMessage(7, 'web1.leasehold.test', RrType.A), undefined, NOW);
  const verdict = judgeResponse(req, reply(req, (m) => ({ ...m, answers: [A] })), NOW);
  t.is(verdict.kind, 'answer');
  t.deepEqual(verdict.kind === 'answer' && verdict.message.answers, [A]);
});

test('what does not answer this request is foreign: garbage, a query, another ID, opcode or question', (t) => {
  const req = prepareRequest(update, key, NOW);
  const foreign: Array<[string, Buffer]> = [
    ['garbage', Buffer.from('not dns')],
    ['our own request echoed', req.bytes],
    ['another ID', reply(req, (m) => ({ ...m, header: { ...m.header, id: 0x0102 } }))],
    ['another opcode', reply(req, (m) => ({ ...m, header: { ...m.header, opcode: Opcode.QUERY } }))],
    ['another zone', reply(req, (m) => ({ ...m, questions: [{ name: 'other.test', type: RrType.SOA, class: RrClass.IN }] }))],
    ['no zone with NOERROR', reply(req, (m) => ({ ...m, questions: [] }))],
  ];
  for (const [what, bytes] of foreign) t.is(judgeResponse(req, bytes, NOW).kind, 'foreign', what);
  // Names compare without regard to ASCII case (RFC 4343).
  const upper = reply(req, (m) => ({ ...m, questions: [{ name: 'LeaseHold.TEST', type: RrType.SOA, class: RrClass.IN }] }), { key });
  t.is(judgeResponse(req, upper, NOW).kind, 'answer');
});

test('a truncated answer asks for TCP before any TSIG check', (t) => {
  const req = prepareRequest(queryMessage(9, 'big.leasehold.test', RrType.TXT), key, NOW);
  t.deepEqual(judgeResponse(req, reply(req, (m) => ({ ...m, header: { ...m.header, tc: true } })), NOW), { kind: 'truncated' });
});

test('a verified answer with an RCODE becomes a DnsRcodeError with that code', (t) => {
  const req = prepareRequest(update, key, NOW);
  const cases: Array<[number, string]> = [
    [1, 'E_DNS_FORMERR'], [2, 'E_DNS_SERVFAIL'], [3, 'E_DNS_NXDOMAIN'], [4, 'E_DNS_NOTIMP'], [5, 'E_DNS_REFUSED'],
    [6, 'E_DNS_YXDOMAIN'], [7, 'E_DNS_YXRRSET'], [8, 'E_DNS_NXRRSET'], [9, 'E_DNS_NOTAUTH'], [10, 'E_DNS_NOTZONE'], [11, 'E_DNS_RCODE_11'],
  ];
  for (const [rcode, code] of cases) {
    const answer = reply(req, (m) => ({ ...m, header: { ...m.header, rcode } }), { key });
    const err = t.throws(() => judgeResponse(req, answer, NOW), { instanceOf: DnsRcodeError }, code);
    t.like(err, { code, rcode }, code);
    t.true(err?.message.startsWith('UPDATE leasehold.test: '), code);
  }
  const yx = t.throws(() => judgeResponse(req, reply(req, (m) => ({ ...m, header: { ...m.header, rcode: 6 } }), { key }), NOW));
  t.is((yx as DnsRcodeError).rcodeName, 'YXDOMAIN');
  // A server that could not parse the request may leave the zone out.
  const formerr = reply(req, (m) => ({ ...m, questions: [], header: { ...m.header, rcode: 1 } }), { key });
  t.throws(() => judgeResponse(req, formerr, NOW), { instanceOf: DnsRcodeError, code: 'E_DNS_FORMERR' });
});

test('the RCODE is judged only after the signature: a forged YXDOMAIN is a TSIG error', (t) => {
  const req = prepareRequest(update, key, NOW);
  const unsigned = reply(req, (m) => ({ ...m, header: { ...m.header, rcode: 6 } }));
  t.throws(() => judgeResponse(req, unsigned, NOW), { instanceOf: TsigError, code: 'E_TSIG_UNSIGNED' });
  const otherKey = reply(req, (m) => ({ ...m, header: { ...m.header, rcode: 6 } }), { key: { ...key, secret: Buffer.alloc(32, 6) } });
  t.throws(() => judgeResponse(req, otherKey, NOW), { instanceOf: TsigError, code: 'E_TSIG_BADSIG' });
  const stale = reply(req, (m) => m, { key, time: NOW - 301 });
  t.throws(() => judgeResponse(req, stale, NOW), { instanceOf: TsigError, code: 'E_TSIG_BADTIME' });
});

test('the server\'s TSIG errors come through as such (NOTAUTH + BADKEY, unsigned)', (t) => {
  const req = prepareRequest(update, key, NOW);
  // RFC 8945 §5.3.2: BADKEY and BADSIG answers carry an empty MAC.
  const tsig: DnsRecord = {
    name: key.name, type: RrType.TSIG, class: RrClass.ANY, ttl: 0,
    rdata: { kind: 'tsig', value: { algorithm: key.algorithm, timeSigned: NOW, fudge: 300, mac: Buffer.alloc(0), originalId: 0x0101, error: TsigErrorCode.BADKEY, otherData: Buffer.alloc(0) } },
  };
  const badkey = encodeMessage({ ...req.message, header: { ...req.message.header, qr: true, rcode: 9 }, additionals: [tsig] });
  const err = t.throws(() => judgeResponse(req, badkey, NOW), { instanceOf: TsigError });
  t.like(err, { code: 'E_TSIG_BADKEY', reportedBy: 'server' });
});

test('an unsigned request takes unsigned answers', (t) => {
  const req = prepareRequest(update, undefined, NOW);
  t.is(judgeResponse(req, reply(req), NOW).kind, 'answer');
  t.throws(() => judgeResponse(req, reply(req, (m) => ({ ...m, header: { ...m.header, rcode: 8 } })), NOW), { instanceOf: DnsRcodeError, code: 'E_DNS_NXRRSET' });
});

test('an OPT record\'s extended RCODE is part of the RCODE (RFC 6891 §6.1.3)', (t) => {
  const req = prepareRequest(queryMessage(3, 'x.leasehold.test', RrType.A), undefined, NOW);
  const opt: DnsRecord = { name: '', type: RrType.OPT, class: 1232, ttl: 0x01000000, rdata: { kind: 'empty' } };
  const answer = reply(req, (m) => ({ ...m, additionals: [opt] }));
  t.throws(() => judgeResponse(req, answer, NOW), { instanceOf: DnsRcodeError, code: 'E_DNS_RCODE_16' });
});
