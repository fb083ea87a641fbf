import { ByteReader } from '../wire/byte-reader.ts';
import { ByteWriter } from '../wire/byte-writer.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { RrType } from './dns-codes.ts';
import { dnsHeader, HEADER_LENGTH, type DnsHeader } from './dns-header.ts';
import { dnsQuestion, dnsRecord, type DnsQuestion, type DnsRecord } from './dns-record.ts';

/**
 * A DNS message (RFC 1035 §4.1). In an UPDATE (RFC 2136 §2) the sections
 * are renamed but keep their places: Zone = `questions`, Prerequisite =
 * `answers`, Update = `authorities`, Additional = `additionals`.
 */
export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** Where each question and record of a decoded message starts, section by section. */
export interface MessageOffsets {
  questions: number[];
  answers: number[];
  authorities: number[];
  additionals: number[];
}

/**
 * A decoded message with the offsets of its parts: TSIG strips the last
 * record from the signed bytes (RFC 8945 §4.3.2), and errors about a
 * record's meaning can say where it was.
 */
export interface DecodedLayout {
  message: DnsMessage;
  offsets: MessageOffsets;
}

const recordsLength = (records: readonly DnsRecord[]) => records.reduce((n, rr) => n + dnsRecord.encodingLength(rr), 0);

export function messageEncodingLength(msg: DnsMessage): number {
  return (
    HEADER_LENGTH +
    msg.questions.reduce((n, q) => n + dnsQuestion.encodingLength(q), 0) +
    recordsLength(msg.answers) +
    recordsLength(msg.authorities) +
    recordsLength(msg.additionals)
  );
}

/** Throws EncodeError when a field cannot be represented. */
export function encodeMessage(msg: DnsMessage): Buffer {
  const w = new ByteWriter(messageEncodingLength(msg));
  dnsHeader.write(w, msg.header, {
    questions: msg.questions.length,
    answers: msg.answers.length,
    authorities: msg.authorities.length,
    additionals: msg.additionals.length,
  });
  for (const q of msg.questions) dnsQuestion.write(w, q);
  for (const section of [msg.answers, msg.authorities, msg.additionals]) {
    for (const rr of section) dnsRecord.write(w, rr);
  }
  return w.finish();
}

/** `decodeMessage`, with the offset of every question and record. */
export function decodeMessageLayout(buf: Buffer): DecodedLayout {
  const r = new ByteReader(buf);
  const { header, counts } = dnsHeader.read(r);
  const readSection = <T>(count: number, read: (r: ByteReader) => T) => {
    const items: T[] = [];
    const offsets: number[] = [];
    for (let i = 0; i < count; i++) {
      offsets.push(r.offset);
      items.push(read(r));
    }
    return { items, offsets };
  };
  const questions = readSection(counts.questions, dnsQuestion.read);
  const answers = readSection(counts.answers, dnsRecord.read);
  const authorities = readSection(counts.authorities, dnsRecord.read);
  const additionals = readSection(counts.additionals, dnsRecord.read);
  // Trailing bytes would be outside every count and every MAC: not a message we understand.
  if (r.remaining > 0) throw new DecodeError('message', r.offset, `${r.remaining} byte(s) after the last record`);
  return {
    message: {
      header,
      questions: questions.items,
      answers: answers.items,
      authorities: authorities.items,
      additionals: additionals.items,
    },
    offsets: {
      questions: questions.offsets,
      answers: answers.offsets,
      authorities: authorities.offsets,
      additionals: additionals.offsets,
    },
  };
}

/** Throws only DecodeError, whatever the bytes. */
export function decodeMessage(buf: Buffer): DnsMessage {
  return decodeMessageLayout(buf).message;
}

/**
 * The full RCODE: with an OPT record, its TTL's top byte holds the upper
 * eight bits above the header's four (RFC 6891 §6.1.3). TSIG errors are not
 * RCODEs of the message; they sit in the TSIG record (RFC 8945 §5.2).
 */
export function extendedRcode(msg: DnsMessage): number {
  const opt = msg.additionals.find((rr) => rr.type === RrType.OPT);
  return opt ? ((opt.ttl >>> 24) << 4) | msg.header.rcode : msg.header.rcode;
}
