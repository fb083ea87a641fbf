import { ExpiryQueue } from '../../lib/core/expiry-queue.ts';
import type { Lease } from '../leases/lease.ts';
import { ipToInt } from '../../lib/wire/ipv4.ts';

/** An address promised in an OFFER, held so no other client is offered it. */
export interface OfferHold {
  ip: number;
  clientKey: string;
  subnetId: string;
  expiresAt: number;
}

/**
 * Told of every change at an address: its lease record or its offer hold
 * was set, replaced or removed, or one of them reached its expiry time as
 * the table was advanced. `before` is the lease record the address had
 * before the change (the same as now when only the hold changed).
 */
export type AddressListener = (ip: number, before: Lease | undefined) => void;

/**
 * The authoritative in-memory view of every lease and held offer. All
 * decisions are made here synchronously, so two requests in flight can never
 * see the same address as free; the store only makes the result durable.
 *
 * Time-based changes come from an expiry queue, not from scans: every
 * address with a hold, or with a lease that binds it (bound, or declined in
 * quarantine), is due at the earliest of those expiry times; `advance(now)`
 * takes what is due, drops expired holds, keeps expired bindings for
 * `takeExpiredLeases`, and tells the listeners.
 */
export class LeaseTable {
  private readonly byIp = new Map<number, Lease>();
  private readonly byClient = new Map<string, number>();
  private readonly offersByIp = new Map<number, OfferHold>();
  private readonly offersByClient = new Map<string, OfferHold>();
  /** subnet id → its holds by address, oldest first (a Map keeps insertion order; a new hold is always inserted anew). */
  private readonly offersBySubnet = new Map<string, Map<number, OfferHold>>();
  private readonly expiries = new ExpiryQueue();
  /** Addresses whose binding may have expired, for reclaim. */
  private readonly expiredDue = new Set<number>();
  private readonly listeners: AddressListener[] = [];
  #now = 0;

  constructor(leases: Iterable<Lease> = []) {
    for (const lease of leases) this.put(lease);
  }

  get size(): number {
    return this.byIp.size;
  }

  /** The latest time the table was advanced to (0 before the first advance). */
  get now(): number {
    return this.#now;
  }

  /** `listener` hears of every change from now on. */
  observe(listener: AddressListener): void {
    this.listeners.push(listener);
  }

  /**
   * Moves the table's time on to `now` (never back): holds that have
   * expired are dropped, bindings that have expired are kept for
   * `takeExpiredLeases`, and listeners hear of each address concerned.
   * Costs O(log n) per address due, nothing for the others.
   */
  advance(now: number): void {
    if (now > this.#now) this.#now = now;
    this.expiries.takeDue(this.#now, (ip) => {
      const hold = this.offersByIp.get(ip);
      if (hold && hold.expiresAt <= this.#now) {
        this.dropOffer(hold); // reschedules and notifies
      } else {
        this.reschedule(ip);
        this.notify(ip, this.byIp.get(ip));
      }
    });
  }

  leaseAt(ip: number): Lease | undefined {
    return this.byIp.get(ip);
  }

  leaseOf(subnetId: string, clientKey: string): Lease | undefined {
    const ip = this.byClient.get(clientIndexKey(subnetId, clientKey));
    return ip === undefined ? undefined : this.byIp.get(ip);
  }

  put(lease: Lease): void {
    const ip = ipToInt(lease.ip);
    const previous = this.byIp.get(ip);
    this.record(ip, lease);
    this.reschedule(ip);
    this.notify(ip, previous);
  }

  /** Undo a put whose commit failed: restore what was there before. */
  restore(ip: number, previous: Lease | undefined): void {
    const current = this.byIp.get(ip);
    if (current) this.unindexClient(current, ip);
    this.byIp.delete(ip);
    if (previous) this.record(ip, previous);
    this.reschedule(ip);
    this.notify(ip, current);
  }

  private record(ip: number, lease: Lease): void {
    const previous = this.byIp.get(ip);
    if (previous && previous.clientKey !== lease.clientKey) {
      this.unindexClient(previous, ip);
    }
    this.byIp.set(ip, lease);
    const key = clientIndexKey(lease.subnetId, lease.clientKey);
    const oldIp = this.byClient.get(key);
    // A client holds one address per subnet: a new one supersedes the old
    // record (which stays in byIp as history until reused or reclaimed).
    if (oldIp !== undefined && oldIp !== ip) this.byClient.delete(key);
    this.byClient.set(key, ip);
  }

  remove(ip: number): void {
    const current = this.byIp.get(ip);
    if (!current) return;
    this.unindexClient(current, ip);
    this.byIp.delete(ip);
    this.reschedule(ip);
    this.notify(ip, current);
  }

  all(): IterableIterator<Lease> {
    return this.byIp.values();
  }

  /**
   * The bindings (bound, or declined in quarantine) whose expiry time has
   * passed by `now`: what reclaim must mark expired. Found through the
   * expiry queue; each is returned until its record changes.
   */
  takeExpiredLeases(now: number): Lease[] {
    this.advance(now);
    const expired: Lease[] = [];
    for (const ip of this.expiredDue) {
      const lease = this.byIp.get(ip);
      if (lease && bindsAddress(lease) && lease.expiresAt <= this.#now) expired.push(lease);
      else this.expiredDue.delete(ip);
    }
    return expired;
  }

  holdOffer(hold: OfferHold): void {
    this.releaseOfferOf(hold.clientKey);
    const displaced = this.offersByIp.get(hold.ip);
    if (displaced) this.dropOffer(displaced);
    this.offersByIp.set(hold.ip, hold);
    this.offersByClient.set(hold.clientKey, hold);
    let inSubnet = this.offersBySubnet.get(hold.subnetId);
    if (!inSubnet) this.offersBySubnet.set(hold.subnetId, (inSubnet = new Map()));
    inSubnet.set(hold.ip, hold);
    this.reschedule(hold.ip);
    this.notify(hold.ip, this.byIp.get(hold.ip));
  }

  /** The live offer made to this client, if any. */
  offerOf(clientKey: string, now: number): OfferHold | undefined {
    const hold = this.offersByClient.get(clientKey);
    if (hold && hold.expiresAt <= now) {
      this.dropOffer(hold);
      return undefined;
    }
    return hold;
  }

  /** The live offer holding this address, if any. */
  offerAt(ip: number, now: number): OfferHold | undefined {
    const hold = this.offersByIp.get(ip);
    if (hold && hold.expiresAt <= now) {
      this.dropOffer(hold);
      return undefined;
    }
    return hold;
  }

  /** The hold recorded at this address, live or expired but not yet dropped; changes nothing. */
  peekOfferAt(ip: number): OfferHold | undefined {
    return this.offersByIp.get(ip);
  }

  releaseOfferOf(clientKey: string): void {
    const hold = this.offersByClient.get(clientKey);
    if (hold) this.dropOffer(hold);
  }

  /** Forget offers nobody took up (through the expiry queue); returns how many were dropped. */
  sweepOffers(now: number): number {
    const before = this.offersByIp.size;
    this.advance(now);
    return before - this.offersByIp.size;
  }

  /** Every hold recorded, oldest first (expired ones until the table is advanced past them). */
  heldOffers(): IterableIterator<OfferHold> {
    return this.offersByIp.values();
  }

  get offerCount(): number {
    return this.offersByIp.size;
  }

  /** Holds recorded in a subnet (expired ones count until the table is advanced past them). */
  offerCountIn(subnetId: string): number {
    return this.offersBySubnet.get(subnetId)?.size ?? 0;
  }

  /** The hold made longest ago in the subnet (all holds last as long, so also the first to expire). */
  oldestOfferIn(subnetId: string): OfferHold | undefined {
    return first(this.offersBySubnet.get(subnetId)?.values());
  }

  /** The hold made longest ago in any subnet. */
  oldestOffer(): OfferHold | undefined {
    return first(this.offersByIp.values());
  }

  /** Withdraws a hold before its time (a cap on holds needs the room). */
  dropOfferAt(ip: number): void {
    const hold = this.offersByIp.get(ip);
    if (hold) this.dropOffer(hold);
  }

  private dropOffer(hold: OfferHold): void {
    if (this.offersByClient.get(hold.clientKey) === hold) this.offersByClient.delete(hold.clientKey);
    if (this.offersByIp.get(hold.ip) !== hold) return;
    this.offersByIp.delete(hold.ip);
    const inSubnet = this.offersBySubnet.get(hold.subnetId);
    inSubnet?.delete(hold.ip);
    if (inSubnet?.size === 0) this.offersBySubnet.delete(hold.subnetId);
    this.reschedule(hold.ip);
    this.notify(hold.ip, this.byIp.get(hold.ip));
  }

  /**
   * Puts the address in the expiry queue at the earliest time something
   * about it expires: its hold, or its binding. A binding already past
   * its time is kept for reclaim instead.
   */
  private reschedule(ip: number): void {
    let at = Infinity;
    const hold = this.offersByIp.get(ip);
    if (hold) at = hold.expiresAt;
    const lease = this.byIp.get(ip);
    if (lease && bindsAddress(lease)) {
      if (lease.expiresAt > this.#now) at = Math.min(at, lease.expiresAt);
      else this.expiredDue.add(ip);
    }
    if (at === Infinity) this.expiries.cancel(ip);
    else this.expiries.schedule(ip, at);
  }

  private notify(ip: number, before: Lease | undefined): void {
    for (const listener of this.listeners) listener(ip, before);
  }

  private unindexClient(lease: Lease, ip: number): void {
    const key = clientIndexKey(lease.subnetId, lease.clientKey);
    if (this.byClient.get(key) === ip) this.byClient.delete(key);
  }
}

/** A record that keeps its address from others until it expires: a binding, or a declined address in quarantine. */
function bindsAddress(lease: Lease): boolean {
  return lease.state === 'bound' || lease.state === 'declined';
}

function first<T>(values: IterableIterator<T> | undefined): T | undefined {
  return values?.next().value;
}

function clientIndexKey(subnetId: string, clientKey: string): string {
  return `${subnetId}|${clientKey}`;
}
