/** Why a DeadlineQueue let an item go unserved. */
export type QueueDropReason = 'stale' | 'overflow';

export interface DeadlineQueueLimits {
  /** Items held at most; a push beyond it drops the oldest. */
  maxLength: number;
  /** An item older than this (from its `arrivedAt`) is never handed out. */
  maxAgeMs: number;
}

/**
 * A bounded FIFO whose items expire: each carries the time it arrived, and
 * `shift` hands out only items younger than `maxAgeMs`, dropping the
 * expired ones it meets (reason `stale`). When full, a push drops the
 * OLDEST item (reason `overflow`), not the new one: under overload the
 * items served then wait maxLength / arrival-rate instead of
 * maxLength / service-rate, and the newest is the one most worth serving
 * (a DHCP client that has waited longest is the likeliest to have
 * retransmitted or given up, RFC 2131 §4.1). Times are whatever clock the
 * caller uses, as long as it is one clock.
 *
 * A ring buffer: no allocation per push or shift.
 */
export class DeadlineQueue<T> {
  readonly #items: Array<T | undefined>;
  readonly #arrivals: Float64Array;
  readonly #maxAgeMs: number;
  readonly #onDrop: (item: T, reason: QueueDropReason, arrivedAt: number) => void;
  #head = 0;
  #length = 0;
  #lastShiftedArrival = NaN;

  constructor(limits: DeadlineQueueLimits, onDrop: (item: T, reason: QueueDropReason, arrivedAt: number) => void) {
    if (!Number.isInteger(limits.maxLength) || limits.maxLength < 1) throw new RangeError(`maxLength must be a positive integer, got ${limits.maxLength}`);
    if (!(limits.maxAgeMs > 0)) throw new RangeError(`maxAgeMs must be positive, got ${limits.maxAgeMs}`);
    this.#items = new Array<T | undefined>(limits.maxLength);
    this.#arrivals = new Float64Array(limits.maxLength);
    this.#maxAgeMs = limits.maxAgeMs;
    this.#onDrop = onDrop;
  }

  get length(): number {
    return this.#length;
  }

  get capacity(): number {
    return this.#items.length;
  }

  /** Whether something that arrived at `arrivedAt` may still be served at `now`. */
  isFresh(arrivedAt: number, now: number): boolean {
    return now - arrivedAt < this.#maxAgeMs;
  }

  /** Appends at the tail; when full, the item at the head goes first (`overflow`). */
  push(item: T, arrivedAt: number): void {
    if (this.#length === this.#items.length) this.#dropHead('overflow');
    const at = (this.#head + this.#length) % this.#items.length;
    this.#items[at] = item;
    this.#arrivals[at] = arrivedAt;
    this.#length++;
  }

  /**
   * Puts an item back at the head (one just taken that could not be
   * served yet, e.g. a send that met EAGAIN), keeping its place in line.
   * When full, it is the one dropped: every other item is younger.
   */
  unshift(item: T, arrivedAt: number): void {
    if (this.#length === this.#items.length) {
      this.#onDrop(item, 'overflow', arrivedAt);
      return;
    }
    this.#head = (this.#head - 1 + this.#items.length) % this.#items.length;
    this.#items[this.#head] = item;
    this.#arrivals[this.#head] = arrivedAt;
    this.#length++;
  }

  /** The oldest item still fresh at `now`, removed; expired ones met on the way are dropped (`stale`). */
  shift(now: number): T | undefined {
    while (this.#length > 0) {
      const arrivedAt = this.#arrivals[this.#head];
      if (!this.isFresh(arrivedAt, now)) {
        this.#dropHead('stale');
        continue;
      }
      this.#lastShiftedArrival = arrivedAt;
      return this.#take();
    }
    return undefined;
  }

  /** When the item the last successful `shift` returned had arrived (to `unshift` it with its own time). */
  get lastShiftedArrival(): number {
    return this.#lastShiftedArrival;
  }

  /** When the head item arrived (after `shift` or `push` it is the next one out), or undefined when empty. */
  headArrival(): number | undefined {
    return this.#length > 0 ? this.#arrivals[this.#head] : undefined;
  }

  /** Drops every item that is expired at `now`, wherever it sits; returns how many went. */
  expire(now: number): number {
    let dropped = 0;
    const n = this.#length;
    for (let i = 0; i < n; i++) {
      const arrivedAt = this.#arrivals[this.#head];
      const item = this.#take() as T;
      if (this.isFresh(arrivedAt, now)) this.push(item, arrivedAt);
      else {
        this.#onDrop(item, 'stale', arrivedAt);
        dropped++;
      }
    }
    return dropped;
  }

  /** Removes everything without reporting drops (at close). */
  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#length = 0;
  }

  #take(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#length--;
    return item;
  }

  #dropHead(reason: QueueDropReason): void {
    const arrivedAt = this.#arrivals[this.#head];
    this.#onDrop(this.#take(), reason, arrivedAt);
  }
}
