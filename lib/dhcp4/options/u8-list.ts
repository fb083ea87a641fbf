import { checkUint } from '../../wire/check-uint.ts';
import type { OptionKind } from './option-kind.ts';

/** A list of octets, e.g. the parameter request list (RFC 2132 §9.8). */
export const u8ListKind: OptionKind<number[]> = {
  name: 'u8-list',
  decode(data) {
    // A plain loop: Array.from on a Buffer goes through the iterator protocol
    // and is several times slower on this per-packet path.
    const out = new Array<number>(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i];
    return out;
  },
  encode(value) {
    for (const v of value) checkUint('u8-list', v, 255);
    return Buffer.from(value);
  },
  format: (value) => value.join(','),
};
