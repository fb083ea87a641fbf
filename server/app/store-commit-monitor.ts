import type { Clock } from '../../lib/core/clock.ts';
import { reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { CommitObserver } from '../leases/lease-store.ts';
import type { Counters } from './counters.ts';

/** Upper bounds of the commit latency histogram, in seconds (an fsync is ~0.1–10 ms; a database across a network more). */
export const COMMIT_SECONDS_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Upper bounds of the group size histogram (commit calls per transaction; the store's maxBatch caps it). */
export const GROUP_SIZE_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** While the store keeps failing, one `lease-store-unavailable` line per this long, not one per request. */
export const UNAVAILABLE_LOG_INTERVAL_MS = 10_000;

/**
 * Counts what the lease store's group commits do, and says when the store
 * stops and starts answering. A store that fails (a full disk, PostgreSQL
 * gone) fails every request that needs a commit — which gets no ACK
 * (RFC 2131 §4.3.1: nothing is acknowledged that is not stored) — so the
 * log gets one line when it starts failing, one per interval while it
 * goes on (with how many commits failed since the last line), and one when
 * a commit succeeds again; the counters have every failure.
 *
 * Counters: `store_commits` (groups written), `store_commit_failures`
 * (commit calls rejected), histograms `store_commit_seconds` and
 * `store_commit_group_size`.
 */
export class StoreCommitMonitor implements CommitObserver {
  readonly #counters: Counters;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  /** When the current outage began (undefined: the store answers). */
  #failingSince: number | undefined;
  #lastLoggedAt = 0;
  #failedSinceLog = 0;
  #failedInOutage = 0;
  #lastFailure: string | undefined;

  constructor(counters: Counters, logger: Logger, clock: Clock, intervalMs = UNAVAILABLE_LOG_INTERVAL_MS) {
    this.#counters = counters;
    this.#logger = logger;
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    counters.defineHistogram('store_commit_seconds', COMMIT_SECONDS_BOUNDS);
    counters.defineHistogram('store_commit_group_size', GROUP_SIZE_BOUNDS);
  }

  /** Whether the last group the store wrote succeeded (for a health check). */
  get available(): boolean {
    return this.#failingSince === undefined;
  }

  /** Why the last commit failed, while it is the last one (/healthz); undefined once one succeeds again. */
  get lastFailure(): string | undefined {
    return this.#lastFailure;
  }

  written(size: number, seconds: number): void {
    this.#lastFailure = undefined;
    this.#counters.inc('store_commits');
    this.#counters.observe('store_commit_seconds', seconds);
    this.#counters.observe('store_commit_group_size', size);
    if (this.#failingSince === undefined) return;
    this.#logger.warn('lease-store-available', { failedCommits: this.#failedInOutage, outageMs: this.#clock.now() - this.#failingSince });
    this.#failingSince = undefined;
    this.#failedInOutage = 0;
    this.#failedSinceLog = 0;
  }

  failed(size: number, error: Error): void {
    const now = this.#clock.now();
    this.#lastFailure = reasonOf(error);
    this.#counters.inc('store_commit_failures', {}, size);
    this.#failedSinceLog += size;
    this.#failedInOutage += size;
    const first = this.#failingSince === undefined;
    this.#failingSince ??= now;
    if (!first && now - this.#lastLoggedAt < this.#intervalMs) return;
    this.#logger.error('lease-store-unavailable', { err: error.message, failedCommits: this.#failedSinceLog, note: 'no ACK is sent for a lease that is not stored' });
    this.#lastLoggedAt = now;
    this.#failedSinceLog = 0;
  }
}
