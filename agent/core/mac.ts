import { createHash } from 'node:crypto';
import { LeaseholdError } from '../../lib/core/errors.ts';

/**
 * The seed's MAC scheme, `XX:IP:IP:IP:YY:ZZ`:
 *  - XX: any octet whose two low bits are `10` — the I/G bit 0 (unicast) and
 *    the U/L bit 1 (locally administered, IEEE 802 §8.2.2), so the address
 *    can never collide with a vendor-assigned one;
 *  - IP:IP:IP: the last three octets of the worker's IPv4 address, so two
 *    workers on one L2 segment can never generate the same MAC;
 *  - YY:ZZ: random, or derived from the container id (`stable`) so that a
 *    re-attached container presents the same chaddr and gets its lease back.
 * In `stable` mode XX comes from the same hash, so the whole MAC is a pure
 * function of (worker IP, container id, attempt).
 */
export type MacScheme = 'random' | 'stable';

/** A MAC or IPv4 address given to the scheme is not one. */
export class AddressError extends LeaseholdError {
  readonly code = 'E_ADDRESS';
}

export interface MacInput {
  workerIpv4: string;
  scheme: MacScheme;
  /** Container id (or the netns name for netns targets). */
  targetId: string;
  /** 0 for the first choice; the next attempt after a clash. */
  attempt: number;
  /** Three random bytes for the `random` scheme (injected for tests). */
  randomBytes?: Uint8Array;
}

export function generateMac(input: MacInput): string {
  const ip = parseIpv4Octets(input.workerIpv4);
  const seed =
    input.scheme === 'stable'
      ? createHash('sha256').update(`leasehold-mac\0${input.targetId}\0${input.attempt}`).digest()
      : input.randomBytes;
  if (!seed || seed.length < 3) throw new Error('internal: generateMac: the random scheme needs three random bytes');
  const first = (seed[0] & 0xfc) | 0x02;
  return formatMac([first, ip[1], ip[2], ip[3], seed[1], seed[2]]);
}

/** True for a unicast, locally administered MAC that follows the scheme for this worker. */
export function followsScheme(mac: string, workerIpv4: string): boolean {
  const octets = parseMac(mac);
  const ip = parseIpv4Octets(workerIpv4);
  return (octets[0] & 0x03) === 0x02 && octets[1] === ip[1] && octets[2] === ip[2] && octets[3] === ip[3];
}

export function parseMac(text: string): number[] {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new AddressError(`not a MAC address: ${JSON.stringify(text)}`);
  }
  return parts.map((p) => parseInt(p, 16));
}

export function normalizeMac(text: string): string {
  return formatMac(parseMac(text));
}

/** A MAC a user may give with --mac: unicast (I/G bit 0) and not all zeros. */
export function checkUserMac(text: string): string | undefined {
  let octets: number[];
  try {
    octets = parseMac(text);
  } catch (err) {
    return (err as Error).message;
  }
  if (octets[0] & 0x01) return `${text} is a multicast address (low bit of the first octet set)`;
  if (octets.every((o) => o === 0)) return `${text} is the all-zero address`;
  return undefined;
}

function formatMac(octets: number[]): string {
  return octets.map((o) => o.toString(16).padStart(2, '0')).join(':');
}

function parseIpv4Octets(text: string): number[] {
  const parts = text.split('.');
  const octets = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) {
    throw new AddressError(`not an IPv4 address: ${JSON.stringify(text)}`);
  }
  return octets;
}
