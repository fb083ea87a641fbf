import { bufferToIpv4 } from './ipv4.ts';
import { DecodeError } from './decode-error.ts';

/**
 * Sequential, bounds-checked reads over a Buffer. Every read names the field
 * it is reading so that a short buffer yields a DecodeError saying what was
 * being read and where.
 */
export class ByteReader {
  offset: number;

  /** Reads `buf` from `start` up to (not including) `end`. */
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.offset = start;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Moves past `n` bytes and returns the offset they started at. */
  private take(n: number, field: string): number {
    const at = this.offset;
    if (n > this.end - at) {
      throw new DecodeError(field, at, `needs ${n} byte(s), only ${this.end - at} left`);
    }
    this.offset = at + n;
    return at;
  }

  u8(field: string): number {
    return this.buf[this.take(1, field)];
  }

  u16(field: string): number {
    return this.buf.readUInt16BE(this.take(2, field));
  }

  u32(field: string): number {
    return this.buf.readUInt32BE(this.take(4, field));
  }

  /** A view into the underlying buffer, not a copy. */
  bytes(n: number, field: string): Buffer {
    const at = this.take(n, field);
    return this.buf.subarray(at, at + n);
  }

  ipv4(field: string): string {
    return bufferToIpv4(this.buf, this.take(4, field));
  }
}
