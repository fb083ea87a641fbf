import { toColonHex } from '../../wire/colon-hex.ts';
import type { OptionKind } from './option-kind.ts';

/** Opaque data; decode returns a view of the option, encode a copy of the value. */
export const bytesKind: OptionKind<Buffer> = {
  name: 'bytes',
  decode: (data) => data,
  encode: (value) => Buffer.from(value),
  format: (value) => toColonHex(value),
};
