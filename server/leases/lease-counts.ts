import { leaseIsReusable, type Lease } from './lease.ts';

/**
 * A subnet's lease records counted: what the usage figures
 * (server/dhcp4/subnet-usage.ts) are made of, from a lease table here or
 * from a shared database's query (COUNT_SQL of pg-lease-store.ts, the
 * same rule in SQL).
 */

/** One subnet's lease records: bound and declined ones still in force (not leaseIsReusable), and every record. */
export interface LeaseCounts {
  subnetId: string;
  assigned: number;
  declined: number;
  records: number;
}

/** Counts of records by subnet; a record is in force unless leaseIsReusable (lh_reusable in the database). */
export function countLeases(leases: Iterable<Pick<Lease, 'subnetId' | 'state' | 'expiresAt'>>, now: number): LeaseCounts[] {
  const counts = new Map<string, LeaseCounts>();
  for (const lease of leases) {
    let entry = counts.get(lease.subnetId);
    if (!entry) counts.set(lease.subnetId, (entry = { subnetId: lease.subnetId, assigned: 0, declined: 0, records: 0 }));
    entry.records++;
    if (leaseIsReusable(lease, now)) continue;
    if (lease.state === 'bound') entry.assigned++;
    else if (lease.state === 'declined') entry.declined++;
  }
  return [...counts.values()];
}
