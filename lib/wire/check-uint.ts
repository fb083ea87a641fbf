import { EncodeError } from './encode-error.ts';

/** Returns `value` if it is an integer in 0..max, else throws EncodeError. */
export function checkUint(field: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new EncodeError(field, `${value} is not an integer in 0..${max}`);
  }
  return value;
}
