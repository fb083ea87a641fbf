import { DecodeError } from '../../wire/decode-error.ts';

/** RFC 2132 gives most options a fixed length or a multiple of one. */
export function requireLength(kind: string, data: Buffer, expected: number): void {
  if (data.length !== expected) {
    throw new DecodeError(kind, 0, `expected ${expected} byte(s), got ${data.length}`);
  }
}

export function requireMultiple(kind: string, data: Buffer, unit: number, min: number): void {
  if (data.length < min || data.length % unit !== 0) {
    throw new DecodeError(kind, 0, `length ${data.length} is not a non-zero multiple of ${unit}`);
  }
}
