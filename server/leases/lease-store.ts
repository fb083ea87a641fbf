import type { DnsChange } from './dns-change.ts';
import type { Lease, LeaseState } from './lease.ts';
import type { ReservationKey, StoredReservation } from './reservation.ts';

/**
 * One atomic change: leases to insert or replace (by ip), then ips to forget
 * (puts apply before removes within one change), and the DNS queue's
 * entries added and finished in the same transaction.
 */
export interface LeaseChange {
  put?: Lease[];
  remove?: string[];
  enqueue?: DnsChange[];
  /** Sequence numbers of DNS changes that are done. */
  dequeue?: number[];
  /** Reservations made through the control API, inserted or replaced by (subnetId, ip). */
  reserve?: StoredReservation[];
  /** Reservations withdrawn through the control API (applied after `reserve`). */
  unreserve?: ReservationKey[];
}

/**
 * Where leases live between restarts. The server keeps its working set in
 * memory (`loadAll` once at start) and writes every change through `commit`.
 *
 * `commit` resolves only once the change is durable: the server sends an ACK
 * after that, never before (RFC 2131 §4.3.1 — the server must not forget a
 * binding it has acknowledged). Concurrent commits are grouped into one
 * transaction so durability costs one sync per group, not one per lease; a
 * failed group rejects every promise in it. Within a group, changes apply in
 * call order, so a later change to the same ip wins.
 */
export interface LeaseStore {
  loadAll(): Lease[];
  /** DNS changes not yet done, in sequence order. */
  loadDnsQueue(): DnsChange[];
  /**
   * Reservations made through the control API (`LeaseChange.reserve`),
   * ordered by subnet id, then address. Read once at start, like `loadAll`;
   * every store implements it (SQLite: table `reservations`).
   */
  loadReservations(): StoredReservation[];
  commit(change: LeaseChange): Promise<void>;
  /** Writes what is pending, then releases the store. */
  close(): Promise<void>;
}

/**
 * What the writer assumed about the row at a lease's address when it
 * decided; the store applies the write only if that still holds when the
 * write's transaction reads the row (`expectationHolds` is the rule,
 * `lh_commit_group` its SQL twin). Several servers sharing one database
 * each decide from their own copy of the table: the condition is what keeps
 * a stale copy from binding an address twice.
 */
export type LeaseExpectation =
  /** A binding: the address is free, or already this client's (and not declined), or reusable; and the client holds no other binding in the subnet. */
  | { kind: 'bind' }
  /** Release or decline: the row is still this client's (in this state, when given). */
  | { kind: 'held'; clientKey: string; state?: LeaseState }
  /** Reclaim: the row is unchanged since it was seen (state and expiry), and over. */
  | { kind: 'lapsed'; state: LeaseState; expiresAt: number }
  /** Unconditional: `commit`, migrations and admin tools. */
  | { kind: 'any' };

export interface LeaseWrite {
  lease: Lease;
  expect: LeaseExpectation;
}

/** A `LeaseChange` whose puts carry what the writer expected; applied whole or not at all. */
export interface ConditionalLeaseChange {
  put?: LeaseWrite[];
  remove?: string[];
  enqueue?: DnsChange[];
  dequeue?: number[];
  reserve?: StoredReservation[];
  unreserve?: ReservationKey[];
}

/** The DNS queue rows a committed change added, in its order, and whether each was first in its name's queue. */
export interface EnqueuedDnsChange {
  seq: number;
  headOfName: boolean;
}

export type CommitOutcome =
  | { kind: 'committed'; enqueued: EnqueuedDnsChange[] }
  /**
   * An expectation did not hold, so nothing of the change was written. The
   * rows as they are now: those at the change's addresses (an address not
   * listed has no row), and the client's other binding when that blocked a
   * `bind`.
   */
  | { kind: 'lost'; current: Lease[] };

/**
 * A store that can apply a change on conditions. `commitConditional`
 * groups like `commit` (one transaction, durable before it resolves, call
 * order) and rejects only when the store fails; a change whose expectation
 * does not hold resolves `lost` and leaves the others of its group alone.
 * `commit(change)` is `commitConditional` with every put unconditional.
 */
export interface ConditionalLeaseStore extends LeaseStore {
  commitConditional(change: ConditionalLeaseChange): Promise<CommitOutcome>;
}

/**
 * Told of every group transaction a store writes (the appliance feeds its
 * metrics from it: commit latency and group size, and whether the store
 * answered its last commit, for /healthz). Every store takes one in its
 * options and hands it to its GroupCommitter.
 */
export interface CommitObserver {
  /** A group of `size` commit calls became durable in `seconds`. */
  written(size: number, seconds: number): void;
  /** A group failed; every commit of it was rejected with `error`. */
  failed(size: number, error: Error): void;
}

/** Counters every store exposes, for /metrics and tests. */
export interface LeaseStoreStats {
  /** Transactions written (one per group). */
  commits: number;
  leasesWritten: number;
  leasesRemoved: number;
  /** Number of `commit` calls folded into the last transaction. */
  lastBatchSize: number;
}
