import { DecodeError } from '../wire/decode-error.ts';
import { EncodeError } from '../wire/encode-error.ts';
import { className, Opcode, RrClass, typeName } from './dns-codes.ts';
import { newHeader } from './dns-header.ts';
import { decodeMessageLayout, encodeMessage, extendedRcode, type DnsMessage } from './dns-message.ts';
import { sameName } from './dns-name-field.ts';
import type { DnsQuestion } from './dns-record.ts';
import { DnsRcodeError } from './dns-rcode-error.ts';
import { DEFAULT_FUDGE, signMessage, verifyMessage, type TsigKey } from './tsig.ts';

/**
 * The transport-independent half of one DNS exchange: the request as it
 * goes on the wire, and the judgement of each datagram or TCP message that
 * comes back. The sockets are in dns-client.ts.
 */

const MAX_MESSAGE = 0xffff;

export interface PreparedRequest {
  /** The request without its TSIG record. */
  message: DnsMessage;
  /** The bytes to send: signed when a key is given. */
  bytes: Buffer;
  key?: TsigKey;
  /** The request's MAC, which the answer's MAC covers (RFC 8945 §4.3.1). */
  mac?: Buffer;
  /** For error messages: "UPDATE leasehold.test", "QUERY x.leasehold.test A". */
  description: string;
}

/** A query for one name and type, class IN (RFC 1035 §4.1.2); recursion not desired. */
export function queryMessage(id: number, name: string, type: number): DnsMessage {
  return {
    header: newHeader(id, Opcode.QUERY),
    questions: [{ name, type, class: RrClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

function describe(message: DnsMessage): string {
  const op = message.header.opcode === Opcode.UPDATE ? 'UPDATE' : message.header.opcode === Opcode.QUERY ? 'QUERY' : `OPCODE ${message.header.opcode}`;
  const q = message.questions[0];
  if (!q) return op;
  // The zone section's type is always SOA (RFC 2136 §2.3): the zone name says it all.
  if (message.header.opcode === Opcode.UPDATE) return `${op} ${q.name}`;
  return `${op} ${q.name} ${q.class === RrClass.IN ? '' : `${className(q.class)} `}${typeName(q.type)}`;
}

/** Encodes and, with a key, signs `message` at `now` (seconds since the epoch). */
export function prepareRequest(message: DnsMessage, key: TsigKey | undefined, now: number, fudge = DEFAULT_FUDGE): PreparedRequest {
  const unsigned = encodeMessage(message);
  const description = describe(message);
  const signed = key ? signMessage(unsigned, key, { time: now, fudge }) : undefined;
  const bytes = signed?.bytes ?? unsigned;
  // RFC 1035 §4.2.2: over TCP the length goes in two bytes.
  if (bytes.length > MAX_MESSAGE) throw new EncodeError('message', `${description} takes ${bytes.length} bytes, more than ${MAX_MESSAGE}`);
  return { message, bytes, key, mac: signed?.mac, description };
}

/**
 * What a received message is to the request:
 * - `foreign`: not an answer to it (another ID, question or opcode, or not
 *   a DNS message at all). Over UDP it is dropped and the wait goes on, so
 *   a stray or forged datagram cannot end the exchange (RFC 5452 §9.1);
 * - `truncated`: the answer did not fit in UDP; ask again over TCP
 *   (RFC 1035 §4.2.1, RFC 7766 §5);
 * - `answer`: a complete answer with RCODE NOERROR.
 */
export type ResponseVerdict =
  | { kind: 'foreign'; reason: string }
  | { kind: 'truncated' }
  | { kind: 'answer'; message: DnsMessage };

function sameQuestions(a: readonly DnsQuestion[], b: readonly DnsQuestion[]): boolean {
  return a.length === b.length && a.every((q, i) => q.type === b[i].type && q.class === b[i].class && sameName(q.name, b[i].name, 'question.name'));
}

/**
 * Judges one received message (`now` in seconds since the epoch). Throws
 * TsigError when a signed request's answer fails verification (RFC 8945
 * §5.4), and DnsRcodeError for a verified answer with a non-zero RCODE.
 */
export function judgeResponse(req: PreparedRequest, bytes: Buffer, now: number): ResponseVerdict {
  let layout;
  try {
    layout = decodeMessageLayout(bytes);
  } catch (err) {
    if (err instanceof DecodeError) return { kind: 'foreign', reason: `undecodable: ${err.message}` };
    throw err;
  }
  const { header, questions } = layout.message;
  const sent = req.message;
  if (!header.qr || header.id !== sent.header.id || header.opcode !== sent.header.opcode) {
    return { kind: 'foreign', reason: `ID ${header.id}, QR ${header.qr}, opcode ${header.opcode} do not answer ID ${sent.header.id}` };
  }
  // An answer repeats the question (RFC 1035 §7.3) or the zone (RFC 2136
  // §3.8); a server that could not parse the request may return none.
  const echoed = sameQuestions(questions, sent.questions) || (questions.length === 0 && header.rcode !== 0);
  if (!echoed) return { kind: 'foreign', reason: 'the question section differs from the request\'s' };
  if (header.tc) return { kind: 'truncated' };
  if (req.key) verifyMessage(bytes, layout, req.key, { now, requestMac: req.mac });
  const rcode = extendedRcode(layout.message);
  if (rcode !== 0) throw new DnsRcodeError(rcode, req.description);
  return { kind: 'answer', message: layout.message };
}
