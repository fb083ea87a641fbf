import { EncodeError } from './encode-error.ts';

const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * Parses a dotted quad into a uint32, or returns -1. Hand-rolled because it
 * sits on the per-packet path (no regex, no split). Leading zeros are
 * refused: "010" is octal to inet_aton and decimal to others, so a config
 * that contains one is ambiguous.
 */
function parse(s: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= ZERO && c <= NINE) {
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - ZERO);
      if (octet > 255) return -1;
      digits++;
    } else if (c === DOT) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

/** The limited broadcast (RFC 1122 §3.2.1.3 (c)): every host on the local link, never forwarded. */
export const LIMITED_BROADCAST = '255.255.255.255';

export function isIpv4(s: string): boolean {
  return parse(s) >= 0;
}

/** Dotted quad to uint32; throws EncodeError for anything else. */
export function ipToInt(s: string): number {
  const n = parse(s);
  if (n < 0) throw new EncodeError('ipv4', `${JSON.stringify(s)} is not a dotted-quad IPv4 address`);
  return n;
}

export function intToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

export function ipv4ToBuffer(s: string): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf.writeUInt32BE(ipToInt(s), 0);
  return buf;
}

/** The caller guarantees four bytes at `off` (ByteReader checks bounds). */
export function bufferToIpv4(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}
