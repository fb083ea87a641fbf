/**
 * A token bucket: `perSecond` tokens flow in, at most `burst` are kept, and
 * each admitted event takes one. It allows short bursts up to `burst` and a
 * long-run rate of `perSecond`. Time is passed in (milliseconds, from any
 * monotonic clock), so the bucket is pure and tests need no timers.
 */
export interface RateLimit {
  /** Tokens per second; 0 turns the limit off (everything is admitted). */
  perSecond: number;
  /** Bucket size: events admitted at once after a quiet spell. */
  burst: number;
}

export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    private readonly limit: RateLimit,
    now: number,
  ) {
    checkLimit(limit);
    this.#tokens = limit.burst;
    this.#at = now;
  }

  /** Takes one token if there is one; false means the event is over the limit. */
  take(now: number): boolean {
    if (this.limit.perSecond === 0) return true;
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether the bucket has refilled to its burst by `now`: then it is no different from a new one. */
  isFullAt(now: number): boolean {
    return this.#tokens + (Math.max(0, now - this.#at) * this.limit.perSecond) / 1000 >= this.limit.burst;
  }

  #refill(now: number): void {
    // A clock that steps back adds nothing, rather than draining the bucket.
    if (now > this.#at) {
      this.#tokens = Math.min(this.limit.burst, this.#tokens + ((now - this.#at) * this.limit.perSecond) / 1000);
      this.#at = now;
    }
  }
}

/**
 * One token bucket per key (a client's MAC, a relay's address), in a
 * bounded map, so keys made up by a flood cannot grow memory without end:
 * when `maxKeys` is reached, the bucket used longest ago is forgotten
 * (Map keeps insertion order; a used key is moved to the end). A forgotten
 * key starts again with a full bucket, which only matters to a key that
 * has been quiet longer than every other one. A bucket that has refilled
 * to its burst is forgotten too, as keys are used: it is the same as the
 * new bucket its key would get, and so the buckets of a flood's made-up
 * keys do not keep their memory once the flood is over.
 */
export class KeyedTokenBuckets {
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxKeys: number,
  ) {
    checkLimit(limit);
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  }

  get size(): number {
    return this.#buckets.size;
  }

  take(key: string, now: number): boolean {
    if (this.limit.perSecond === 0) return true;
    this.#forgetRefilled(now);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxKeys) this.#forgetOldest();
      bucket = new TokenBucket(this.limit, now);
    } else {
      this.#buckets.delete(key);
    }
    this.#buckets.set(key, bucket);
    return bucket.take(now);
  }

  /**
   * Drops refilled buckets from the least recently used end, stopping at
   * the first that is not full: each bucket is dropped at most once, so
   * this costs O(1) per take on average.
   */
  #forgetRefilled(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (!bucket.isFullAt(now)) return;
      this.#buckets.delete(key);
    }
  }

  #forgetOldest(): void {
    const oldest = this.#buckets.keys().next();
    if (!oldest.done) this.#buckets.delete(oldest.value);
  }
}

function checkLimit(limit: RateLimit): void {
  if (!(limit.perSecond >= 0) || !Number.isFinite(limit.perSecond)) throw new RangeError(`perSecond must be a finite number ≥ 0, got ${limit.perSecond}`);
  if (!(limit.burst >= 1) || !Number.isFinite(limit.burst)) throw new RangeError(`burst must be a finite number ≥ 1, got ${limit.burst}`);
}
