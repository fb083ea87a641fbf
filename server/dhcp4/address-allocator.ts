import { LeaseholdError } from '../../lib/core/errors.ts';
import { SearchableBitset } from '../../lib/core/searchable-bitset.ts';
import { leaseIsReusable, type Lease } from '../leases/lease.ts';
import type { LeaseTable } from './lease-table.ts';
import { inPools, isAssignable, reservationFor, reservedForAnother, type ClientIdentity, type ServedSubnet } from './served-subnet.ts';

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
 *
 * `allocate` answers what a scan of the pools from a cursor would (the
 * first address usable by the client at or after the cursor, wrapping
 * around), without scanning: each subnet keeps the set of its pool
 * addresses that are free for any client — no live hold, no binding that
 * has not expired, not reserved, not the server's — in a searchable
 * bitset with a count, kept up to date from the lease table's change
 * notices and expiry queue. What only this client may have (its
 * reservation, its own hold, its bound records) is looked up directly.
 * So a full pool is known at once, and a DISCOVER costs the same with the
 * pool empty or full.
 */
export class AddressAllocator {
  readonly #pools = new Map<string, PoolState>();
  /** Every pool range of every subnet, by start address, for the change notices. */
  #ranges: PoolRange[] = [];

  constructor(
    private readonly table: LeaseTable,
    /** The server's own addresses, never handed out. */
    private readonly excluded: ReadonlySet<number> = new Set(),
    /** Subnets to index now (others are indexed when first allocated from). */
    subnets: readonly ServedSubnet[] = [],
    /**
     * Several servers share the lease database: this server's share of the
     * 256 buckets. An address's bucket is its last octet, and a new address
     * is taken from this server's buckets while one is free. The servers
     * know only their own offers (held in memory) and learn the others'
     * bindings only when a commit loses; with one cursor each, all starting
     * at the pool's first address, they would offer the same addresses and
     * lose every other commit. Disjoint shares make a loss rare; the shares
     * follow the client buckets' owners, so a dead server's addresses pass
     * to the survivors with its clients. Absent: one server, any address.
     */
    private readonly ownsBucket?: (bucket: number) => boolean,
  ) {
    table.observe((ip, before) => this.#changed(ip, before));
    for (const subnet of subnets) this.#poolOf(subnet);
  }

  /**
   * Serves `subnets` from now on (a reload, a reservation added or
   * withdrawn): every subnet's free set is built again from its new pools
   * and reservations and the table as it is. Rare, so a rebuild, not a diff.
   */
  reindex(subnets: readonly ServedSubnet[]): void {
    this.#pools.clear();
    this.#ranges = [];
    for (const subnet of subnets) this.#poolOf(subnet);
  }

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
    this.table.advance(now);
    const pool = this.#poolOf(subnet);
    const usable = (index: number) => this.isAvailableFor(subnet, pool.addressAt(index), client, now);
    let best = -1;
    let bestDistance = Infinity;
    const consider = (index: number) => {
      const distance = pool.distance(index);
      if (distance < bestDistance && usable(index)) {
        best = index;
        bestDistance = distance;
      }
    };
    // What only this client may have is not in the free set.
    const own = [reservationFor(subnet, client)?.ip, this.table.offerOf(client.key, now)?.ip, ...pool.boundTo(client.key)];
    for (const ip of own) {
      const index = ip === undefined ? -1 : pool.indexOf(ip);
      if (index >= 0) consider(index);
    }
    // A client with nothing of its own gets a free address of this server's
    // share while one is near (SHARE_PROBES), else the nearest free one.
    const ownsBucket = this.ownsBucket;
    const inShare = best < 0 && ownsBucket ? this.#firstFree(pool, (index) => ownsBucket(pool.addressAt(index) & 0xff) && usable(index), Infinity, SHARE_PROBES) : -1;
    if (inShare >= 0) best = inShare;
    else {
      const free = this.#firstFree(pool, usable, bestDistance, Infinity);
      if (free >= 0) best = free;
    }
    if (best < 0) throw new NoAddressAvailableError(subnet.id);
    pool.cursor = (best + 1) % pool.total;
    return pool.addressAt(best);
  }

  /**
   * The first free address from the cursor on (wrapping) that `accept`
   * takes, nearer than `maxDistance`, looking at most at `maxProbes` free
   * addresses; -1 if none. Without a share, `accept` refuses a free address
   * only when `now` is behind the table's time (a clock set back: the set is
   * right for the table's time, not for `now`), so the first one is taken.
   */
  #firstFree(pool: PoolState, accept: (index: number) => boolean, maxDistance: number, maxProbes: number): number {
    const first = pool.free.nextCyclic(pool.cursor);
    for (let index = first, probes = 0; index >= 0 && probes < maxProbes && pool.distance(index) < maxDistance; probes++) {
      if (accept(index)) return index;
      index = pool.free.nextCyclic(index + 1);
      if (index === first) break;
    }
    return -1;
  }

  /** Pool addresses of the subnet free for any client (as of the table's time). */
  freeCount(subnet: ServedSubnet): number {
    this.table.advance(this.table.now);
    return this.#poolOf(subnet).free.count;
  }

  #poolOf(subnet: ServedSubnet): PoolState {
    let pool = this.#pools.get(subnet.id);
    if (pool) return pool;
    pool = new PoolState(subnet, (ip) => !isAssignable(subnet, ip) || this.excluded.has(ip) || subnet.reservedIps.has(ip), this.excluded);
    this.#pools.set(subnet.id, pool);
    this.#ranges = [...this.#ranges, ...pool.ranges].sort((a, b) => a.start - b.start);
    // What the table holds already; from now on its notices keep the set.
    for (const lease of this.table.all()) this.#changed(lease.ip === undefined ? -1 : toInt(lease), undefined);
    for (const hold of this.table.heldOffers()) this.#changed(hold.ip, this.table.leaseAt(hold.ip));
    return pool;
  }

  #changed(ip: number, before: Lease | undefined): void {
    const range = this.#rangeOf(ip);
    if (!range) return;
    const { pool } = range;
    const index = range.offset + (ip - range.start);
    const after = this.table.leaseAt(ip);
    if (before !== after) {
      if (before?.state === 'bound') pool.unbind(before.clientKey, ip);
      if (after?.state === 'bound') pool.bind(after.clientKey, ip);
    }
    if (pool.blocked(ip)) return;
    const now = this.table.now;
    const hold = this.table.peekOfferAt(ip);
    const taken = (hold !== undefined && hold.expiresAt > now) || (after !== undefined && !leaseIsReusable(after, now));
    if (taken) pool.free.delete(index);
    else pool.free.add(index);
  }

  #rangeOf(ip: number): PoolRange | undefined {
    const ranges = this.#ranges;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = ranges[mid];
      if (ip < r.start) hi = mid - 1;
      else if (ip > r.end) lo = mid + 1;
      else return r;
    }
    return undefined;
  }
}

/** How many free addresses of other servers' shares `allocate` passes over before taking one of them. */
const SHARE_PROBES = 2048;

function toInt(lease: Lease): number {
  // Lease records carry dotted quads; the table is keyed by the integer.
  const [a, b, c, d] = lease.ip.split('.').map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

interface PoolRange {
  start: number;
  end: number;
  /** Index of `start` among the subnet's pool addresses. */
  offset: number;
  pool: PoolState;
}

/**
 * One subnet's pool addresses, numbered in configuration order (the order
 * a scan visits them in), with the set of those free for anyone, the scan
 * cursor, and, per client, the pool addresses its bound records hold.
 */
class PoolState {
  readonly ranges: PoolRange[];
  readonly total: number;
  readonly free: SearchableBitset;
  cursor = 0;
  readonly #blocked = new Set<number>();
  /** client key → pool addresses of its bound records (usually one). */
  readonly #bound = new Map<string, number | number[]>();

  constructor(subnet: ServedSubnet, isBlocked: (ip: number) => boolean, excluded: Iterable<number>) {
    let offset = 0;
    this.ranges = subnet.pools.map((p) => {
      const range = { start: p.start, end: p.end, offset, pool: this };
      offset += p.end - p.start + 1;
      return range;
    });
    this.total = offset;
    this.free = new SearchableBitset(this.total);
    this.free.fill();
    // Never free: few (the server's addresses, reservations), so found by
    // checking those lists against the pools, not the pools one by one.
    const candidates = [...this.#edgesOf(subnet), ...subnet.reservedIps.keys(), ...excluded];
    for (const ip of candidates) {
      const index = this.indexOf(ip);
      if (index >= 0 && isBlocked(ip)) {
        this.#blocked.add(ip);
        this.free.delete(index);
      }
    }
    this.#isBlockedByServer = isBlocked;
  }

  readonly #isBlockedByServer: (ip: number) => boolean;

  blocked(ip: number): boolean {
    return this.#blocked.has(ip) || (this.#isBlockedByServer(ip) && this.#block(ip));
  }

  #block(ip: number): true {
    this.#blocked.add(ip);
    const index = this.indexOf(ip);
    if (index >= 0) this.free.delete(index);
    return true;
  }

  /** Addresses of the pools that are not hosts (none, since the config reader refuses them) — checked all the same. */
  *#edgesOf(subnet: ServedSubnet): Iterable<number> {
    for (const p of subnet.pools) {
      yield p.start;
      yield p.end;
    }
  }

  indexOf(ip: number): number {
    for (const r of this.ranges) if (ip >= r.start && ip <= r.end) return r.offset + (ip - r.start);
    return -1;
  }

  addressAt(index: number): number {
    for (const r of this.ranges) if (index < r.offset + (r.end - r.start + 1)) return r.start + (index - r.offset);
    throw new RangeError(`pool index ${index} out of range`);
  }

  /** How far a scan from the cursor goes before it reaches `index`. */
  distance(index: number): number {
    return (index - this.cursor + this.total) % this.total;
  }

  boundTo(clientKey: string): number[] {
    const ips = this.#bound.get(clientKey);
    return ips === undefined ? [] : typeof ips === 'number' ? [ips] : ips;
  }

  bind(clientKey: string, ip: number): void {
    const ips = this.#bound.get(clientKey);
    if (ips === undefined) this.#bound.set(clientKey, ip);
    else if (typeof ips === 'number') {
      if (ips !== ip) this.#bound.set(clientKey, [ips, ip]);
    } else if (!ips.includes(ip)) ips.push(ip);
  }

  unbind(clientKey: string, ip: number): void {
    const ips = this.#bound.get(clientKey);
    if (ips === ip) this.#bound.delete(clientKey);
    else if (Array.isArray(ips)) {
      const left = ips.filter((x) => x !== ip);
      this.#bound.set(clientKey, left.length === 1 ? left[0] : left);
    }
  }
}
