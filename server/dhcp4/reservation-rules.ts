import { formatCidr, hostAddressProblem } from '../../lib/wire/cidr.ts';
import { intToIp, ipToInt } from '../../lib/wire/ipv4.ts';
import { clientKeyFor } from '../leases/lease.ts';
import type { StoredReservation } from '../leases/reservation.ts';
import { leaseIsReusable } from './address-allocator.ts';
import type { ReservationConfig, SubnetConfig } from './dhcp4-config.ts';
import type { LeaseTable } from './lease-table.ts';
import type { ServedSubnet } from './served-subnet.ts';

/**
 * Reservations made at run time (the control API's `reservation-add`,
 * kept in the lease store) beside those of the configuration file: how the
 * two are served together, and when a new one must be refused.
 */

/** A reservation with where it comes from: the configuration file, or the lease store (made through the API). */
export interface SourcedReservation extends StoredReservation {
  source: 'config' | 'api';
}

/**
 * The subnets as served: each with its configured reservations and then
 * the stored ones of its id. A stored reservation of a subnet that is no
 * longer configured is kept in the store but serves nothing.
 */
export function withStoredReservations<T extends SubnetConfig>(subnets: readonly T[], stored: readonly StoredReservation[]): T[] {
  return subnets.map((subnet) => {
    const extra = stored.filter((r) => r.subnetId === subnet.id).map(toReservationConfig);
    return extra.length === 0 ? subnet : { ...subnet, reservations: [...subnet.reservations, ...extra] };
  });
}

/** Every reservation of the configured subnets, in subnet order, each marked with its source. */
export function listReservations(subnets: readonly SubnetConfig[], stored: readonly StoredReservation[]): SourcedReservation[] {
  const known = new Set(subnets.map((s) => s.id));
  return [
    ...subnets.flatMap((s) => [
      ...s.reservations.map((r): SourcedReservation => ({ subnetId: s.id, ...r, source: 'config' })),
      ...stored.filter((r) => r.subnetId === s.id).map((r): SourcedReservation => ({ ...r, source: 'api' })),
    ]),
    ...stored.filter((r) => !known.has(r.subnetId)).map((r): SourcedReservation => ({ ...r, source: 'api' })),
  ];
}

function toReservationConfig(r: StoredReservation): ReservationConfig {
  const { subnetId: _subnet, ...config } = r;
  return config;
}

/** How a reservation's client reads in a message: `hw-address 02:…` or `client-id 01…`, Kea's identifier names. */
export function describeClient(r: { hwAddress?: string; clientId?: string }): string {
  return r.clientId !== undefined ? `client-id ${r.clientId}` : `hw-address ${r.hwAddress}`;
}

/**
 * Why `r` cannot be reserved in `subnet` now, in a sentence naming what is
 * in the way, or undefined when it can: the address must be a host of the
 * subnet and nobody's already (the server's own, one the subnet's options
 * name, another reservation, another client's binding or a quarantine);
 * the client may hold one reservation per subnet.
 */
export function reservationConflict(
  subnet: ServedSubnet,
  r: ReservationConfig,
  context: { table: LeaseTable; now: number; serverAddresses: ReadonlySet<string> },
): string | undefined {
  const ip = ipToInt(r.ip);
  const where = `subnet ${subnet.id} (${formatCidr(subnet)})`;
  const problem = hostAddressProblem(subnet, ip);
  if (problem === 'outside') return `${r.ip} is outside ${where}`;
  if (problem !== undefined) return `${r.ip} is the ${problem} address of ${where}`;
  if (context.serverAddresses.has(r.ip)) return `${r.ip} is the server's own address`;
  const options = subnet.config.options;
  const named = [
    ...(options.routers ?? []).map((a) => [a, 'a router'] as const),
    ...(options.dnsServers ?? []).map((a) => [a, 'a DNS server'] as const),
    ...(options.ntpServers ?? []).map((a) => [a, 'an NTP server'] as const),
  ].find(([a]) => a === r.ip);
  if (named) return `${r.ip} is ${named[1]} of ${where}`;
  const key = clientKeyFor(r.clientId, r.hwAddress ?? '');
  const owner = subnet.config.reservations.find((o) => o.ip === r.ip);
  if (owner) return `${r.ip} is already reserved in ${where} for ${describeClient(owner)}`;
  const held = subnet.reservationsByClient.get(key);
  if (held) return `${describeClient(r)} already has a reservation in ${where}: ${intToIp(held.ip)}`;
  const lease = context.table.leaseAt(ip);
  if (lease && !leaseIsReusable(lease, context.now)) {
    const sameClient = lease.clientKey === key || (r.hwAddress !== undefined && lease.hwAddress === r.hwAddress);
    const until = new Date(lease.expiresAt).toISOString();
    if (lease.state === 'declined') return `${r.ip} was declined by a client (in use by a host the server does not know) and is in quarantine until ${until}`;
    if (!sameClient) return `${r.ip} is leased to another client (${describeClient(lease)}) until ${until}`;
  }
  return undefined;
}
