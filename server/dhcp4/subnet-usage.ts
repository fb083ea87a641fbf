import type { LeaseTable } from './lease-table.ts';
import { poolSize, type ServedSubnet } from './served-subnet.ts';
import { countLeases, type LeaseCounts } from '../leases/lease-counts.ts';

/**
 * How full each subnet is, counted at the moment of asking (Kea's
 * subnet[id].total-addresses, assigned-addresses, declined-addresses).
 * Counted, not kept as running sums: a RELEASE that arrives twice, a
 * reload or an operator's change can never make a figure drift or go
 * negative. From this server's lease table, or on a store several servers
 * share from the database's counts (the table holds only what this server
 * wrote or learnt), assembled here the same way.
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

/** Every served subnet, in order, with its counts (none: 0); counts of subnets not served are left out. */
export function usageFromCounts(subnets: readonly ServedSubnet[], counts: readonly LeaseCounts[]): SubnetUsage[] {
  const bySubnet = new Map(counts.map((c) => [c.subnetId, c]));
  return subnets.map((s) => ({ subnetId: s.id, total: poolSize(s), assigned: bySubnet.get(s.id)?.assigned ?? 0, declined: bySubnet.get(s.id)?.declined ?? 0 }));
}

export function subnetUsage(subnets: readonly ServedSubnet[], table: LeaseTable, now: number): SubnetUsage[] {
  return usageFromCounts(subnets, countLeases(table.all(), now));
}
