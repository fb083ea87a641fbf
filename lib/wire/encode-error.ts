/**
 * Thrown when a value cannot be put on the wire (an IPv4 string that is not
 * a dotted quad, a number out of range, a DNS label over 63 bytes). These
 * come from our own code or configuration, never from the network.
 */
export class EncodeError extends Error {
  readonly code = 'E_ENCODE';

  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = 'EncodeError';
  }
}
