import { DecodeError } from '../wire/decode-error.ts';
import { checkUint } from '../wire/check-uint.ts';
import type { NdOptionCodec } from './nd-option-codec.ts';

/** RFC 4861 §4.6.4 MTU (type 5, Length 1): the link MTU every node should use. */
export interface MtuOption {
  kind: 'mtu';
  mtu: number;
}

const BODY_LENGTH = 6;

export const mtuOption: NdOptionCodec<MtuOption> = {
  type: 5,
  bodyLength: () => BODY_LENGTH,
  write(w, value) {
    w.u16(0).u32(checkUint('mtu', value.mtu, 0xffffffff));
  },
  read(r, field) {
    if (r.remaining !== BODY_LENGTH) throw new DecodeError(field, r.offset - 1, `Length must be 1, got ${(r.remaining + 2) / 8}`);
    r.u16(field);
    return { kind: 'mtu', mtu: r.u32(field) };
  },
};
