import { reasonOf } from '../../lib/core/errors.ts';
import type { CommitObserver, LeaseStore } from '../leases/lease-store.ts';
import { HISTOGRAMS } from '../ops/metric-catalog.ts';
import type { HistogramSink } from './counters.ts';
import type { Service } from './service.ts';

/**
 * The lease store as a service: opened first, closed last, so every other
 * service's last write (a lease, a DNS change done) still lands. It hears
 * every group the store writes, for the commit latency and group size
 * histograms, and remembers whether the last one failed (/healthz).
 */
export class StoreService implements Service {
  readonly name = 'store';
  #store: LeaseStore | undefined;
  #lastFailure: string | undefined;

  /** `open` throws StoreError (one line naming the path) when the store cannot be used. */
  constructor(
    private readonly open: (observer: CommitObserver) => LeaseStore,
    private readonly metrics?: HistogramSink,
  ) {}

  /** The open store; only between start and stop. */
  get store(): LeaseStore {
    if (!this.#store) throw new Error('the lease store is not open');
    return this.#store;
  }

  /** Why the last commit failed, while it is the last one; undefined once one succeeds again. */
  get lastCommitFailure(): string | undefined {
    return this.#lastFailure;
  }

  /** Whether the store is open (between start and stop). */
  get isOpen(): boolean {
    return this.#store !== undefined;
  }

  async start(): Promise<void> {
    const observer: CommitObserver = {
      written: (size, seconds) => {
        this.#lastFailure = undefined;
        this.metrics?.observe(HISTOGRAMS.storeCommitSeconds.name, seconds);
        this.metrics?.observe(HISTOGRAMS.storeGroupSize.name, size);
      },
      failed: (_size, error) => {
        this.#lastFailure = reasonOf(error);
      },
    };
    this.#store = this.open(observer);
  }

  async stop(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    await store?.close();
  }
}
