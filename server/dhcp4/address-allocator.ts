import { LeaseholdError } from '../../lib/core/errors.ts';
import { leaseIsReusable } from '../leases/lease.ts';
import type { LeaseTable } from './lease-table.ts';
import { inPools, isAssignable, reservedForAnother, type ClientIdentity, type ServedSubnet } from './served-subnet.ts';

// The rule lives with the lease; the engine takes it from here.
export { leaseIsReusable };

/** Every pool address of the subnet is taken (CoreDHCP's allocator error of the same name). */
export class NoAddressAvailableError extends LeaseholdError {
  readonly code = 'E_NO_ADDRESS';
  constructor(readonly subnetId: string) {
    super(`no free address in subnet ${subnetId}`);
  }
}

/**
 * Chooses addresses from a subnet's pools. A narrow interface (CoreDHCP's
 * allocator): is one address usable by this client, and give me one.
 */
export class AddressAllocator {
  /** Where the next pool scan starts, per subnet, so scans are O(1) on average. */
  private readonly cursors = new Map<string, number>();

  constructor(
    private readonly table: LeaseTable,
    /** The server's own addresses, never handed out. */
    private readonly excluded: ReadonlySet<number> = new Set(),
  ) {}

  /**
   * May `clientKey` have `ip` in `subnet`? `dynamicOnly` additionally
   * requires the address to be in a pool (a requested address, RFC 2131
   * §4.3.1, must come from the range the server is allowed to give out).
   */
  isAvailableFor(subnet: ServedSubnet, ip: number, client: ClientIdentity, now: number, dynamicOnly = true): boolean {
    if (!isAssignable(subnet, ip) || this.excluded.has(ip)) return false;
    const reserved = reservedForAnother(subnet, ip, client);
    if (reserved === true) return false;
    if (reserved === undefined && dynamicOnly && !inPools(subnet, ip)) return false;
    const clientKey = client.key;
    const hold = this.table.offerAt(ip, now);
    if (hold && hold.clientKey !== clientKey) return false;
    const lease = this.table.leaseAt(ip);
    if (!lease) return true;
    if (lease.clientKey === clientKey && lease.state !== 'declined') return true;
    return leaseIsReusable(lease, now);
  }

  /** The next usable pool address for the client, or NoAddressAvailableError. */
  allocate(subnet: ServedSubnet, client: ClientIdentity, now: number): number {
    const total = subnet.pools.reduce((n, p) => n + (p.end - p.start + 1), 0);
    let position = this.cursors.get(subnet.id) ?? 0;
    for (let scanned = 0; scanned < total; scanned++) {
      const ip = addressAt(subnet, position % total);
      position = (position + 1) % total;
      if (this.isAvailableFor(subnet, ip, client, now)) {
        this.cursors.set(subnet.id, position);
        return ip;
      }
    }
    throw new NoAddressAvailableError(subnet.id);
  }
}

function addressAt(subnet: ServedSubnet, index: number): number {
  for (const pool of subnet.pools) {
    const size = pool.end - pool.start + 1;
    if (index < size) return pool.start + index;
    index -= size;
  }
  throw new RangeError('pool index out of range');
}
