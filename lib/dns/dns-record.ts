import type { ByteReader } from '../wire/byte-reader.ts';
import type { ByteWriter } from '../wire/byte-writer.ts';
import { checkUint } from '../wire/check-uint.ts';
import { nameEncodingLength, readName, writeName } from './dns-name-field.ts';
import { rdataEncodingLength, readRdata, writeRdata, type Rdata } from './rdata.ts';

/**
 * A question (RFC 1035 §4.1.2); in an UPDATE, the zone (RFC 2136 §2.3).
 * Names are absolute, in the text form of lib/wire/dns-name.ts, without
 * the trailing dot. Types and classes are plain numbers (see dns-codes.ts),
 * so values this code has no name for pass through unchanged.
 */
export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/**
 * A resource record (RFC 1035 §4.1.3); in an UPDATE, a prerequisite or an
 * update (RFC 2136 §2.4, §2.5), where the class and an empty RDATA carry
 * meaning of their own.
 */
export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  /** Seconds, unsigned 32-bit (RFC 2181 §8). */
  ttl: number;
  rdata: Rdata;
}

export const dnsQuestion = {
  encodingLength: (q: DnsQuestion): number => nameEncodingLength(q.name, 'question.name') + 4,
  write(w: ByteWriter, q: DnsQuestion): void {
    writeName(w, q.name, 'question.name');
    w.u16(checkUint('question.type', q.type, 0xffff));
    w.u16(checkUint('question.class', q.class, 0xffff));
  },
  /** `r.buf` is the whole message, the scope of compression pointers. */
  read(r: ByteReader): DnsQuestion {
    const name = readName(r, 'question.name');
    return { name, type: r.u16('question.type'), class: r.u16('question.class') };
  },
};

export const dnsRecord = {
  encodingLength: (rr: DnsRecord): number =>
    nameEncodingLength(rr.name, 'record.name') + 10 + rdataEncodingLength(rr.type, rr.rdata, 'record.rdata'),
  write(w: ByteWriter, rr: DnsRecord): void {
    writeName(w, rr.name, 'record.name');
    w.u16(checkUint('record.type', rr.type, 0xffff));
    w.u16(checkUint('record.class', rr.class, 0xffff));
    w.u32(checkUint('record.ttl', rr.ttl, 0xffffffff));
    const length = rdataEncodingLength(rr.type, rr.rdata, 'record.rdata');
    w.u16(checkUint('record.rdlength', length, 0xffff));
    writeRdata(w, rr.type, rr.rdata, 'record.rdata');
  },
  /** `r.buf` is the whole message, the scope of compression pointers. */
  read(r: ByteReader): DnsRecord {
    const name = readName(r, 'record.name');
    const type = r.u16('record.type');
    const cls = r.u16('record.class');
    const ttl = r.u32('record.ttl');
    const length = r.u16('record.rdlength');
    return { name, type, class: cls, ttl, rdata: readRdata(r, type, length, 'record.rdata') };
  },
};
