import type { ByteReader } from '../wire/byte-reader.ts';
import type { ByteWriter } from '../wire/byte-writer.ts';

/**
 * How one Neighbor Discovery option kind is carried (RFC 4861 §4.6). The
 * option list (nd-options.ts) writes and checks Type and Length and
 * dispatches here, so each codec sees only the body: the bytes after those
 * two, which with them make a whole number of 8-octet units.
 */
export interface NdOptionCodec<T> {
  /** The option's Type byte. */
  readonly type: number;
  /** Bytes of the body; plus 2 it is a multiple of 8. */
  bodyLength(value: T): number;
  /** Throws EncodeError when `value` cannot be represented. */
  write(w: ByteWriter, value: T): void;
  /**
   * Reads the whole body, from `r.offset` to `r.end`; `field` names the
   * option in errors. Offsets are from the start of the ICMPv6 message.
   * Throws DecodeError when the body does not fit the option's definition.
   */
  read(r: ByteReader, field: string): T;
}

/** Length of a body that fills whole 8-octet units once Type and Length are added. */
export function paddedBodyLength(content: number): number {
  return Math.ceil((content + 2) / 8) * 8 - 2;
}
