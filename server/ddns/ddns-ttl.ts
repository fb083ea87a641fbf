import type { DdnsTtlConfig } from './ddns-config.ts';

/**
 * TTL of the records registered for a lease. RFC 4702 §5 suggests a third
 * of the lease time, so a resolver's cached answer cannot outlive the lease
 * by much; the floor stops very short leases from making the name
 * uncacheable, the cap stops very long ones from pinning stale data.
 * Whole seconds, rounded down.
 */
export function ddnsTtl(leaseSeconds: number, ttl: DdnsTtlConfig): number {
  return Math.min(ttl.cap, Math.max(ttl.floor, Math.floor(leaseSeconds / 3)));
}
