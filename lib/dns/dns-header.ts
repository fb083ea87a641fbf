import type { ByteReader } from '../wire/byte-reader.ts';
import type { ByteWriter } from '../wire/byte-writer.ts';
import { checkUint } from '../wire/check-uint.ts';

/**
 * The fixed 12-byte header (RFC 1035 §4.1.1), without the four counts,
 * which the message derives from its sections. Every flag bit has a field
 * so that a decoded header re-encodes bit for bit: Z is reserved (RFC 1035),
 * AD and CD come from DNSSEC (RFC 4035 §3.2) and are zero in an UPDATE,
 * where RFC 2136 §2.2 calls everything but QR, Opcode and RCODE "Z".
 */
export interface DnsHeader {
  id: number;
  /** Response (true) or query (false). */
  qr: boolean;
  /** 4 bits: `Opcode`. */
  opcode: number;
  aa: boolean;
  /** Truncated: the answer did not fit (over UDP, retry over TCP, RFC 1035 §4.2.1). */
  tc: boolean;
  rd: boolean;
  ra: boolean;
  z: boolean;
  ad: boolean;
  cd: boolean;
  /**
   * 4 bits: `Rcode`. The lower bits only when the message has an OPT record
   * (RFC 6891 §6.1.3); see `extendedRcode` in dns-message.ts.
   */
  rcode: number;
}

export interface DnsSectionCounts {
  questions: number;
  answers: number;
  authorities: number;
  additionals: number;
}

export const HEADER_LENGTH = 12;
/** Where the ID and ARCOUNT sit, for TSIG, which edits them in signed bytes (RFC 8945 §4.3.2). */
export const ID_OFFSET = 0;
export const ARCOUNT_OFFSET = 10;

const QR = 0x8000;
const OPCODE_SHIFT = 11;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const Z = 0x0040;
const AD = 0x0020;
const CD = 0x0010;

/** A header with every flag clear, for building requests. */
export function newHeader(id: number, opcode: number): DnsHeader {
  return { id, qr: false, opcode, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0 };
}

export const dnsHeader = {
  encodingLength: (): number => HEADER_LENGTH,
  write(w: ByteWriter, h: DnsHeader, counts: DnsSectionCounts): void {
    w.u16(checkUint('header.id', h.id, 0xffff));
    const flags =
      (h.qr ? QR : 0) |
      (checkUint('header.opcode', h.opcode, 15) << OPCODE_SHIFT) |
      (h.aa ? AA : 0) |
      (h.tc ? TC : 0) |
      (h.rd ? RD : 0) |
      (h.ra ? RA : 0) |
      (h.z ? Z : 0) |
      (h.ad ? AD : 0) |
      (h.cd ? CD : 0) |
      checkUint('header.rcode', h.rcode, 15);
    w.u16(flags);
    w.u16(checkUint('header.qdcount', counts.questions, 0xffff));
    w.u16(checkUint('header.ancount', counts.answers, 0xffff));
    w.u16(checkUint('header.nscount', counts.authorities, 0xffff));
    w.u16(checkUint('header.arcount', counts.additionals, 0xffff));
  },
  read(r: ByteReader): { header: DnsHeader; counts: DnsSectionCounts } {
    const id = r.u16('header.id');
    const flags = r.u16('header.flags');
    const header: DnsHeader = {
      id,
      qr: (flags & QR) !== 0,
      opcode: (flags >> OPCODE_SHIFT) & 15,
      aa: (flags & AA) !== 0,
      tc: (flags & TC) !== 0,
      rd: (flags & RD) !== 0,
      ra: (flags & RA) !== 0,
      z: (flags & Z) !== 0,
      ad: (flags & AD) !== 0,
      cd: (flags & CD) !== 0,
      rcode: flags & 15,
    };
    const counts = {
      questions: r.u16('header.qdcount'),
      answers: r.u16('header.ancount'),
      authorities: r.u16('header.nscount'),
      additionals: r.u16('header.arcount'),
    };
    return { header, counts };
  },
};
