import type { CommitObserver, LeaseChange, LeaseStoreStats } from './lease-store.ts';
import { reasonOf } from '../../lib/core/errors.ts';
import { StoreError } from './store-error.ts';

/**
 * Writes a whole group in one transaction; returns (or resolves) only once
 * it is durable.
 */
export type WriteGroup = (changes: readonly LeaseChange[]) => void | Promise<void>;

interface Waiter {
  change: LeaseChange;
  resolve: () => void;
  reject: (err: StoreError) => void;
}

export const DEFAULT_MAX_BATCH = 512;

/**
 * Group commit: every `submit` made while the previous group is being
 * written, or in the same turn of the event loop, joins the next group,
 * written by one `WriteGroup` call. At most one group is in flight, so groups
 * reach the disk in submit order, and the slower the disk the larger the
 * groups: one sync then covers many leases. No promise resolves before the
 * write that holds its change has finished.
 */
export class GroupCommitter {
  readonly #store: string;
  readonly #write: WriteGroup;
  readonly #maxBatch: number;
  readonly #observer: CommitObserver | undefined;
  #pending: Waiter[] = [];
  #timer: NodeJS.Immediate | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;
  readonly #stats: LeaseStoreStats = { commits: 0, leasesWritten: 0, leasesRemoved: 0, lastBatchSize: 0 };

  constructor(store: string, write: WriteGroup, maxBatch = DEFAULT_MAX_BATCH, observer?: CommitObserver) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    }
    this.#store = store;
    this.#write = write;
    this.#maxBatch = maxBatch;
    this.#observer = observer;
  }

  submit(change: LeaseChange): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError(this.#store, 'commit after close'));
    // Snapshot now: the caller may keep mutating its lease objects while the group waits.
    const snapshot: LeaseChange = {
      put: change.put?.map((lease) => ({ ...lease })),
      remove: change.remove?.slice(),
      enqueue: change.enqueue?.map((dns) => ({ ...dns })),
      dequeue: change.dequeue?.slice(),
      reserve: change.reserve?.map((r) => ({ ...r })),
      unreserve: change.unreserve?.map((r) => ({ ...r })),
    };
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ change: snapshot, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#inFlight !== undefined || this.#pending.length === 0) return;
    if (this.#pending.length >= this.#maxBatch) void this.flush();
    else this.#timer ??= setImmediate(() => void this.flush());
  }

  /** Writes the pending group (after the one in flight, if any); resolves when it is settled. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
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
    const started = process.hrtime.bigint();
    try {
      await this.#write(changes);
    } catch (err) {
      const error = new StoreError(this.#store, `commit failed: ${reasonOf(err)}`, { cause: err });
      this.#observer?.failed(group.length, error);
      for (const w of group) w.reject(error);
      return;
    }
    this.#observer?.written(group.length, Number(process.hrtime.bigint() - started) / 1e9);
    this.#stats.commits += 1;
    this.#stats.lastBatchSize = group.length;
    for (const c of changes) {
      this.#stats.leasesWritten += c.put?.length ?? 0;
      this.#stats.leasesRemoved += c.remove?.length ?? 0;
    }
    for (const w of group) w.resolve();
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
