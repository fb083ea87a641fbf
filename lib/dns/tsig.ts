import { createHmac, timingSafeEqual } from 'node:crypto';
import { ByteWriter } from '../wire/byte-writer.ts';
import { EncodeError } from '../wire/encode-error.ts';
import { RrClass, RrType, TsigErrorCode, tsigErrorName } from './dns-codes.ts';
import { ARCOUNT_OFFSET, HEADER_LENGTH, ID_OFFSET } from './dns-header.ts';
import type { DecodedLayout } from './dns-message.ts';
import { canonicalNameBytes, sameName } from './dns-name-field.ts';
import { dnsRecord, type DnsRecord } from './dns-record.ts';
import type { TsigRdata } from './rdata-tsig.ts';
import { writeTime48 } from './rdata-tsig.ts';
import { TsigError } from './tsig-error.ts';

/**
 * Transaction signatures (RFC 8945): HMAC over the message as sent, the
 * request's MAC for an answer, and the TSIG variables. Pure: the caller
 * passes the time, so signing and verifying are reproducible in tests.
 */

export type TsigAlgorithm = 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha512';

/** A shared key, as BIND's `tsig-keygen` writes it (see tsig-key-file.ts). */
export interface TsigKey {
  /** Key name without the trailing dot; the name the server knows it by. */
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/**
 * The node:crypto hash of each algorithm. Algorithm names are the TSIG
 * names of RFC 8945 §6 (the same text as ours, as a domain name); the MD5
 * and GSS algorithms are not offered.
 */
const HASH: Readonly<Record<TsigAlgorithm, string>> = {
  'hmac-sha1': 'sha1',
  'hmac-sha256': 'sha256',
  'hmac-sha512': 'sha512',
};

/** RFC 8945 §10: 300 seconds is the recommended fudge. */
export const DEFAULT_FUDGE = 300;

export function isTsigAlgorithm(name: string): name is TsigAlgorithm {
  return Object.hasOwn(HASH, name);
}

/** TSIG Variables (RFC 8945 §4.3.3), in their order. */
function tsigVariables(keyName: string, t: TsigRdata): Buffer {
  const w = new ByteWriter(64);
  w.bytes(canonicalNameBytes(keyName, 'tsig.name'));
  w.u16(RrClass.ANY).u32(0);
  w.bytes(canonicalNameBytes(t.algorithm, 'tsig.algorithm'));
  writeTime48(w, t.timeSigned);
  w.u16(t.fudge).u16(t.error).u16(t.otherData.length).bytes(t.otherData);
  return w.finish();
}

/**
 * The MAC over the digest components: for an answer, the request's MAC
 * with its length (§4.3.1); then the message without its TSIG record
 * (§4.3.2); then the TSIG variables (§4.3.3).
 */
function computeMac(key: TsigKey, unsigned: Buffer, t: TsigRdata, requestMac: Buffer | undefined): Buffer {
  const hmac = createHmac(HASH[key.algorithm], key.secret);
  if (requestMac) {
    const size = Buffer.allocUnsafe(2);
    size.writeUInt16BE(requestMac.length, 0);
    hmac.update(size).update(requestMac);
  }
  return hmac.update(unsigned).update(tsigVariables(key.name, t)).digest();
}

export interface SignOptions {
  /** Seconds since the epoch. */
  time: number;
  fudge?: number;
  /** Signing an answer: the MAC of the request it answers (RFC 8945 §4.3.1). */
  requestMac?: Buffer;
  /** A server's TSIG error and Other Data (RFC 8945 §5.3.2); 0 and empty for a request. */
  error?: number;
  otherData?: Buffer;
}

export interface SignedMessage {
  /** The message with the TSIG record appended and ARCOUNT incremented. */
  bytes: Buffer;
  /** Kept by the requester to verify the answer (RFC 8945 §5.1). */
  mac: Buffer;
}

/**
 * Signs a complete message (RFC 8945 §5.1): computes the MAC and appends the
 * TSIG record as the last additional record. `msg` must hold no TSIG
 * record yet; it is not modified.
 */
export function signMessage(msg: Buffer, key: TsigKey, opts: SignOptions): SignedMessage {
  if (msg.length < HEADER_LENGTH) throw new EncodeError('tsig', `a message is at least ${HEADER_LENGTH} bytes`);
  const arcount = msg.readUInt16BE(ARCOUNT_OFFSET);
  if (arcount === 0xffff) throw new EncodeError('tsig', 'the additional section is full');
  const rdata: TsigRdata = {
    algorithm: key.algorithm,
    timeSigned: opts.time,
    fudge: opts.fudge ?? DEFAULT_FUDGE,
    mac: Buffer.alloc(0),
    originalId: msg.readUInt16BE(ID_OFFSET),
    error: opts.error ?? 0,
    otherData: opts.otherData ?? Buffer.alloc(0),
  };
  rdata.mac = computeMac(key, msg, rdata, opts.requestMac);
  // §4.2: NAME is the key name, CLASS ANY, TTL 0.
  const record: DnsRecord = { name: key.name, type: RrType.TSIG, class: RrClass.ANY, ttl: 0, rdata: { kind: 'tsig', value: rdata } };
  const w = new ByteWriter(msg.length + dnsRecord.encodingLength(record));
  w.bytes(msg);
  dnsRecord.write(w, record);
  const bytes = w.finish();
  bytes.writeUInt16BE(arcount + 1, ARCOUNT_OFFSET);
  return { bytes, mac: rdata.mac };
}

export interface VerifyOptions {
  /** Our clock, seconds since the epoch. */
  now: number;
  /** Verifying an answer: the MAC our request carried. */
  requestMac?: Buffer;
}

/** The TSIG error the server put in its answer; `authenticated` once the MAC has verified. */
function serverError(t: TsigRdata, authenticated: boolean): TsigError {
  const name = tsigErrorName(t.error);
  if (t.error === TsigErrorCode.BADTIME && t.otherData.length === 6) {
    const serverTime = t.otherData.readUInt16BE(0) * 2 ** 32 + t.otherData.readUInt32BE(2);
    return new TsigError('BADTIME', 'server', `our clock differs from the server's (${serverTime}) by more than ${t.fudge} s`, authenticated, serverTime);
  }
  const detail: Record<number, string> = {
    [TsigErrorCode.BADSIG]: 'the server computed a different MAC: wrong secret?',
    [TsigErrorCode.BADKEY]: 'the server does not know this key or algorithm',
    [TsigErrorCode.BADTIME]: 'our clock differs from the server\'s by more than the fudge',
    [TsigErrorCode.BADTRUNC]: 'the server refused the MAC\'s length',
  };
  return new TsigError(name ?? 'ERROR', 'server', detail[t.error] ?? `TSIG error ${t.error}`, authenticated);
}

/**
 * Checks the TSIG record of a received message (RFC 8945 §5.2 for a
 * request, §5.4 for an answer, whose `requestMac` must be given), in the
 * RFC's order: form and placement, key, MAC, then time. Throws TsigError; returns
 * the verified TSIG fields.
 *
 * An answer whose TSIG record carries an error is reported as that error:
 * BADKEY and BADSIG answers are unsigned by design (§5.3.2), so that error
 * comes from an unauthenticated message and callers that can wait for a
 * better answer should (§5.4).
 */
export function verifyMessage(bytes: Buffer, layout: DecodedLayout, key: TsigKey, opts: VerifyOptions): TsigRdata {
  const { message, offsets } = layout;
  const sections = [message.answers, message.authorities, message.additionals];
  const tsigCount = sections.reduce((n, s) => n + s.filter((rr) => rr.type === RrType.TSIG).length, 0);
  const last = message.additionals.at(-1);
  if (tsigCount === 0) throw new TsigError('UNSIGNED', 'client', 'the message has no TSIG record', false);
  if (tsigCount > 1 || last?.type !== RrType.TSIG || last.rdata.kind !== 'tsig') {
    throw new TsigError('FORMERR', 'client', 'the TSIG record must be the only one and the last additional record (RFC 8945 §5.2)', false);
  }
  // §4.2: CLASS ANY and TTL 0, which the MAC takes as given rather than from the record.
  if (last.class !== RrClass.ANY || last.ttl !== 0) {
    throw new TsigError('FORMERR', 'client', `the TSIG record has class ${last.class} and TTL ${last.ttl}, not ANY and 0 (RFC 8945 §4.2)`, false);
  }
  const t = last.rdata.value;
  if (!sameName(last.name, key.name, 'tsig.name') || !sameName(t.algorithm, key.algorithm, 'tsig.algorithm')) {
    throw new TsigError('BADKEY', 'client', `signed with ${t.algorithm} key "${last.name}", expected ${key.algorithm} key "${key.name}"`, false);
  }
  if (t.error === TsigErrorCode.BADSIG || t.error === TsigErrorCode.BADKEY) throw serverError(t, false);

  // §4.3.2: the message as it was before signing: without the TSIG record,
  // ARCOUNT one less, and the ID the signer saw.
  const unsigned = Buffer.from(bytes.subarray(0, offsets.additionals.at(-1)));
  unsigned.writeUInt16BE(message.additionals.length - 1, ARCOUNT_OFFSET);
  unsigned.writeUInt16BE(t.originalId, ID_OFFSET);
  const expected = computeMac(key, unsigned, t, opts.requestMac);
  // Truncated MACs (§5.2.2.1) are never asked for by Leasehold, so only a full-length MAC is accepted.
  if (t.mac.length !== expected.length || !timingSafeEqual(t.mac, expected)) {
    throw new TsigError('BADSIG', 'client', `the MAC does not verify with key "${key.name}"`, false);
  }
  if (t.error !== 0) throw serverError(t, true);
  // §5.2.3 / §5.4.3: time signed within fudge of our clock.
  if (Math.abs(opts.now - t.timeSigned) > t.fudge) {
    throw new TsigError('BADTIME', 'client', `signed at ${t.timeSigned}, our clock says ${opts.now}, fudge ${t.fudge} s`, false);
  }
  return t;
}
