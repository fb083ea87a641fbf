import { leaseIsReusable } from './address-allocator.ts';
import type { LeaseTable } from './lease-table.ts';
import { poolSize, type ServedSubnet } from './served-subnet.ts';

/**
 * How full each subnet is, counted from the lease table at the moment of
 * asking (Kea's subnet[id].total-addresses, assigned-addresses,
 * declined-addresses). Counted, not kept as running sums: a RELEASE that
 * arrives twice, a reload or an operator's change can never make a figure
 * drift or go negative.
 */
export interface SubnetUsage {
  subnetId: string;
  /** Addresses in the subnet's pools. */
  total: number;
  /** Bound and not yet expired, in a pool or reserved. */
  assigned: number;
  /** Declined and still in quarantine (RFC 2131 §3.1.5). */
  declined: number;
}

export function subnetUsage(subnets: readonly ServedSubnet[], table: LeaseTable, now: number): SubnetUsage[] {
  const usage = new Map(subnets.map((s) => [s.id, { subnetId: s.id, total: poolSize(s), assigned: 0, declined: 0 }]));
  for (const lease of table.all()) {
    const entry = usage.get(lease.subnetId);
    if (!entry || leaseIsReusable(lease, now)) continue;
    if (lease.state === 'bound') entry.assigned++;
    else if (lease.state === 'declined') entry.declined++;
  }
  return [...usage.values()];
}
