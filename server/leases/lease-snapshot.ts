import type { DnsChange } from './dns-change.ts';
import type { Lease } from './lease.ts';
import type { CommitOutcome, ConditionalLeaseChange } from './lease-store.ts';
import type { ChangeResult } from './group-committer.ts';
import { judgeChange, type LeaseRows } from './lease-expectation.ts';
import { reservationId, sortReservations, type StoredReservation } from './reservation.ts';

/**
 * Leases, queued DNS changes and stored reservations held in memory, changed the way a store's
 * transaction changes its tables: the memory store's whole content, and the
 * PostgreSQL store's copy of what it has read and written (what `loadAll`,
 * `loadDnsQueue` and `loadReservations` answer without a round trip).
 */
export class LeaseSnapshot implements LeaseRows {
  readonly #leases = new Map<string, Lease>();
  readonly #dnsQueue = new Map<number, DnsChange>();
  readonly #reservations = new Map<string, StoredReservation>();

  constructor(leases: readonly Lease[] = [], dnsQueue: readonly DnsChange[] = [], reservations: readonly StoredReservation[] = []) {
    for (const lease of leases) this.#leases.set(lease.ip, { ...lease });
    for (const change of dnsQueue) this.#dnsQueue.set(change.seq, { ...change });
    for (const r of reservations) this.#reservations.set(reservationId(r), { ...r });
  }

  leaseAt(ip: string): Lease | undefined {
    return this.#leases.get(ip);
  }

  bindingsOf(subnetId: string, clientKey: string): Lease[] {
    return [...this.#leases.values()].filter((l) => l.state === 'bound' && l.subnetId === subnetId && l.clientKey === clientKey);
  }

  leases(): Lease[] {
    return [...this.#leases.values()].map((lease) => ({ ...lease }));
  }

  dnsQueue(): DnsChange[] {
    return [...this.#dnsQueue.values()].sort((a, b) => a.seq - b.seq).map((c) => ({ ...c }));
  }

  reservations(): StoredReservation[] {
    return sortReservations([...this.#reservations.values()].map((r) => ({ ...r })));
  }

  /** One change, as a transaction applies it: puts, then removes, then the queue, then reservations. */
  apply(change: ConditionalLeaseChange): void {
    for (const { lease } of change.put ?? []) this.#leases.set(lease.ip, { ...lease });
    for (const ip of change.remove ?? []) this.#leases.delete(ip);
    for (const dns of change.enqueue ?? []) this.#dnsQueue.set(dns.seq, { ...dns });
    for (const seq of change.dequeue ?? []) this.#dnsQueue.delete(seq);
    for (const r of change.reserve ?? []) this.#reservations.set(reservationId(r), { ...r });
    for (const r of change.unreserve ?? []) this.#reservations.delete(reservationId(r));
  }

  /** Judges and applies one change (lease-expectation.ts), as the memory store's writer does. */
  applyIfHolds(change: ConditionalLeaseChange, now: number): CommitOutcome {
    const verdict = judgeChange(change, this, now);
    if (!verdict.ok) return { kind: 'lost', current: verdict.current };
    this.apply(change);
    return { kind: 'committed', enqueued: (change.enqueue ?? []).map((dns) => ({ seq: dns.seq, headOfName: this.#isHead(dns) })) };
  }

  /**
   * What another writer's store says is true now, after a change of ours
   * was lost: the rows at the change's addresses are replaced by `current`
   * (an address without a row there has none).
   */
  learn(change: ConditionalLeaseChange, current: readonly Lease[]): void {
    for (const { lease } of change.put ?? []) this.#leases.delete(lease.ip);
    for (const lease of current) this.#leases.set(lease.ip, { ...lease });
  }

  /** Keeps the copy in step with a group the database has written. */
  applyResults(changes: readonly ConditionalLeaseChange[], results: readonly ChangeResult[]): void {
    changes.forEach((change, i) => {
      const result = results[i];
      if (result.kind === 'committed') this.apply(change);
      else if (result.kind === 'lost') this.learn(change, result.current);
    });
  }

  #isHead(dns: DnsChange): boolean {
    for (const other of this.#dnsQueue.values()) if (other.fqdn === dns.fqdn && other.seq < dns.seq) return false;
    return true;
  }
}
