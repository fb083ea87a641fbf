import { readFileSync } from 'node:fs';
import test from 'ava';
import { Opcode, RrClass, RrType, TsigErrorCode } from '../../lib/dns/dns-codes.ts';
import { newHeader } from '../../lib/dns/dns-header.ts';
import { decodeMessage, decodeMessageLayout, encodeMessage, type DnsMessage } from '../../lib/dns/dns-message.ts';
import { TsigError } from '../../lib/dns/tsig-error.ts';
import { signMessage, verifyMessage, type TsigAlgorithm, type TsigKey } from '../../lib/dns/tsig.ts';
import { encodeUpdate } from '../../lib/dns/update-message.ts';

interface Vector {
  description: string;
  key: { name: string; algorithm: TsigAlgorithm; secret: string };
  request: string;
  response: string;
}

const { vectors } = JSON.parse(readFileSync(new URL('../fixtures/ddns/tsig-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const keyOf = (v: Vector): TsigKey => ({ ...v.key, secret: Buffer.from(v.key.secret, 'base64') });
const verify = (bytes: Buffer, key: TsigKey, now: number, requestMac?: Buffer) =>
  verifyMessage(bytes, decodeMessageLayout(bytes), key, { now, requestMac });
const tsigOf = (bytes: Buffer) => {
  const rdata = decodeMessage(bytes).additionals.at(-1)?.rdata;
  if (rdata?.kind !== 'tsig') throw new Error('no TSIG record');
  return rdata.value;
};
/** The message as it was before signing: the TSIG record cut off, ARCOUNT one less. */
function unsign(bytes: Buffer): Buffer {
  const { message, offsets } = decodeMessageLayout(bytes);
  const out = Buffer.from(bytes.subarray(0, offsets.additionals.at(-1)));
  out.writeUInt16BE(message.additionals.length - 1, 10);
  return out;
}

const signedVectors = vectors.filter((v) => !v.description.startsWith('wrong secret'));

test('the vectors are there: one per algorithm, and a BADSIG answer', (t) => {
  t.deepEqual(signedVectors.map((v) => v.key.algorithm).sort(), ['hmac-sha1', 'hmac-sha256', 'hmac-sha512']);
  t.is(vectors.length, 4);
});

for (const v of signedVectors) {
  test(`BIND vector (${v.description}): we verify nsupdate's request and named's answer`, (t) => {
    const key = keyOf(v);
    const request = Buffer.from(v.request, 'hex');
    const response = Buffer.from(v.response, 'hex');
    const signedAt = tsigOf(request).timeSigned;
    const requestTsig = verify(request, key, signedAt);
    const responseTsig = verify(response, key, signedAt, requestTsig.mac);
    t.is(responseTsig.error, 0);
    t.is(decodeMessage(response).header.rcode, 0);
  });

  test(`BIND vector (${v.description}): we compute nsupdate's MAC, and its bytes for the same key name`, (t) => {
    const key = keyOf(v);
    const request = Buffer.from(v.request, 'hex');
    const { timeSigned, fudge, mac } = tsigOf(request);
    const ours = signMessage(unsign(request), key, { time: timeSigned, fudge });
    t.is(ours.mac.toString('hex'), mac.toString('hex'));
    // nsupdate writes the key name in lower case; ours keeps the configured
    // spelling, which the MAC does not see (RFC 8945 §4.3.3, canonical form).
    const asSent = signMessage(unsign(request), { ...key, name: key.name.toLowerCase() }, { time: timeSigned, fudge });
    t.is(asSent.bytes.toString('hex'), v.request);
  });

  test(`BIND vector (${v.description}): we compute named's answer MAC from the request MAC`, (t) => {
    const key = keyOf(v);
    const requestMac = tsigOf(Buffer.from(v.request, 'hex')).mac;
    const response = Buffer.from(v.response, 'hex');
    const { timeSigned, fudge, mac } = tsigOf(response);
    const ours = signMessage(unsign(response), { ...key, name: key.name.toLowerCase() }, { time: timeSigned, fudge, requestMac });
    t.is(ours.mac.toString('hex'), mac.toString('hex'));
    t.is(ours.bytes.toString('hex'), v.response);
  });
}

test('BIND vector (wrong secret): named\'s unsigned NOTAUTH answer reports BADSIG from the server', (t) => {
  const v = vectors.find((x) => x.description.startsWith('wrong secret'));
  if (!v) return t.fail('vector missing');
  const response = Buffer.from(v.response, 'hex');
  t.is(decodeMessage(response).header.rcode, 9, 'NOTAUTH');
  t.is(tsigOf(response).mac.length, 0, 'unsigned (RFC 8945 §5.3.2)');
  const requestMac = tsigOf(Buffer.from(v.request, 'hex')).mac;
  const err = t.throws(() => verify(response, keyOf(v), tsigOf(response).timeSigned, requestMac), { instanceOf: TsigError });
  t.like(err, { code: 'E_TSIG_BADSIG', problem: 'BADSIG', reportedBy: 'server', authenticated: false });
});

// ---- our own signer against our own verifier ---------------------------------

const NOW = 1_800_000_000;
const request = encodeUpdate(0x4242, {
  zone: 'leasehold.test',
  prerequisites: [{ kind: 'name-not-in-use', name: 'web1.leasehold.test' }],
  updates: [{ kind: 'add', name: 'web1.leasehold.test', ttl: 300, record: { type: 'A', data: '198.18.1.5' } }],
});
const keys: TsigKey[] = (['hmac-sha1', 'hmac-sha256', 'hmac-sha512'] as const).map((algorithm, i) => ({
  name: `key-${i}.leasehold.test`, algorithm, secret: Buffer.alloc(32, i + 1),
}));
const MAC_LENGTH: Record<TsigAlgorithm, number> = { 'hmac-sha1': 20, 'hmac-sha256': 32, 'hmac-sha512': 64 };

/** An answer to `request` (QR set, no sections beyond the zone), as a server would sign it. */
function answer(signedRequest: { mac: Buffer }, key: TsigKey, opts: { rcode?: number; time?: number; error?: number; otherData?: Buffer } = {}): Buffer {
  const msg: DnsMessage = {
    header: { ...newHeader(0x4242, Opcode.UPDATE), qr: true, rcode: opts.rcode ?? 0 },
    questions: [{ name: 'leasehold.test', type: RrType.SOA, class: RrClass.IN }],
    answers: [], authorities: [], additionals: [],
  };
  return signMessage(encodeMessage(msg), key, { time: opts.time ?? NOW, requestMac: signedRequest.mac, error: opts.error, otherData: opts.otherData }).bytes;
}

for (const key of keys) {
  test(`${key.algorithm}: the TSIG record is appended last with ARCOUNT + 1 and verifies`, (t) => {
    const signed = signMessage(request, key, { time: NOW });
    t.is(signed.mac.length, MAC_LENGTH[key.algorithm]);
    const expectedStart = Buffer.from(request);
    expectedStart.writeUInt16BE(1, 10); // ARCOUNT
    t.deepEqual(signed.bytes.subarray(0, request.length), expectedStart);
    const decoded = decodeMessage(signed.bytes);
    const tsig = decoded.additionals[0];
    t.like(tsig, { name: key.name, type: RrType.TSIG, class: RrClass.ANY, ttl: 0 });
    t.like(tsigOf(signed.bytes), { algorithm: key.algorithm, timeSigned: NOW, fudge: 300, originalId: 0x4242, error: 0 });
    t.is(verify(signed.bytes, key, NOW).mac.toString('hex'), signed.mac.toString('hex'));
    t.is(verify(answer(signed, key), key, NOW, signed.mac).error, 0);
  });
}

test('signing leaves the input alone', (t) => {
  const copy = Buffer.from(request);
  signMessage(request, keys[1], { time: NOW });
  t.deepEqual(request, copy);
});

test('tampering with any byte of a signed message breaks it', (t) => {
  const key = keys[1];
  const signed = signMessage(request, key, { time: NOW }).bytes;
  const macStart = signed.length - 6 - MAC_LENGTH[key.algorithm];
  // Bytes 0–1, the header ID, are left out: see the next test.
  for (let i = 2; i < signed.length; i++) {
    const bad = Buffer.from(signed);
    bad[i] ^= 0x01;
    let outcome: string;
    try {
      verify(bad, key, NOW);
      outcome = 'verified';
    } catch (err) {
      outcome = err instanceof TsigError ? err.problem : (err as Error).name;
    }
    // Whatever the byte, never verified; within the signed message and the MAC, BADSIG
    // (or a message that no longer decodes).
    t.not(outcome, 'verified', `byte ${i}`);
    if (i >= 12 && i < request.length) t.true(['BADSIG', 'DecodeError', 'BADKEY', 'UNSIGNED', 'FORMERR'].includes(outcome), `byte ${i}: ${outcome}`);
    if (i >= macStart && i < macStart + MAC_LENGTH[key.algorithm]) t.is(outcome, 'BADSIG', `MAC byte ${i}`);
  }
});

test('the header ID may change in transit: the original ID is what is signed (RFC 8945 §4.3.2)', (t) => {
  const signed = Buffer.from(signMessage(request, keys[1], { time: NOW }).bytes);
  signed.writeUInt16BE(0x9999, 0);
  t.notThrows(() => verify(signed, keys[1], NOW));
  const forged = Buffer.from(signed);
  forged.writeUInt16BE(0x4243, forged.length - 6); // the original ID in the TSIG record
  t.throws(() => verify(forged, keys[1], NOW), { instanceOf: TsigError, code: 'E_TSIG_BADSIG' });
});

test('an answer verifies only with the request MAC it answers (RFC 8945 §4.3.1)', (t) => {
  const key = keys[1];
  const signed = signMessage(request, key, { time: NOW });
  const other = signMessage(request, key, { time: NOW + 1 });
  const reply = answer(signed, key);
  t.throws(() => verify(reply, key, NOW), { instanceOf: TsigError, code: 'E_TSIG_BADSIG' });
  t.throws(() => verify(reply, key, NOW, other.mac), { instanceOf: TsigError, code: 'E_TSIG_BADSIG' });
  t.notThrows(() => verify(reply, key, NOW, signed.mac));
});

test('wrong secret → BADSIG, wrong name or algorithm → BADKEY; key names compare case-insensitively', (t) => {
  const key = keys[1];
  const signed = signMessage(request, key, { time: NOW }).bytes;
  t.throws(() => verify(signed, { ...key, secret: Buffer.alloc(32, 9) }, NOW), { instanceOf: TsigError, code: 'E_TSIG_BADSIG' });
  t.throws(() => verify(signed, { ...key, name: 'other-key' }, NOW), { instanceOf: TsigError, code: 'E_TSIG_BADKEY' });
  t.throws(() => verify(signed, { ...key, algorithm: 'hmac-sha512' }, NOW), { instanceOf: TsigError, code: 'E_TSIG_BADKEY' });
  t.notThrows(() => verify(signed, { ...key, name: key.name.toUpperCase() }, NOW));
});

test('time: within the fudge passes, outside is BADTIME found by us', (t) => {
  const key = keys[1];
  const signed = signMessage(request, key, { time: NOW, fudge: 10 }).bytes;
  t.notThrows(() => verify(signed, key, NOW + 10));
  t.notThrows(() => verify(signed, key, NOW - 10));
  const late = t.throws(() => verify(signed, key, NOW + 11), { instanceOf: TsigError });
  t.like(late, { code: 'E_TSIG_BADTIME', reportedBy: 'client', authenticated: false });
  t.throws(() => verify(signed, key, NOW - 11), { instanceOf: TsigError, code: 'E_TSIG_BADTIME' });
});

test('a server\'s signed BADTIME answer reports its clock (RFC 8945 §5.2.3)', (t) => {
  const key = keys[1];
  const signed = signMessage(request, key, { time: NOW });
  const serverTime = NOW + 3600;
  const other = Buffer.alloc(6);
  other.writeUInt16BE(Math.floor(serverTime / 2 ** 32), 0);
  other.writeUInt32BE(serverTime % 2 ** 32, 2);
  const reply = answer(signed, key, { rcode: 9, error: TsigErrorCode.BADTIME, otherData: other });
  const err = t.throws(() => verify(reply, key, NOW, signed.mac), { instanceOf: TsigError });
  t.like(err, { code: 'E_TSIG_BADTIME', reportedBy: 'server', serverTime, authenticated: true });
  // The same answer with a forged MAC is our BADSIG, not the server's BADTIME.
  const forged = Buffer.from(reply);
  forged[forged.length - 12] ^= 1;
  t.throws(() => verify(forged, key, NOW, signed.mac), { instanceOf: TsigError, code: 'E_TSIG_BADSIG' });
});

test('unsigned, doubly signed and misplaced TSIG records', (t) => {
  const key = keys[1];
  t.throws(() => verify(request, key, NOW), { instanceOf: TsigError, code: 'E_TSIG_UNSIGNED' });
  const once = signMessage(request, key, { time: NOW }).bytes;
  const twice = signMessage(once, key, { time: NOW }).bytes;
  t.throws(() => verify(twice, key, NOW), { instanceOf: TsigError, code: 'E_TSIG_FORMERR' });
  // A TSIG record followed by another additional record.
  const msg = decodeMessage(once);
  const misplaced = encodeMessage({ ...msg, additionals: [...msg.additionals, { name: '', type: RrType.TXT, class: 1, ttl: 0, rdata: { kind: 'empty' } }] });
  t.throws(() => verify(misplaced, key, NOW), { instanceOf: TsigError, code: 'E_TSIG_FORMERR' });
});

test('a 48-bit time survives signing', (t) => {
  const time = 2 ** 40 + 12345;
  const signed = signMessage(request, keys[0], { time });
  t.is(tsigOf(signed.bytes).timeSigned, time);
  t.notThrows(() => verify(signed.bytes, keys[0], time));
});
