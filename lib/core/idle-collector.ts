/**
 * When to run a full garbage collection: once a busy spell is over. V8
 * collects when JavaScript allocates, so a server that goes idle after a
 * flood keeps the flood's garbage — and the young generation grown to its
 * maximum (two 16 MB semi-spaces) — mapped for as long as it stays idle:
 * after 100,000 frames that was +56 MB of RSS of which about 6 MB was live.
 * One collection once the work has stopped gives it back, and costs
 * nothing a client waits for, since nothing is being served.
 *
 * Pure: the caller reports units of work (datagrams, held offers dropped)
 * and asks at a fixed interval whether to collect now.
 */
export interface IdleCollectLimits {
  /** Work since the last collection that makes one worth its pause (a busy spell, not a few clients). */
  busyWork: number;
  /** At most this much work in the last interval counts as idle. */
  idleWork: number;
}

export class IdleCollector {
  /** Work of the busy intervals since the last collection. */
  #spell = 0;
  #inInterval = 0;

  constructor(private readonly limits: IdleCollectLimits) {
    if (!(limits.busyWork >= 1) || !(limits.idleWork >= 0)) throw new RangeError(`busyWork must be ≥ 1 and idleWork ≥ 0, got ${limits.busyWork} and ${limits.idleWork}`);
  }

  /** Counts `units` of work done now. */
  note(units = 1): void {
    this.#inInterval += units;
  }

  /**
   * Called once per interval: whether to collect now — the busy intervals
   * since the last collection did enough work, and the interval just ended
   * was idle. The work of idle intervals never adds up to a spell: a few
   * clients a second allocate enough for V8 to collect by itself. A yes
   * starts the count again, so a quiet server is not collected twice.
   */
  due(): boolean {
    const work = this.#inInterval;
    this.#inInterval = 0;
    if (work > this.limits.idleWork) {
      this.#spell += work;
      return false;
    }
    if (this.#spell < this.limits.busyWork) return false;
    this.#spell = 0;
    return true;
  }
}
