/**
 * The one error every decoder throws on malformed input. Bad bytes from the
 * network are expected, so callers catch this, count it and drop the packet;
 * anything else escaping a decoder is a bug.
 */
export class DecodeError extends Error {
  readonly code = 'E_DECODE';
  /** What was wrong, without the field and offset prefix. */
  readonly detail: string;

  constructor(
    readonly field: string,
    readonly offset: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${field} at offset ${offset}: ${detail}`, options);
    this.name = 'DecodeError';
    this.detail = detail;
  }
}
