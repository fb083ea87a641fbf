import type { Clock } from '../../lib/core/clock.ts';

/**
 * How many UPDATE messages may be on their way at once: an adaptive
 * window, in the manner of TCP Vegas (delay-based growth) with TCP's
 * multiplicative decrease on loss (RFC 5681 §3.1). Pure: the caller says
 * when a message left and what became of it, with times from its clock.
 *
 * Why delay and not only loss: a server such as BIND works through one
 * zone's UPDATEs one at a time, and what waits at the server is not
 * batched. Messages that wait here instead go out together, many names
 * to a message, which costs the server a fraction per name (measured with
 * BIND 9.18: 0.37 ms of CPU per single-name UPDATE, 0.025 ms per name in
 * 50-name ones). So the window grows while answers come back in about the
 * time the quickest recent answer took — the server has nothing queued —
 * holds while a message or so waits there, and shrinks when more do. A
 * timeout, a SERVFAIL, or an UPDATE the server dropped unanswered over its
 * quota (BIND's `update-quota`, seen here as a timeout) halve it, at most
 * once per round trip (only for messages sent after the last cut).
 */
export interface WindowSettings {
  /** Messages allowed in flight at first. */
  initial: number;
  /** Never fewer than this. */
  min: number;
  /** Never more than this (below the server's own limit: BIND's `update-quota` is 100). */
  max: number;
}

export const DEFAULT_WINDOW: WindowSettings = { initial: 4, min: 1, max: 64 };

/**
 * Answers over which the quickest one is taken as the round trip with
 * nothing queued: Vegas keeps the minimum of a connection's life; a long
 * sliding window lets the base follow a server that became slower for
 * good, after a while, while a busy spell (which raises every round trip
 * at once) does not pass for the new normal.
 */
const BASE_RTT_SAMPLES = 1000;
/** Grow while fewer than this many messages seem to wait at the server… */
const QUEUED_LOW = 1;
/** …and shrink when more than this many do (Vegas's α and β). */
const QUEUED_HIGH = 3;

/** A message on its way: when it left. */
export interface WindowTicket {
  readonly sentAt: number;
}

/** What became of a message: an answer (whatever its RCODE), or a sign of congestion. */
export type WindowSignal = 'answered' | 'congested';

export class UpdateWindow {
  readonly #settings: WindowSettings;
  readonly #clock: Clock;
  #limit: number;
  #inFlight = 0;
  /** Recent round trips, oldest first (a ring of BASE_RTT_SAMPLES). */
  readonly #rtts: number[] = [];
  #next = 0;
  #base = Infinity;
  /** When the window was last cut: losses of messages sent before that are the same congestion. */
  #cutAt = -Infinity;

  constructor(settings: WindowSettings, clock: Clock) {
    if (!(settings.min >= 1 && settings.min <= settings.initial && settings.initial <= settings.max)) {
      throw new RangeError(`window settings need 1 <= min <= initial <= max, got ${JSON.stringify(settings)}`);
    }
    this.#settings = settings;
    this.#clock = clock;
    this.#limit = settings.initial;
  }

  /** Messages that may be in flight now. */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Another message may leave now. */
  get open(): boolean {
    return this.#inFlight < this.limit;
  }

  /** The quickest recent round trip, ms (undefined before the first answer). */
  get baseRtt(): number | undefined {
    return Number.isFinite(this.#base) ? this.#base : undefined;
  }

  /** A message leaves (the caller checked `open`, or sends regardless and accepts the overshoot). */
  sent(): WindowTicket {
    this.#inFlight++;
    return { sentAt: this.#clock.now() };
  }

  /** A message came back (or was given up): grow, hold or shrink. */
  settled(ticket: WindowTicket, signal: WindowSignal): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    const now = this.#clock.now();
    if (signal === 'congested') {
      if (ticket.sentAt >= this.#cutAt) {
        this.#limit = Math.max(this.#settings.min, this.#limit / 2);
        this.#cutAt = now;
      }
      return;
    }
    const rtt = Math.max(0, now - ticket.sentAt);
    this.#remember(rtt);
    const base = this.#base;
    // Vegas: with `limit` messages out, the share of the round trip beyond
    // the base is time spent waiting behind others at the server.
    const queued = rtt > 0 ? this.#limit * (1 - base / rtt) : 0;
    // About one message more (or less) per round trip: a window's worth of answers.
    if (queued < QUEUED_LOW) this.#limit = Math.min(this.#settings.max, this.#limit + 1 / this.#limit);
    else if (queued > QUEUED_HIGH) this.#limit = Math.max(this.#settings.min, this.#limit - 1 / this.#limit);
  }

  #remember(rtt: number): void {
    const dropped = this.#rtts.length < BASE_RTT_SAMPLES ? undefined : this.#rtts[this.#next];
    this.#rtts[this.#next] = rtt;
    this.#next = (this.#next + 1) % BASE_RTT_SAMPLES;
    // The minimum is scanned again only when the sample leaving the ring was it.
    if (rtt <= this.#base) this.#base = rtt;
    else if (dropped === this.#base) this.#base = Math.min(...this.#rtts);
  }
}
