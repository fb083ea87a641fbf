import { ByteWriter } from '../wire/byte-writer.ts';
import { checkUint } from '../wire/check-uint.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { EncodeError } from '../wire/encode-error.ts';
import type { OptionDef } from './option-defs.ts';

/** RFC 2132 §3.1 and §3.2: the two options that have no length byte. */
const PAD = 0;
export const END = 255;
/** RFC 3046 §2.1: relay agent information goes after every other option. */
const RELAY_AGENT_INFO = 82;
/** One option carries at most 255 bytes; RFC 3396 §5 splits longer values. */
const MAX_CHUNK = 255;

/**
 * The options of a message, kept as raw bytes in the order they first
 * appeared and decoded only when a typed getter asks, so unknown options
 * cost nothing and survive a re-encode unchanged.
 *
 * Absent → `undefined`; present but malformed → DecodeError whose field is
 * the option's name.
 */
export class Dhcp4Options implements Iterable<[number, Buffer]> {
  private readonly raw = new Map<number, Buffer>();

  get size(): number {
    return this.raw.size;
  }

  get<T>(def: OptionDef<T>): T | undefined {
    const data = this.raw.get(def.code);
    if (data === undefined) return undefined;
    try {
      return def.kind.decode(data);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      const detail = err.field === def.kind.name ? err.detail : `${err.field}: ${err.detail}`;
      throw new DecodeError(def.name, err.offset, detail, { cause: err });
    }
  }

  /** Encodes `value` now (throws EncodeError if it cannot be). */
  set<T>(def: OptionDef<T>, value: T): this {
    this.raw.set(def.code, def.kind.encode(value));
    return this;
  }

  getRaw(code: number): Buffer | undefined {
    return this.raw.get(code);
  }

  /** Stores `data` as the option's value (by reference, not copied). */
  setRaw(code: number, data: Buffer): this {
    if (checkUint('option code', code, END - 1) === PAD) throw new EncodeError('option code', 'pad (0) is not an option');
    this.raw.set(code, data);
    return this;
  }

  has(code: number): boolean {
    return this.raw.has(code);
  }

  delete(code: number): boolean {
    return this.raw.delete(code);
  }

  codes(): number[] {
    return [...this.raw.keys()];
  }

  [Symbol.iterator](): IterableIterator<[number, Buffer]> {
    return this.raw.entries();
  }

  /**
   * Parses one options area (RFC 2131 §4.1: the options field, or `file` /
   * `sname` when overloaded) from `start` to `end`, adding to this map.
   * Returns the offset just after the End option, or -1 if the area ran out
   * without one (tolerated: the bytes up to there are well formed).
   */
  decodeArea(buf: Buffer, start: number, end: number, area: string): number {
    let i = start;
    while (i < end) {
      const code = buf[i];
      if (code === PAD) {
        i++;
        continue;
      }
      if (code === END) return i + 1;
      if (i + 1 >= end) throw new DecodeError(`${area} option ${code}`, i, 'length byte missing');
      const len = buf[i + 1];
      if (i + 2 + len > end) {
        throw new DecodeError(`${area} option ${code}`, i, `length ${len} runs past the end of ${area}`);
      }
      this.append(code, buf.subarray(i + 2, i + 2 + len));
      i += 2 + len;
    }
    return -1;
  }

  /** RFC 3396 §7: repeated instances of an option are one value, concatenated. */
  private append(code: number, data: Buffer): void {
    const prev = this.raw.get(code);
    this.raw.set(code, prev === undefined ? data : Buffer.concat([prev, data]));
  }

  /** Bytes `encodeInto` writes (options only, no End). */
  encodingLength(): number {
    let n = 0;
    for (const data of this.raw.values()) n += chunkedLength(data.length);
    return n;
  }

  /** Writes every option, relay agent information last (RFC 3046 §2.1). */
  encodeInto(w: ByteWriter): void {
    for (const [code, data] of this.raw) {
      if (code !== RELAY_AGENT_INFO) writeChunked(w, code, data);
    }
    const rai = this.raw.get(RELAY_AGENT_INFO);
    if (rai !== undefined) writeChunked(w, RELAY_AGENT_INFO, rai);
  }
}

function chunkedLength(len: number): number {
  return len + 2 * Math.max(1, Math.ceil(len / MAX_CHUNK));
}

/** RFC 3396 §5: a value over 255 bytes goes out as consecutive instances. */
function writeChunked(w: ByteWriter, code: number, data: Buffer): void {
  if (data.length <= MAX_CHUNK) {
    // The common case, without subarray(): creating a Buffer view costs
    // more than copying a short option.
    w.u8(code).u8(data.length).bytes(data);
    return;
  }
  let at = 0;
  do {
    const n = Math.min(MAX_CHUNK, data.length - at);
    w.u8(code).u8(n).bytes(data.subarray(at, at + n));
    at += n;
  } while (at < data.length);
}
