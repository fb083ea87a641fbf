import type { CommitObserver, CommitOutcome, ConditionalLeaseChange, LeaseStoreStats } from './lease-store.ts';
import { reasonOf } from '../../lib/core/errors.ts';
import { StoreError } from './store-error.ts';

/** What became of one change of a group: its outcome, or the failure that rejects it alone. */
export type ChangeResult = CommitOutcome | { kind: 'failed'; error: unknown };

/**
 * Writes a whole group in one transaction and returns (or resolves with)
 * one result per change, in order, only once it is durable. Throwing fails
 * the whole group. A writer may answer `failed` for single changes when it
 * could tell which change the database refused (PostgreSQL re-runs a group
 * change by change after a constraint violation).
 */
export type WriteGroup = (changes: readonly ConditionalLeaseChange[]) => ChangeResult[] | Promise<ChangeResult[]>;

interface Waiter {
  change: ConditionalLeaseChange;
  /** `GatherClock.now()` when it was submitted. */
  at: number;
  resolve: (outcome: CommitOutcome) => void;
  reject: (err: StoreError) => void;
}

export const DEFAULT_MAX_BATCH = 512;

/** Time and timers for the gather window, replaceable so tests can drive them. */
export interface GatherClock {
  /** Milliseconds, fractional, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_CLOCK: GatherClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface GatherOptions {
  /**
   * Longest a commit waits for others to share its sync (ms; default 0: no
   * waiting). It waits only while submits arrive faster than this, so an
   * idle server commits at once.
   */
  maxWaitMs?: number;
  clock?: GatherClock;
}

/** Weight of the newest gap in the average gap between submits. */
const GAP_WEIGHT = 0.25;
/** A pause longer than this many windows counts as this long: the average recovers after one burst. */
const GAP_CAP_WINDOWS = 8;

/**
 * Group commit: every `submit` made while the previous group is being
 * written, or in the same turn of the event loop, joins the next group,
 * written by one `WriteGroup` call. At most one group is in flight, so groups
 * reach the disk in submit order, and the slower the disk the larger the
 * groups: one sync then covers many leases. No promise resolves before the
 * write that holds its change has finished.
 *
 * Under load a group may also wait (the gather window, `maxWaitMs`): while
 * the average gap between submits says another one will arrive before the
 * oldest waiter has waited `maxWaitMs`, the write is put off, so one sync
 * covers several leases even when each write is faster than the gap between
 * requests. The wait ends at the first submit that finds the next arrival
 * not expected in time, or by a timer (whose resolution is 1 ms) when
 * arrivals stop.
 */
export class GroupCommitter {
  readonly #store: string;
  readonly #write: WriteGroup;
  readonly #maxBatch: number;
  readonly #observer: CommitObserver | undefined;
  #pending: Waiter[] = [];
  #timer: NodeJS.Immediate | undefined;
  #deadline: unknown;
  readonly #maxWaitMs: number;
  readonly #clock: GatherClock;
  #lastSubmitAt: number | undefined;
  /** Average gap between submits (ms); infinite until two have been seen. */
  #averageGap = Number.POSITIVE_INFINITY;
  #inFlight: Promise<void> | undefined;
  #closed = false;
  readonly #stats: LeaseStoreStats = { commits: 0, leasesWritten: 0, leasesRemoved: 0, lastBatchSize: 0 };

  constructor(store: string, write: WriteGroup, maxBatch = DEFAULT_MAX_BATCH, observer?: CommitObserver, gather: GatherOptions = {}) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    }
    const maxWaitMs = gather.maxWaitMs ?? 0;
    if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) throw new RangeError(`maxWaitMs must be a non-negative number, got ${maxWaitMs}`);
    this.#maxWaitMs = maxWaitMs;
    this.#clock = gather.clock ?? REAL_CLOCK;
    this.#store = store;
    this.#write = write;
    this.#maxBatch = maxBatch;
    this.#observer = observer;
  }

  submit(change: ConditionalLeaseChange): Promise<CommitOutcome> {
    if (this.#closed) return Promise.reject(new StoreError(this.#store, 'commit after close'));
    // Snapshot now: the caller may keep mutating its lease objects while the group waits.
    const snapshot: ConditionalLeaseChange = {
      put: change.put?.map((w) => ({ lease: { ...w.lease }, expect: { ...w.expect } })),
      remove: change.remove?.slice(),
      enqueue: change.enqueue?.map((dns) => ({ ...dns })),
      dequeue: change.dequeue?.slice(),
      reserve: change.reserve?.map((r) => ({ ...r })),
      unreserve: change.unreserve?.map((r) => ({ ...r })),
    };
    const at = this.#clock.now();
    this.#noteArrival(at);
    return new Promise<CommitOutcome>((resolve, reject) => {
      this.#pending.push({ change: snapshot, at, resolve, reject });
      this.#schedule();
    });
  }

  #noteArrival(at: number): void {
    if (this.#lastSubmitAt !== undefined) {
      const gap = Math.min(at - this.#lastSubmitAt, GAP_CAP_WINDOWS * this.#maxWaitMs);
      this.#averageGap = Number.isFinite(this.#averageGap) ? this.#averageGap + (gap - this.#averageGap) * GAP_WEIGHT : gap;
    }
    this.#lastSubmitAt = at;
  }

  #schedule(): void {
    if (this.#inFlight !== undefined || this.#pending.length === 0) return;
    if (this.#pending.length >= this.#maxBatch) {
      void this.flush();
      return;
    }
    const waited = this.#clock.now() - this.#pending[0].at;
    if (waited + this.#averageGap < this.#maxWaitMs) {
      // Another submit is expected before the window closes: wait for it (or the timer).
      this.#deadline ??= this.#clock.setTimeout(() => void this.flush(), this.#maxWaitMs - waited);
      return;
    }
    this.#timer ??= setImmediate(() => void this.flush());
  }

  /** Writes the pending group (after the one in flight, if any); resolves when it is settled. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
    if (this.#deadline !== undefined) this.#clock.clearTimeout(this.#deadline);
    this.#deadline = undefined;
    if (this.#inFlight !== undefined) return this.#inFlight.then(() => this.flush());
    if (this.#pending.length === 0) return Promise.resolve();
    const group = this.#pending.splice(0, this.#maxBatch);
    this.#inFlight = this.#writeGroup(group).finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
    return this.#inFlight;
  }

  async #writeGroup(group: Waiter[]): Promise<void> {
    const changes = group.map((w) => w.change);
    let results: ChangeResult[];
    const started = process.hrtime.bigint();
    try {
      results = await this.#write(changes);
      if (results.length !== changes.length) throw new Error(`the writer answered ${results.length} results for ${changes.length} changes`);
    } catch (err) {
      const error = this.#failure(err);
      this.#observer?.failed(group.length, error);
      for (const w of group) w.reject(error);
      return;
    }
    this.#observer?.written(group.length, Number(process.hrtime.bigint() - started) / 1e9);
    this.#stats.commits += 1;
    this.#stats.lastBatchSize = group.length;
    group.forEach((w, i) => {
      const result = results[i];
      if (result.kind === 'failed') {
        w.reject(this.#failure(result.error));
        return;
      }
      if (result.kind === 'committed') {
        this.#stats.leasesWritten += w.change.put?.length ?? 0;
        this.#stats.leasesRemoved += w.change.remove?.length ?? 0;
      }
      w.resolve(result);
    });
  }

  #failure(err: unknown): StoreError {
    // A writer that already explains itself (PostgreSQL's one-line errors) is not wrapped twice.
    if (err instanceof StoreError && err.store === this.#store) return err;
    return new StoreError(this.#store, `commit failed: ${reasonOf(err)}`, { cause: err });
  }

  /** Writes everything pending and refuses later submits. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#inFlight !== undefined || this.#pending.length > 0) await this.flush();
  }

  stats(): LeaseStoreStats {
    return { ...this.#stats };
  }
}
