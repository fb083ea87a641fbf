/**
 * Integer ids, each due at one time: a binary min-heap by time with lazy
 * deletion, so `schedule` and `cancel` are O(log n) / O(1) and taking what
 * is due never scans what is not. Each id has at most one time; a
 * rescheduled or cancelled id leaves its old heap entry behind, skipped
 * (and dropped) when it comes up, and the heap is rebuilt when such stale
 * entries outnumber the live ones, so it never holds more than about twice
 * as many entries as there are ids scheduled.
 */
export class ExpiryQueue {
  /** id → its one current time. */
  readonly #due = new Map<number, number>();
  #times: number[] = [];
  #ids: number[] = [];

  get size(): number {
    return this.#due.size;
  }

  /** When `id` is due, if it is scheduled. */
  dueAt(id: number): number | undefined {
    return this.#due.get(id);
  }

  /** `id` is due at `at` (replacing any earlier or later time it had). */
  schedule(id: number, at: number): void {
    if (this.#due.get(id) === at) return;
    this.#due.set(id, at);
    this.#push(at, id);
    this.#compactIfStale();
  }

  cancel(id: number): void {
    this.#due.delete(id);
    this.#compactIfStale();
  }

  /**
   * Takes every id due at or before `now`, earliest first, and hands each
   * to `take` (after it is unscheduled, so `take` may schedule it again).
   */
  takeDue(now: number, take: (id: number, at: number) => void): void {
    while (this.#times.length > 0 && this.#times[0] <= now) {
      const at = this.#times[0];
      const id = this.#ids[0];
      this.#pop();
      if (this.#due.get(id) !== at) continue; // stale: rescheduled or cancelled since
      this.#due.delete(id);
      take(id, at);
    }
  }

  #compactIfStale(): void {
    if (this.#times.length <= 64 || this.#times.length <= 2 * this.#due.size) return;
    this.#times = [];
    this.#ids = [];
    for (const [id, at] of this.#due) this.#push(at, id);
  }

  #push(at: number, id: number): void {
    const times = this.#times;
    const ids = this.#ids;
    let i = times.length;
    times.push(at);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent] <= at) break;
      times[i] = times[parent];
      ids[i] = ids[parent];
      i = parent;
    }
    times[i] = at;
    ids[i] = id;
  }

  #pop(): void {
    const times = this.#times;
    const ids = this.#ids;
    const lastTime = times.pop() as number;
    const lastId = ids.pop() as number;
    const n = times.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const child = left + 1 < n && times[left + 1] < times[left] ? left + 1 : left;
      if (times[child] >= lastTime) break;
      times[i] = times[child];
      ids[i] = ids[child];
      i = child;
    }
    times[i] = lastTime;
    ids[i] = lastId;
  }
}
