import { ipToInt } from '../wire/ipv4.ts';
import { cidrContains, parseCidr, type Cidr } from '../config/cidr.ts';
import type { ReservationConfig, SubnetConfig } from '../config/config.ts';
import { clientKeyFor } from '../leases/lease.ts';
import { encodeSubnetOptions, type EncodedOptions } from './reply-options.ts';

/**
 * A configured subnet in the numeric form the request path works with:
 * integer addresses, so membership tests and pool scans are arithmetic.
 */
export interface ServedSubnet extends Cidr {
  readonly config: SubnetConfig;
  readonly id: string;
  readonly pools: ReadonlyArray<{ start: number; end: number }>;
  /** Reserved address → the client key it belongs to. */
  readonly reservedIps: ReadonlyMap<number, string>;
  /** Client key → reservation. */
  readonly reservationsByClient: ReadonlyMap<string, { ip: number; hostname?: string }>;
  readonly leaseSeconds: number;
  readonly renewSeconds: number;
  readonly rebindSeconds: number;
  /** Configured parameters, encoded once (see reply-options.ts). */
  readonly encodedOptions: EncodedOptions;
}

/** The client key a reservation matches (config is already normalised). */
function reservationKey(r: ReservationConfig): string {
  return clientKeyFor(r.clientId, r.hwAddress ?? '');
}

export function toServedSubnet(config: SubnetConfig): ServedSubnet {
  const parsed = parseCidr(config.subnet);
  // validateConfig has already refused a malformed subnet.
  if (!parsed.ok) throw new Error(`subnet ${config.id}: ${parsed.problem}`);
  const reservedIps = new Map<number, string>();
  const reservationsByClient = new Map<string, { ip: number; hostname?: string }>();
  for (const r of config.reservations ?? []) {
    const ip = ipToInt(r.ip);
    const key = reservationKey(r);
    reservedIps.set(ip, key);
    reservationsByClient.set(key, { ip, hostname: r.hostname });
  }
  const subnet = {
    ...parsed.cidr,
    config,
    id: config.id,
    pools: config.pools.map((p) => ({ start: ipToInt(p.start), end: ipToInt(p.end) })),
    reservedIps,
    reservationsByClient,
    // T1/T2 defaults (RFC 2131 §4.4.5) are applied by validateConfig.
    leaseSeconds: config.leaseTime,
    renewSeconds: config.renewTime,
    rebindSeconds: config.rebindTime,
  };
  return { ...subnet, encodedOptions: encodeSubnetOptions(subnet) };
}

export const subnetContains = cidrContains;

export function inPools(subnet: ServedSubnet, ip: number): boolean {
  return subnet.pools.some((p) => ip >= p.start && ip <= p.end);
}

/** Network and broadcast addresses are never handed out (RFC 1122 §3.2.1.3). */
export function isAssignable(subnet: ServedSubnet, ip: number): boolean {
  return subnetContains(subnet, ip) && ip !== subnet.network && ip !== subnet.broadcast;
}
