import { intToIp, ipToInt, isIpv4 } from '../../lib/wire/ipv4.ts';

/** An IPv4 network in numeric form, so containment and overlap are arithmetic. */
export interface Cidr {
  network: number;
  prefixLength: number;
  mask: number;
  broadcast: number;
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
  return { ok: true, cidr: { network, prefixLength, mask, broadcast: (network | ~mask) >>> 0 } };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefixLength}`;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return (ip & c.mask) >>> 0 === c.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.network <= b.broadcast && b.network <= a.broadcast;
}
