import type { LogFields, Logger, LogLevel } from './logger.ts';

/** What IntervalLog needs of timers; tests pass their own. */
export interface IntervalTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const nodeTimers: IntervalTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Tally {
  level: LogLevel;
  event: string;
  fields: LogFields;
  /** Occurrences since the last line written for this key. */
  count: number;
  /** When the last line for this key was written; the window it opened ends intervalMs later. */
  loggedAt: number;
}

/**
 * Logs what happens per packet at most once per interval per kind, so a
 * flood makes a few lines, not one per frame: the first occurrence of a
 * kind (an event and its fields, e.g. `send-dropped` with reason `stale`)
 * is written at once with `count: 1`; the ones after it in the same
 * interval are only counted, and one line at the end of the interval
 * carries their `count` and `intervalSeconds`. A kind that stays quiet for
 * a whole interval starts over with a line at once. Counters (for
 * /metrics) are kept by the caller; this is only the operator's log.
 */
export class IntervalLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #timers: IntervalTimers;
  readonly #tallies = new Map<string, Tally>();
  #timer: unknown;
  #closed = false;

  constructor(logger: Logger, intervalMs: number, timers: IntervalTimers = nodeTimers) {
    if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be positive, got ${intervalMs}`);
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#timers = timers;
  }

  warn(event: string, fields: LogFields = {}, by = 1, detail?: LogFields): void {
    this.note('warn', event, fields, by, detail);
  }

  info(event: string, fields: LogFields = {}, by = 1, detail?: LogFields): void {
    this.note('info', event, fields, by, detail);
  }

  /**
   * Counts `by` occurrences of the kind (`event` + `fields`; fields should
   * be few and low-cardinality: a reason, an interface, never an address).
   * `detail` (e.g. the one address) is written only on a line written at
   * once, as an example of the kind; it does not tell kinds apart.
   */
  note(level: LogLevel, event: string, fields: LogFields, by = 1, detail?: LogFields): void {
    if (this.#closed || !this.#logger.enabled(level)) return;
    const key = kindKey(event, fields);
    const now = this.#timers.now();
    const tally = this.#tallies.get(key);
    if (tally === undefined || now - tally.loggedAt >= this.#intervalMs) {
      if (tally !== undefined && tally.count > 0) this.#write(tally, now);
      this.#logger[level](event, { ...fields, ...detail, count: by });
      this.#tallies.set(key, { level, event, fields, count: 0, loggedAt: now });
    } else {
      tally.count += by;
    }
    this.#arm();
  }

  /** Writes the counts still pending (e.g. at stop) and stops the timer. */
  close(): void {
    if (this.#closed) return;
    this.#flushDue(this.#timers.now(), true);
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    let due = Infinity;
    for (const t of this.#tallies.values()) if (t.count > 0) due = Math.min(due, t.loggedAt + this.#intervalMs);
    if (due === Infinity) return;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#flushDue(this.#timers.now());
      this.#arm();
    }, Math.max(0, due - this.#timers.now()));
  }

  /** Writes every tally whose interval has ended by `now` (or all, at close); forgets kinds with nothing pending. */
  #flushDue(now: number, all = false): void {
    for (const [key, t] of this.#tallies) {
      if (!all && now - t.loggedAt < this.#intervalMs) continue;
      if (t.count > 0) this.#write(t, now);
      else this.#tallies.delete(key);
    }
  }

  #write(t: Tally, now: number): void {
    this.#logger[t.level](t.event, { ...t.fields, count: t.count, intervalSeconds: round((now - t.loggedAt) / 1000) });
    t.count = 0;
    t.loggedAt = now;
  }
}

function kindKey(event: string, fields: LogFields): string {
  return JSON.stringify([event, Object.keys(fields).sort().map((k) => [k, fields[k]])]);
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
