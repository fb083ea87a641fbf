import { EncodeError } from './encode-error.ts';
import { ipv4ToBuffer, isIpv4 } from './ipv4.ts';

/**
 * IPv6 addresses in text form: parsed as RFC 4291 §2.2 allows (any case,
 * leading zeros, "::" for one or more zero groups, a dotted quad in the last
 * 32 bits) and written in RFC 5952 §4's one canonical form, so that two
 * spellings of one address compare equal as strings. Zone indices ("%eth0")
 * are not addresses and are refused.
 */

const GROUP = /^[0-9a-f]{1,4}$/i;

/** 16 bytes, or undefined when `text` is not an IPv6 address. */
function parse(text: string): Buffer | undefined {
  const gap = text.indexOf('::');
  if (gap !== text.lastIndexOf('::')) return undefined;
  const head = gap < 0 ? text : text.slice(0, gap);
  const tail = gap < 0 ? '' : text.slice(gap + 2);
  // The dotted quad, if any, ends the address: it is never left of "::".
  const headGroups = groups(head, gap < 0);
  const tailGroups = groups(tail, true);
  if (headGroups === undefined || tailGroups === undefined) return undefined;
  const count = headGroups.length + tailGroups.length;
  // RFC 4291 §2.2: "::" stands for one or more groups, so with it at most 7 are written.
  if (gap < 0 ? count !== 8 : count > 7) return undefined;
  const out = Buffer.alloc(16);
  headGroups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  tailGroups.forEach((g, i) => out.writeUInt16BE(g, (8 - tailGroups.length + i) * 2));
  return out;
}

/** Colon-separated groups; a dotted quad is allowed last and counts as two (RFC 4291 §2.2, form 3). */
function groups(text: string, quadLast: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (quadLast && i === parts.length - 1 && isIpv4(part)) {
      const quad = ipv4ToBuffer(part);
      out.push(quad.readUInt16BE(0), quad.readUInt16BE(2));
    } else if (GROUP.test(part)) {
      out.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

export function isIpv6(text: string): boolean {
  return parse(text) !== undefined;
}

/** Text to 16 bytes; throws EncodeError for anything that is not an IPv6 address. */
export function ipv6ToBuffer(text: string): Buffer {
  const bytes = parse(text);
  if (bytes === undefined) throw new EncodeError('ipv6', `${JSON.stringify(text)} is not an IPv6 address`);
  return bytes;
}

/**
 * 16 bytes at `off` to text. RFC 5952 §4: lower-case hex without leading zeros; the longest run of two
 * or more zero groups (the first, on a tie) becomes "::", a lone zero group
 * stays "0". The mixed dotted-quad notation of §5 is not used: nothing here
 * handles IPv4-mapped addresses.
 */
export function bufferToIpv6(buf: Uint8Array, off = 0): string {
  const g = Array.from({ length: 8 }, (_, i) => (buf[off + i * 2] << 8) | buf[off + i * 2 + 1]);
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && g[end] === 0) end++;
    if (end - i > bestLength) {
      best = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((n) => n.toString(16)).join(':');
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLength, 8)}`;
}

/** An IPv6 network: its address bytes (host bits zero) and prefix length. */
export interface Ipv6Prefix {
  network: Buffer;
  prefixLength: number;
}

export type Ipv6PrefixParse = { ok: true; prefix: Ipv6Prefix } | { ok: false; problem: string };

/** Parses 'addr/len' (len 0..128); as `parseCidr` does for IPv4, it wants host bits zero. */
export function parseIpv6Prefix(text: string): Ipv6PrefixParse {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const network = match ? parse(match[1]) : undefined;
  const prefixLength = match ? Number(match[2]) : NaN;
  if (network === undefined || !(prefixLength <= 128)) {
    return { ok: false, problem: `must be an IPv6 prefix like fd00:198:18::/64, got ${JSON.stringify(text)}` };
  }
  const masked = Buffer.from(network);
  for (let bit = prefixLength; bit < 128; bit++) masked[bit >> 3] &= ~(0x80 >> (bit & 7));
  if (!masked.equals(network)) {
    return { ok: false, problem: `has host bits set (did you mean ${formatIpv6Prefix({ network: masked, prefixLength })}?)` };
  }
  return { ok: true, prefix: { network, prefixLength } };
}

export function formatIpv6Prefix(p: Ipv6Prefix): string {
  return `${bufferToIpv6(p.network)}/${p.prefixLength}`;
}
