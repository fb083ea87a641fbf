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
 * The authoritative in-memory view of every lease and held offer. All
 * decisions are made here synchronously, so two requests in flight can never
 * see the same address as free; the store only makes the result durable.
 */
export class LeaseTable {
  private readonly byIp = new Map<number, Lease>();
  private readonly byClient = new Map<string, number>();
  private readonly offersByIp = new Map<number, OfferHold>();
  private readonly offersByClient = new Map<string, OfferHold>();

  constructor(leases: Iterable<Lease> = []) {
    for (const lease of leases) this.put(lease);
  }

  get size(): number {
    return this.byIp.size;
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

  /** Undo a put whose commit failed: restore what was there before. */
  restore(ip: number, previous: Lease | undefined): void {
    const current = this.byIp.get(ip);
    if (current) this.unindexClient(current, ip);
    this.byIp.delete(ip);
    if (previous) this.put(previous);
  }

  remove(ip: number): void {
    const current = this.byIp.get(ip);
    if (!current) return;
    this.unindexClient(current, ip);
    this.byIp.delete(ip);
  }

  all(): IterableIterator<Lease> {
    return this.byIp.values();
  }

  holdOffer(hold: OfferHold): void {
    this.releaseOfferOf(hold.clientKey);
    this.offersByIp.set(hold.ip, hold);
    this.offersByClient.set(hold.clientKey, hold);
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

  releaseOfferOf(clientKey: string): void {
    const hold = this.offersByClient.get(clientKey);
    if (hold) this.dropOffer(hold);
  }

  /** Forget offers nobody took up, so the maps cannot grow without bound. */
  sweepOffers(now: number): number {
    let dropped = 0;
    for (const hold of this.offersByIp.values()) {
      if (hold.expiresAt <= now) {
        this.dropOffer(hold);
        dropped++;
      }
    }
    return dropped;
  }

  get offerCount(): number {
    return this.offersByIp.size;
  }

  private dropOffer(hold: OfferHold): void {
    if (this.offersByIp.get(hold.ip) === hold) this.offersByIp.delete(hold.ip);
    if (this.offersByClient.get(hold.clientKey) === hold) this.offersByClient.delete(hold.clientKey);
  }

  private unindexClient(lease: Lease, ip: number): void {
    const key = clientIndexKey(lease.subnetId, lease.clientKey);
    if (this.byClient.get(key) === ip) this.byClient.delete(key);
  }
}

function clientIndexKey(subnetId: string, clientKey: string): string {
  return `${subnetId}|${clientKey}`;
}
