import { toColonHex } from '../../lib/wire/colon-hex.ts';
import type { SourcedReservation } from '../dhcp4/reservation-rules.ts';
import { clientKeyFor, type Lease } from '../leases/lease.ts';

/**
 * Leases and reservations as Kea's commands show them (`ip-address`,
 * `hw-address`, `valid-lft`, `cltt`, `state`…), plus what Leasehold adds
 * (`state-name`, `fqdn`, `ipv6`, a reservation's `source`). Pure.
 */

/** Kea's lease states: 0 default (assigned), 1 declined, 2 expired-reclaimed. `state-name` keeps ours (a bound lease past its expiry is `bound` until reclaimed). */
const KEA_STATE: Record<Lease['state'], number> = { bound: 0, declined: 1, released: 2, expired: 2 };

export function keaLease(lease: Lease): Record<string, unknown> {
  return {
    'ip-address': lease.ip,
    'hw-address': lease.hwAddress,
    ...(lease.clientId !== undefined && { 'client-id': colonHex(lease.clientId) }),
    hostname: lease.hostname ?? '',
    'subnet-id': lease.subnetId,
    'valid-lft': Math.round((lease.expiresAt - lease.grantedAt) / 1000),
    cltt: Math.floor(lease.grantedAt / 1000),
    expire: Math.floor(lease.expiresAt / 1000),
    state: KEA_STATE[lease.state],
    'state-name': lease.state,
    'fqdn-fwd': lease.fqdn !== undefined,
    'fqdn-rev': lease.fqdn !== undefined,
    ...(lease.fqdn !== undefined && { fqdn: lease.fqdn }),
    ...(lease.ipv6 !== undefined && { ipv6: lease.ipv6 }),
  };
}

export function keaReservation(r: SourcedReservation): Record<string, unknown> {
  return {
    'subnet-id': r.subnetId,
    'ip-address': r.ip,
    ...(r.hwAddress !== undefined && { 'hw-address': r.hwAddress }),
    ...(r.clientId !== undefined && { 'client-id': colonHex(r.clientId) }),
    hostname: r.hostname ?? '',
    source: r.source,
  };
}

/** `0102ab` → `01:02:ab`, as Kea prints client identifiers. */
function colonHex(hex: string): string {
  return toColonHex(Buffer.from(hex, 'hex'));
}

/** A copy of a configuration with every `secret` (an inline TSIG key) replaced, for config-get. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'secret' ? '(hidden)' : redactSecrets(v)]));
}

/** A lease as keaLease showed it, back in the store's shape (times to the second): what `leasehold-server leases --json` prints either way. */
export function fromKeaLease(k: Record<string, unknown>): Lease {
  const clientId = typeof k['client-id'] === 'string' ? k['client-id'].replace(/:/g, '') : undefined;
  const hwAddress = String(k['hw-address']);
  const lease: Lease = {
    ip: String(k['ip-address']),
    clientKey: clientKeyFor(clientId, hwAddress),
    hwAddress,
    subnetId: String(k['subnet-id']),
    state: k['state-name'] as Lease['state'],
    grantedAt: Number(k.cltt) * 1000,
    expiresAt: Number(k.expire) * 1000,
  };
  if (clientId !== undefined) lease.clientId = clientId;
  if (typeof k.hostname === 'string' && k.hostname !== '') lease.hostname = k.hostname;
  if (typeof k.fqdn === 'string') lease.fqdn = k.fqdn;
  if (typeof k.ipv6 === 'string') lease.ipv6 = k.ipv6;
  return lease;
}
