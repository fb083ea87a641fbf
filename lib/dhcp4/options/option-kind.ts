/**
 * How one kind of option value is carried in option data (the bytes after
 * code and length). Decoding is lazy: messages keep the raw data and call
 * `decode` only when a typed getter asks.
 */
export interface OptionKind<T> {
  readonly name: string;
  /** Throws DecodeError (offsets relative to the option data) when malformed. */
  decode(data: Buffer): T;
  /** Throws EncodeError when `value` cannot be represented. */
  encode(value: T): Buffer;
  /** One-line readable form, for logs. */
  format(value: T): string;
}
