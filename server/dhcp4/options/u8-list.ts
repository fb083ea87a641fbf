import { checkUint } from '../../wire/check-uint.ts';
import type { OptionKind } from './option-kind.ts';

/** A list of octets, e.g. the parameter request list (RFC 2132 §9.8). */
export const u8ListKind: OptionKind<number[]> = {
  name: 'u8-list',
  decode: (data) => Array.from(data),
  encode(value) {
    for (const v of value) checkUint('u8-list', v, 255);
    return Buffer.from(value);
  },
  format: (value) => value.join(','),
};
