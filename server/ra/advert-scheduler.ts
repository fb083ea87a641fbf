import type { SolicitedResponse } from './ra-config.ts';
import { isUnspecifiedAddress } from '../../lib/ndp/unspecified-address.ts';

/** RFC 4861 §10 router constants. */
export const MAX_INITIAL_RTR_ADVERT_INTERVAL_MS = 16_000;
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
export const MIN_DELAY_BETWEEN_RAS_MS = 3_000;
export const MAX_RA_DELAY_TIME_MS = 500;
export const MAX_FINAL_RTR_ADVERTISEMENTS = 3;

/**
 * Between the final RAs under `solicitedResponse: immediate`. They are
 * repeated in case one is lost (multicast is never acknowledged); copies
 * sent back to back are lost together (a full queue, a bridge port that is
 * still learning, a burst of interference), a few hundred ms apart they
 * are not, and the stop still ends within a second. Under `rfc4861` they
 * are MIN_DELAY_BETWEEN_RAS apart instead (see finalTimes).
 */
export const FINAL_RA_SPACING_IMMEDIATE_MS = 300;

export interface AdvertSchedule {
  /** MinRtrAdvInterval and MaxRtrAdvInterval, in ms. */
  minIntervalMs: number;
  maxIntervalMs: number;
  solicitedResponse: SolicitedResponse;
}

/** What to do about one valid Router Solicitation. */
export type SolicitAnswer =
  /** Send an RA to `to` now (the `immediate` setting). */
  | { kind: 'unicast'; to: string }
  /** The next multicast RA was brought forward to `at`. */
  | { kind: 'multicast'; at: number }
  /** A multicast RA is already due no later than the answer would be, at `at`: it answers. */
  | { kind: 'covered'; at: number };

/**
 * When one interface's RAs go out, as pure arithmetic on times in ms (RFC
 * 4861 §6.2.4–§6.2.6); the I/O edge owns the timer and the socket and
 * reports back what it sent. `random` gives uniform numbers in [0, 1).
 *
 * There is one multicast deadline: unsolicited RAs and answers to
 * solicitations share it, because any multicast RA resets the unsolicited
 * timer (§6.2.4) and counts against the rate limit (§6.2.6).
 */
export class AdvertScheduler {
  #initialLeft = MAX_INITIAL_RTR_ADVERTISEMENTS;
  #lastMulticastAt: number | undefined;
  #nextAt: number;

  constructor(
    private readonly schedule: AdvertSchedule,
    private readonly random: () => number,
    now: number,
  ) {
    // An interface that becomes an advertising interface announces itself
    // at once; the next few follow quickly (see multicastSent).
    this.#nextAt = now;
  }

  /** When the next multicast RA is due. */
  get nextMulticastAt(): number {
    return this.#nextAt;
  }

  /**
   * A multicast RA went out at `now`. §6.2.4: the next one is due after a
   * random interval in [MinRtrAdvInterval, MaxRtrAdvInterval], at most
   * MAX_INITIAL_RTR_ADVERT_INTERVAL for the first MAX_INITIAL_RTR_ADVERTISEMENTS.
   */
  multicastSent(now: number): void {
    const { minIntervalMs, maxIntervalMs } = this.schedule;
    let interval = minIntervalMs + this.random() * (maxIntervalMs - minIntervalMs);
    if (this.#initialLeft > 0) {
      this.#initialLeft--;
      interval = Math.min(interval, MAX_INITIAL_RTR_ADVERT_INTERVAL_MS);
    }
    this.#lastMulticastAt = now;
    this.#nextAt = now + interval;
  }

  /** The RA due now could not be sent (the interface has no usable source yet): try again at `at`. */
  postpone(at: number): void {
    this.#nextAt = at;
  }

  /** A valid Router Solicitation from `source` arrived at `now`. */
  solicited(now: number, source: string): SolicitAnswer {
    if (this.schedule.solicitedResponse === 'immediate') {
      if (!isUnspecifiedAddress(source)) return { kind: 'unicast', to: source };
      this.#nextAt = now;
      return { kind: 'multicast', at: now };
    }
    // §6.2.6: delayed by a random time in [0, MAX_RA_DELAY_TIME], and no
    // sooner than MIN_DELAY_BETWEEN_RAS after the last multicast RA plus
    // that random time.
    const delay = this.random() * MAX_RA_DELAY_TIME_MS;
    const last = this.#lastMulticastAt;
    const at = last !== undefined && now - last < MIN_DELAY_BETWEEN_RAS_MS ? last + MIN_DELAY_BETWEEN_RAS_MS + delay : now + delay;
    if (this.#nextAt <= at) return { kind: 'covered', at: this.#nextAt };
    this.#nextAt = at;
    return { kind: 'multicast', at };
  }

  /**
   * When the first final RA (§6.2.5) may go out, asked at `now`: it is a
   * multicast RA like any other, so under `rfc4861` it waits out
   * MIN_DELAY_BETWEEN_RAS after the previous one.
   */
  finalAt(now: number): number {
    return this.#earliestMulticast(now);
  }

  /**
   * When each of the MAX_FINAL_RTR_ADVERTISEMENTS final RAs goes out
   * (§6.2.5: "one or more (but not more than MAX_FINAL_RTR_ADVERTISEMENTS)"),
   * asked at `now`. Under `rfc4861` they keep §6.2.6's rate limit on
   * consecutive multicast RAs, MIN_DELAY_BETWEEN_RAS apart, as KAME's
   * rtadvd does: a stop then takes at most 3 × 3 s. Under `immediate`,
   * which already sets that limit aside for the lab, they are
   * FINAL_RA_SPACING_IMMEDIATE_MS apart.
   */
  finalTimes(now: number): number[] {
    const first = this.finalAt(now);
    const spacing = this.schedule.solicitedResponse === 'immediate' ? FINAL_RA_SPACING_IMMEDIATE_MS : MIN_DELAY_BETWEEN_RAS_MS;
    return Array.from({ length: MAX_FINAL_RTR_ADVERTISEMENTS }, (_, i) => first + i * spacing);
  }

  /**
   * The interface starts over as a new advertising interface at `now`
   * (RFC 4861 §6.2.8: after its link-local address changed, hosts see a new
   * router): the next multicast RA as soon as the rate limit allows, and
   * the initial RAs again at the faster initial rate.
   */
  restart(now: number): void {
    this.#initialLeft = MAX_INITIAL_RTR_ADVERTISEMENTS;
    this.#nextAt = this.#earliestMulticast(now);
  }

  /** Under `rfc4861`, no multicast RA sooner than MIN_DELAY_BETWEEN_RAS after the previous one (§6.2.6). */
  #earliestMulticast(now: number): number {
    const last = this.#lastMulticastAt;
    if (this.schedule.solicitedResponse === 'immediate' || last === undefined) return now;
    return Math.max(now, last + MIN_DELAY_BETWEEN_RAS_MS);
  }
}

