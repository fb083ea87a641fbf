import { intToIp, ipToInt, isIpv4 } from './ipv4.ts';

/** An IPv4 network in numeric form, so containment and overlap are arithmetic. */
export interface Cidr {
  /** The first address: host part all zeros. */
  network: number;
  prefixLength: number;
  mask: number;
  /** The last address: host part all ones (the directed broadcast on a /30 or shorter, see `directedBroadcast`). */
  last: number;
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; problem: string };

/** Parses 'a.b.c.d/len' (len 0..32); the address must be the network itself, with no host bits set. */
export function parseCidr(text: string): CidrParse {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  const prefixLength = match ? Number(match[2]) : NaN;
  if (!match || !isIpv4(match[1]) || prefixLength > 32) {
    return { ok: false, problem: `must be a network in CIDR form like 198.18.0.0/16, got ${JSON.stringify(text)}` };
  }
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const address = ipToInt(match[1]);
  const network = (address & mask) >>> 0;
  if (network !== address) {
    return { ok: false, problem: `has host bits set (did you mean ${intToIp(network)}/${prefixLength}?)` };
  }
  return { ok: true, cidr: { network, prefixLength, mask, last: (network | ~mask) >>> 0 } };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefixLength}`;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return (ip & c.mask) >>> 0 === c.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network <= b.last && b.network <= a.last;
}

/**
 * A /31 is a point-to-point link (RFC 3021): it has no network or
 * broadcast address, both of its addresses are hosts (§2.1); a /32 is a
 * single host.
 */
function isPointToPoint(c: Cidr): boolean {
  return c.prefixLength >= 31;
}

/** Why an address cannot be given to a host of a network. */
export type HostAddressProblem = 'outside' | 'network' | 'broadcast';

/**
 * Why `ip` cannot be a host's address in `c`, or undefined when it can.
 * RFC 1122 §3.2.1.3 reserves the host parts all zeros (the network) and
 * all ones (its directed broadcast); RFC 3021 §2.1 lifts both on a /31,
 * and a /32 is its one address. The one rule for configuration and the
 * address allocator alike.
 */
export function hostAddressProblem(c: Cidr, ip: number): HostAddressProblem | undefined {
  if (!cidrContains(c, ip)) return 'outside';
  if (isPointToPoint(c)) return undefined;
  if (ip === c.network) return 'network';
  if (ip === c.last) return 'broadcast';
  return undefined;
}

export function isHostAddress(c: Cidr, ip: number): boolean {
  return hostAddressProblem(c, ip) === undefined;
}

/**
 * The directed broadcast address of `c` (RFC 1122 §3.2.1.3 (e)), or
 * undefined on a /31 or /32, which have none: their all-ones address is a
 * host (RFC 3021 §2.2), and a broadcast there can only be the limited one.
 */
export function directedBroadcast(c: Cidr): number | undefined {
  return isPointToPoint(c) ? undefined : c.last;
}
