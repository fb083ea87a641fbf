import { ipToInt } from './ipv4.ts';

/**
 * Appends big-endian values to a growable buffer. Callers that know the
 * final size (every codec has an encodingLength) pass it as the initial
 * capacity so that encoding allocates exactly once.
 */
export class ByteWriter {
  private buf: Buffer;
  private length = 0;

  constructor(capacity = 64) {
    // allocUnsafe takes small buffers from Node's pool; Buffer.alloc would
    // create (and zero) a new ArrayBuffer each time, which costs ~10× more.
    // Every byte handed out by finish() has been written, zeros() included.
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 1));
  }

  get offset(): number {
    return this.length;
  }

  /**
   * Claims `n` bytes and returns where they start. Callers must read
   * `this.buf` only after calling this, since growing replaces it.
   */
  private reserve(n: number): number {
    const at = this.length;
    const needed = at + n;
    if (needed > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.length = needed;
    return at;
  }

  u8(v: number): this {
    const at = this.reserve(1);
    this.buf[at] = v;
    return this;
  }

  u16(v: number): this {
    const at = this.reserve(2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }

  u32(v: number): this {
    const at = this.reserve(4);
    this.buf.writeUInt32BE(v, at);
    return this;
  }

  bytes(b: Uint8Array): this {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
    return this;
  }

  ipv4(s: string): this {
    return this.u32(ipToInt(s));
  }

  /** Appends `n` zero bytes (padding, empty BOOTP fields). */
  zeros(n: number): this {
    const at = this.reserve(n);
    this.buf.fill(0, at, at + n);
    return this;
  }

  /** The bytes written so far; the writer must not be used afterwards. */
  finish(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}
