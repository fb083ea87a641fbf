import { ipv4ToBuffer } from '../../lib/wire/ipv4.ts';
import { ipv6ToBuffer } from '../../lib/wire/ipv6.ts';

/**
 * Reverse-mapping names (PTR owners) and the choice of the zone a name is
 * updated in. Names are lower-case, without the trailing dot, as in
 * update-request.ts.
 */

/** RFC 1035 §3.5: the four octets, last first, under in-addr.arpa. */
export function reverseNameV4(ip: string): string {
  const b = ipv4ToBuffer(ip);
  return `${b[3]}.${b[2]}.${b[1]}.${b[0]}.in-addr.arpa`;
}

/** RFC 3596 §2.5: the 32 nibbles, least significant first, under ip6.arpa. */
export function reverseNameV6(ip: string): string {
  const bytes = ipv6ToBuffer(ip);
  const nibbles: string[] = [];
  for (let i = 15; i >= 0; i--) nibbles.push((bytes[i] & 0x0f).toString(16), (bytes[i] >> 4).toString(16));
  return `${nibbles.join('.')}.ip6.arpa`;
}

/**
 * The zone `name` is updated in: among the zones that contain it (the name
 * is the apex or ends in "." + apex), the one with the longest apex, so a
 * delegated child zone wins over its parent (RFC 2136 §3.1 wants the zone
 * that holds the name). Names and apexes are compared case-insensitively
 * (RFC 4343).
 */
export function findZone<Z extends { name: string }>(name: string, zones: readonly Z[]): Z | undefined {
  const wanted = name.toLowerCase();
  let best: Z | undefined;
  for (const zone of zones) {
    const apex = zone.name.toLowerCase();
    const inside = wanted === apex || wanted.endsWith(`.${apex}`);
    if (inside && (best === undefined || apex.length > best.name.length)) best = zone;
  }
  return best;
}
