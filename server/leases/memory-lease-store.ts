import type { DnsChange } from './dns-change.ts';
import type { Lease } from './lease.ts';
import type { CommitObserver, LeaseChange, LeaseStore, LeaseStoreStats } from './lease-store.ts';
import { reservationId, sortReservations } from './reservation.ts';
import type { StoredReservation } from './reservation.ts';
import { GroupCommitter } from './group-committer.ts';

/**
 * A lease store that forgets everything on exit, for unit tests of the DHCP
 * logic. It groups and settles commits exactly like the SQLite store, so code
 * tested against it sees the same timing.
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, Lease>();
  readonly #dnsQueue = new Map<number, DnsChange>();
  readonly #reservations = new Map<string, StoredReservation>();
  readonly #committer: GroupCommitter;

  constructor(initial: readonly Lease[] = [], opts: { maxBatch?: number; observer?: CommitObserver; failWith?: () => Error | undefined } = {}) {
    for (const lease of initial) this.#leases.set(lease.ip, { ...lease });
    this.#committer = new GroupCommitter('memory', (changes) => {
      // Tests make the store fail on demand (a full disk), to see what the server does then.
      const failure = opts.failWith?.();
      if (failure) throw failure;
      this.#apply(changes);
    }, opts.maxBatch, opts.observer);
  }

  loadAll(): Lease[] {
    return [...this.#leases.values()].map((lease) => ({ ...lease }));
  }

  loadDnsQueue(): DnsChange[] {
    return [...this.#dnsQueue.values()].sort((a, b) => a.seq - b.seq).map((c) => ({ ...c }));
  }

  loadReservations(): StoredReservation[] {
    return sortReservations([...this.#reservations.values()].map((r) => ({ ...r })));
  }

  commit(change: LeaseChange): Promise<void> {
    return this.#committer.submit(change);
  }

  close(): Promise<void> {
    return this.#committer.close();
  }

  stats(): LeaseStoreStats {
    return this.#committer.stats();
  }

  #apply(changes: readonly LeaseChange[]): void {
    for (const change of changes) {
      for (const lease of change.put ?? []) this.#leases.set(lease.ip, lease);
      for (const ip of change.remove ?? []) this.#leases.delete(ip);
      for (const dns of change.enqueue ?? []) this.#dnsQueue.set(dns.seq, { ...dns });
      for (const seq of change.dequeue ?? []) this.#dnsQueue.delete(seq);
      for (const r of change.reserve ?? []) this.#reservations.set(reservationId(r), { ...r });
      for (const r of change.unreserve ?? []) this.#reservations.delete(reservationId(r));
    }
  }
}
