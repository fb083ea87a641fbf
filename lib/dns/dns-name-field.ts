import type { ByteReader } from '../wire/byte-reader.ts';
import { ByteWriter } from '../wire/byte-writer.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { dnsLabelsLength, parseDnsName, readDnsName, writeDnsLabels } from '../wire/dns-name.ts';

/**
 * Owner names in a DNS message: always absolute. They are written without
 * compression, which RFC 1035 §4.1.4 leaves to the sender: the messages
 * Leasehold sends hold a handful of names, and uncompressed ones have a
 * length known without encoding. Reading follows backward pointers only
 * (lib/wire/dns-name.ts), so no input can loop.
 */
export function nameEncodingLength(name: string, field: string): number {
  return dnsLabelsLength(parseDnsName(name, field).labels, true);
}

export function writeName(w: ByteWriter, name: string, field: string): void {
  writeDnsLabels(w, parseDnsName(name, field).labels, true);
}

/**
 * Reads a name at `r.offset` (never past `r.end`) in the message `r.buf`
 * and moves past it; `compression: false` where pointers are not allowed.
 */
export function readName(r: ByteReader, field: string, compression = true): string {
  const start = r.offset;
  const { name, qualified, next } = readDnsName(r.buf, start, r.end, compression, field);
  if (!qualified) throw new DecodeError(field, start, 'name has no root label before the end of its data');
  r.offset = next;
  return name;
}

/**
 * Canonical wire form (RFC 4034 §6.2): uncompressed, ASCII upper case
 * folded to lower case byte by byte; what TSIG digests (RFC 8945 §4.3.3).
 */
export function canonicalNameBytes(name: string, field: string): Buffer {
  const w = new ByteWriter();
  for (const label of parseDnsName(name, field).labels) {
    w.u8(label.length);
    for (const c of label) w.u8(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
  }
  return w.u8(0).finish();
}

/** DNS name equality: case-insensitive for ASCII letters only (RFC 4343 §3). */
export function sameName(a: string, b: string, field: string): boolean {
  return canonicalNameBytes(a, field).equals(canonicalNameBytes(b, field));
}
