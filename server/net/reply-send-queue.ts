import { DeadlineQueue, type QueueDropReason } from '../../lib/core/deadline-queue.ts';

/** One datagram waiting to be sent; the address is host-order uint32 (ipToInt). */
export interface PendingSend {
  data: Buffer;
  address: number;
  port: number;
}

/** The socket side of a ReplySendQueue. */
export interface BatchSender {
  /**
   * Sends `items[0..count)` in order, at once and without blocking.
   * Returns how many it consumed (sent, or failed and reported); fewer
   * than `count` means the socket is full, and the owner calls `resume()`
   * when it has room again.
   */
  sendBatch(items: readonly PendingSend[], count: number): number;
}

export interface ReplySendLimits {
  /** Replies held at most while the socket is full. */
  maxQueued: number;
  /** A reply whose request arrived longer ago than this is dropped, not sent. */
  deadlineMs: number;
  /** Replies per call to the sender (sendmmsg batch). */
  batch: number;
}

export interface ReplySendTimers {
  now(): number;
  /** Runs `fn` once, after the current I/O callbacks (setImmediate). */
  defer(fn: () => void): void;
}

const nodeTimers: ReplySendTimers = { now: () => performance.now(), defer: (fn) => setImmediate(fn) };

/**
 * The bounded send path of one socket. Replies are queued and sent in a
 * batch once per event-loop turn; when the socket's send buffer is full
 * they wait here — at most `maxQueued`, the oldest dropped first — and
 * a reply whose request is older than `deadlineMs` is dropped instead of
 * sent: RFC 2131 §4.1 has a client retransmit after ~4 s, so a later answer
 * only answers a transaction it has given up on, and holds up the ones it
 * has not. Replaces libuv's unbounded FIFO, behind which a single blocked
 * reply once held every other for minutes.
 */
export class ReplySendQueue {
  readonly #queue: DeadlineQueue<PendingSend>;
  readonly #sender: BatchSender;
  readonly #timers: ReplySendTimers;
  readonly #batch: PendingSend[];
  readonly #arrivals: Float64Array;
  #scheduled = false;
  #blocked = false;
  #closed = false;

  constructor(limits: ReplySendLimits, sender: BatchSender, onDrop: (reason: QueueDropReason) => void, timers: ReplySendTimers = nodeTimers) {
    this.#queue = new DeadlineQueue<PendingSend>({ maxLength: limits.maxQueued, maxAgeMs: limits.deadlineMs }, (_item, reason) => onDrop(reason));
    this.#sender = sender;
    this.#timers = timers;
    this.#batch = new Array<PendingSend>(limits.batch);
    this.#arrivals = new Float64Array(limits.batch);
  }

  /** Replies waiting (the socket was full, or this turn's batch has not gone yet). */
  get length(): number {
    return this.#queue.length;
  }

  /** Whether the last send met a full socket and waits for `resume()`. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Queues a reply to the request that arrived at `requestArrivedAt` (the timers' clock). */
  enqueue(item: PendingSend, requestArrivedAt: number): void {
    if (this.#closed) return;
    this.#queue.push(item, requestArrivedAt);
    if (!this.#scheduled && !this.#blocked) {
      this.#scheduled = true;
      this.#timers.defer(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** The socket has room again. */
  resume(): void {
    this.#blocked = false;
    this.flush();
  }

  /** Sends what is fresh, batch by batch, until the queue is empty or the socket is full. */
  flush(): void {
    if (this.#blocked || this.#closed) return;
    const now = this.#timers.now();
    for (;;) {
      let count = 0;
      while (count < this.#batch.length) {
        const item = this.#queue.shift(now);
        if (item === undefined) break;
        this.#batch[count] = item;
        this.#arrivals[count] = this.#queue.lastShiftedArrival;
        count++;
      }
      if (count === 0) return;
      const consumed = this.#sender.sendBatch(this.#batch, count);
      if (consumed < count) {
        // Back at the head, in their order: they keep their place in line.
        for (let i = count - 1; i >= consumed; i--) this.#queue.unshift(this.#batch[i], this.#arrivals[i]);
        this.#batch.fill(undefined as unknown as PendingSend, 0, count);
        this.#blocked = true;
        return;
      }
      this.#batch.fill(undefined as unknown as PendingSend, 0, count);
      if (count < this.#batch.length) return;
    }
  }

  /** Forgets what is queued (at close). */
  close(): void {
    this.#closed = true;
    this.#queue.clear();
  }
}
