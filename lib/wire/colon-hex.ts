const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case colon-separated hex ("0a:00:c6"), the usual form of MACs and ids. */
export function toColonHex(buf: Uint8Array, start = 0, end = buf.length): string {
  let out = '';
  for (let i = start; i < end; i++) out += i === start ? HEX[buf[i]] : `:${HEX[buf[i]]}`;
  return out;
}
