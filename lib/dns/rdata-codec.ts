import type { ByteReader } from '../wire/byte-reader.ts';
import type { ByteWriter } from '../wire/byte-writer.ts';

/**
 * How one RR type's RDATA is carried (RFC 1035 §3.3). The record codec
 * writes RDLENGTH and dispatches here, so each codec sees only its data.
 */
export interface RdataCodec<T> {
  readonly type: number;
  /** Bytes the value takes on the wire (names are never compressed on output). */
  encodingLength(value: T): number;
  /** Throws EncodeError when `value` cannot be represented. */
  write(w: ByteWriter, value: T): void;
  /**
   * Reads the data from `r.offset` to `r.end` (RDLENGTH bytes); the caller
   * checks that nothing is left over. `r.buf` is the whole message, the
   * scope of compression pointers (RFC 1035 §4.1.4). Throws DecodeError.
   */
  read(r: ByteReader): T;
}
