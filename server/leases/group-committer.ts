import type { LeaseChange, LeaseStoreStats } from './lease-store.ts';
import { reasonOf } from '../errors.ts';
import { StoreError } from './store-error.ts';

/** Writes a whole group in one transaction; returns only once it is durable. */
export type WriteGroup = (changes: readonly LeaseChange[]) => void;

interface Waiter {
  change: LeaseChange;
  resolve: () => void;
  reject: (err: StoreError) => void;
}

export const DEFAULT_MAX_BATCH = 512;

/**
 * Group commit: every `submit` in the same turn of the event loop joins one
 * group, written by one `WriteGroup` call on the next macrotask (or at once
 * when the group reaches `maxBatch`). One sync then covers many leases, while
 * no promise resolves before the write that holds its change has returned.
 */
export class GroupCommitter {
  readonly #store: string;
  readonly #write: WriteGroup;
  readonly #maxBatch: number;
  #pending: Waiter[] = [];
  #timer: NodeJS.Immediate | undefined;
  #closed = false;
  readonly #stats: LeaseStoreStats = { commits: 0, leasesWritten: 0, leasesRemoved: 0, lastBatchSize: 0 };

  constructor(store: string, write: WriteGroup, maxBatch = DEFAULT_MAX_BATCH) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
    }
    this.#store = store;
    this.#write = write;
    this.#maxBatch = maxBatch;
  }

  submit(change: LeaseChange): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError(this.#store, 'commit after close'));
    // Snapshot now: the caller may keep mutating its lease objects while the group waits.
    const snapshot: LeaseChange = {
      put: change.put?.map((lease) => ({ ...lease })),
      remove: change.remove?.slice(),
    };
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ change: snapshot, resolve, reject });
      if (this.#pending.length >= this.#maxBatch) this.flush();
      else this.#timer ??= setImmediate(() => this.flush());
    });
  }

  /** Writes the pending group now. Synchronous: when it returns, every waiter is settled. */
  flush(): void {
    if (this.#timer !== undefined) clearImmediate(this.#timer);
    this.#timer = undefined;
    const group = this.#pending;
    if (group.length === 0) return;
    this.#pending = [];
    const changes = group.map((w) => w.change);
    try {
      this.#write(changes);
    } catch (err) {
      const error = new StoreError(this.#store, `commit failed: ${reasonOf(err)}`, { cause: err });
      for (const w of group) w.reject(error);
      return;
    }
    this.#stats.commits += 1;
    this.#stats.lastBatchSize = group.length;
    for (const c of changes) {
      this.#stats.leasesWritten += c.put?.length ?? 0;
      this.#stats.leasesRemoved += c.remove?.length ?? 0;
    }
    for (const w of group) w.resolve();
  }

  /** Flushes what is pending and refuses later submits. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  stats(): LeaseStoreStats {
    return { ...this.#stats };
  }
}
