import { cidrContains, isHostAddress, parseCidr, type Cidr } from '../../lib/wire/cidr.ts';
import { ipToInt } from '../../lib/wire/ipv4.ts';
import { clientKeyFor } from '../leases/lease.ts';
import type { ReservationConfig, SubnetConfig } from './dhcp4-config.ts';
import { encodeSubnetOptions, type EncodedOptions, type LeaseTimes } from './reply-options.ts';

/**
 * A configured subnet in the numeric form the request path works with:
 * integer addresses, so membership tests and pool scans are arithmetic.
 */
export interface ServedSubnet extends Cidr, LeaseTimes {
  readonly config: SubnetConfig;
  readonly id: string;
  readonly pools: ReadonlyArray<{ start: number; end: number }>;
  /** Reserved address → the client key it belongs to. */
  readonly reservedIps: ReadonlyMap<number, string>;
  /** Client key → reservation. */
  readonly reservationsByClient: ReadonlyMap<string, { ip: number; hostname?: string }>;
  /** Configured parameters, encoded once (see reply-options.ts). */
  readonly encodedOptions: EncodedOptions;
}

/**
 * Who a request comes from: its lease key (option 61, else chaddr) and its
 * hardware key. A reservation by hardware address matches the chaddr even
 * when the client also sends a client identifier (busybox udhcpc always
 * does), as Kea's hw-address reservations do.
 */
export interface ClientIdentity {
  key: string;
  hwKey: string;
}

export function reservationFor(subnet: ServedSubnet, client: ClientIdentity): { ip: number; hostname?: string } | undefined {
  return subnet.reservationsByClient.get(client.key) ?? subnet.reservationsByClient.get(client.hwKey);
}

/** Whether `ip` is reserved, and for someone other than `client`. */
export function reservedForAnother(subnet: ServedSubnet, ip: number, client: ClientIdentity): boolean | undefined {
  const owner = subnet.reservedIps.get(ip);
  if (owner === undefined) return undefined;
  return owner !== client.key && owner !== client.hwKey;
}

/** The client key a reservation matches (config is already normalised). */
function reservationKey(r: ReservationConfig): string {
  return clientKeyFor(r.clientId, r.hwAddress ?? '');
}

export function toServedSubnet(config: SubnetConfig): ServedSubnet {
  const parsed = parseCidr(config.subnet);
  // The config reader has already refused a malformed subnet.
  if (!parsed.ok) throw new Error(`subnet ${config.id}: ${parsed.problem}`);
  const reservedIps = new Map<number, string>();
  const reservationsByClient = new Map<string, { ip: number; hostname?: string }>();
  for (const r of config.reservations ?? []) {
    const ip = ipToInt(r.ip);
    const key = reservationKey(r);
    reservedIps.set(ip, key);
    reservationsByClient.set(key, { ip, hostname: r.hostname });
  }
  return {
    ...parsed.cidr,
    config,
    id: config.id,
    pools: config.pools.map((p) => ({ start: ipToInt(p.start), end: ipToInt(p.end) })),
    reservedIps,
    reservationsByClient,
    // T1/T2 defaults (RFC 2131 §4.4.5) are applied by the config reader (dhcp4-config.ts `leaseTimers`).
    leaseSeconds: config.leaseTime,
    renewSeconds: config.renewTime,
    rebindSeconds: config.rebindTime,
    encodedOptions: encodeSubnetOptions(config.options ?? {}, parsed.cidr),
  };
}

export const subnetContains = cidrContains;

/** Addresses in the subnet's pools. */
export function poolSize(subnet: ServedSubnet): number {
  return subnet.pools.reduce((n, p) => n + (p.end - p.start + 1), 0);
}

export function inPools(subnet: ServedSubnet, ip: number): boolean {
  return subnet.pools.some((p) => ip >= p.start && ip <= p.end);
}

/** May `ip` be handed to a host of the subnet? The rule the config reader checks pools and reservations with (cidr.ts `hostAddressProblem`). */
export function isAssignable(subnet: ServedSubnet, ip: number): boolean {
  return isHostAddress(subnet, ip);
}
