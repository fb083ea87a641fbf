import { checkUint } from '../../wire/check-uint.ts';
import type { OptionKind } from './option-kind.ts';
import { requireLength } from './length-check.ts';

/** Unsigned big-endian integers of a fixed width (RFC 2132 §9.2 lease time, §5.1 MTU…). */
function uintKind(name: string, size: 1 | 2 | 4): OptionKind<number> {
  const max = 2 ** (size * 8) - 1;
  return {
    name,
    decode(data) {
      requireLength(name, data, size);
      return data.readUIntBE(0, size);
    },
    encode(value) {
      checkUint(name, value, max);
      const buf = Buffer.allocUnsafe(size);
      buf.writeUIntBE(value, 0, size);
      return buf;
    },
    format: (value) => String(value),
  };
}

export const u8Kind = uintKind('u8', 1);
export const u16Kind = uintKind('u16', 2);
export const u32Kind = uintKind('u32', 4);
