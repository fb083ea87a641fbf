import type { Clock } from '../../lib/core/clock.ts';
import type { DnsChange } from './dns-change.ts';
import type { Lease } from './lease.ts';
import type { CommitObserver, CommitOutcome, ConditionalLeaseChange, ConditionalLeaseStore, LeaseChange, LeaseStoreStats } from './lease-store.ts';
import type { StoredReservation } from './reservation.ts';
import { GroupCommitter } from './group-committer.ts';
import { unconditional } from './lease-expectation.ts';
import { LeaseSnapshot } from './lease-snapshot.ts';

/**
 * A lease store that forgets everything on exit, for unit tests of the DHCP
 * logic. It groups and settles commits exactly like the SQLite store, so code
 * tested against it sees the same timing, and it checks conditional writes
 * by the same rule, so two writers on one memory store model two servers on
 * one database.
 */
export class MemoryLeaseStore implements ConditionalLeaseStore {
  readonly #rows: LeaseSnapshot;
  readonly #committer: GroupCommitter;

  constructor(
    initial: readonly Lease[] = [],
    opts: { maxBatch?: number; clock?: Clock; observer?: CommitObserver; failWith?: () => Error | undefined } = {},
  ) {
    this.#rows = new LeaseSnapshot(initial);
    const now = () => (opts.clock ?? Date).now();
    this.#committer = new GroupCommitter(
      'memory',
      (changes) => {
        // Tests make the store fail on demand (a full disk), to see what the server does then.
        const failure = opts.failWith?.();
        if (failure) throw failure;
        return changes.map((c) => this.#rows.applyIfHolds(c, now()));
      },
      opts.maxBatch,
      opts.observer,
    );
  }

  loadAll(): Lease[] {
    return this.#rows.leases();
  }

  loadDnsQueue(): DnsChange[] {
    return this.#rows.dnsQueue();
  }

  loadReservations(): StoredReservation[] {
    return this.#rows.reservations();
  }

  async commit(change: LeaseChange): Promise<void> {
    await this.#committer.submit(unconditional(change));
  }

  commitConditional(change: ConditionalLeaseChange): Promise<CommitOutcome> {
    return this.#committer.submit(change);
  }

  close(): Promise<void> {
    return this.#committer.close();
  }

  stats(): LeaseStoreStats {
    return this.#committer.stats();
  }
}
