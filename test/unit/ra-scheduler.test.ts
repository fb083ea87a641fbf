// When RAs go out (RFC 4861 §6.2.4–§6.2.6), as arithmetic on ms.
import test from 'ava';
import fc from 'fast-check';
import {
  AdvertScheduler,
  FINAL_RA_SPACING_IMMEDIATE_MS,
  MAX_FINAL_RTR_ADVERTISEMENTS,
  MAX_INITIAL_RTR_ADVERT_INTERVAL_MS,
  MAX_RA_DELAY_TIME_MS,
  MIN_DELAY_BETWEEN_RAS_MS,
  type AdvertSchedule,
} from '../../server/ra/advert-scheduler.ts';

const T0 = 1_000_000;
const CLIENT = 'fe80::11:22ff:fe33:4455';
const RFC = { minIntervalMs: 200_000, maxIntervalMs: 600_000, solicitedResponse: 'rfc4861' } satisfies AdvertSchedule;

/** A random source that returns `values` in turn (then the last one forever). */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
}

test('the first RA is due as soon as the interface advertises', (t) => {
  t.is(new AdvertScheduler(RFC, sequence(0.5), T0).nextMulticastAt, T0);
});

test('the first three intervals are cut to MAX_INITIAL_RTR_ADVERT_INTERVAL, later ones are not', (t) => {
  const s = new AdvertScheduler(RFC, sequence(0.5), T0);
  let now = T0;
  const intervals: number[] = [];
  for (let i = 0; i < 5; i++) {
    s.multicastSent(now);
    intervals.push(s.nextMulticastAt - now);
    now = s.nextMulticastAt;
  }
  t.deepEqual(intervals, [16_000, 16_000, 16_000, 400_000, 400_000]);
});

test('unsolicited intervals stay within [MinRtrAdvInterval, MaxRtrAdvInterval] (and 16 s for the first three)', (t) => {
  const settings = fc
    .record({ max: fc.integer({ min: 4, max: 1800 }), min: fc.integer({ min: 3, max: 1350 }) })
    .filter(({ min, max }) => min <= 0.75 * max);
  fc.assert(
    fc.property(settings, fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 8, maxLength: 8 }), ({ min, max }, randoms) => {
      const s = new AdvertScheduler({ minIntervalMs: min * 1000, maxIntervalMs: max * 1000, solicitedResponse: 'rfc4861' }, sequence(...randoms), T0);
      let now = T0;
      randoms.forEach((_, i) => {
        s.multicastSent(now);
        const interval = s.nextMulticastAt - now;
        const ceiling = i < 3 ? Math.min(max * 1000, MAX_INITIAL_RTR_ADVERT_INTERVAL_MS) : max * 1000;
        // Times carry fractions of a ms; allow for the float rounding of adding them up.
        if (interval < Math.min(min * 1000, ceiling) - 1e-6 || interval > ceiling + 1e-6) throw new Error(`interval ${interval} ms after RA ${i + 1}`);
        now = s.nextMulticastAt;
      });
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('a solicitation long after the last RA is answered after a random delay of at most MAX_RA_DELAY_TIME', (t) => {
  const s = new AdvertScheduler(RFC, sequence(0, 0.4), T0);
  s.multicastSent(T0);
  const now = T0 + 10_000;
  t.deepEqual(s.solicited(now, CLIENT), { kind: 'multicast', at: now + 0.4 * MAX_RA_DELAY_TIME_MS });
  t.is(s.nextMulticastAt, now + 200);
});

test('a solicitation soon after a multicast RA waits MIN_DELAY_BETWEEN_RAS plus the random delay', (t) => {
  const s = new AdvertScheduler(RFC, sequence(0, 0.5), T0);
  s.multicastSent(T0);
  t.deepEqual(s.solicited(T0 + 1000, CLIENT), { kind: 'multicast', at: T0 + MIN_DELAY_BETWEEN_RAS_MS + 250 });
});

test('more solicitations while an answer is pending add no RA', (t) => {
  const s = new AdvertScheduler(RFC, sequence(0, 0.5, 0.9), T0);
  s.multicastSent(T0);
  t.deepEqual(s.solicited(T0 + 5000, CLIENT), { kind: 'multicast', at: T0 + 5250 });
  t.deepEqual(s.solicited(T0 + 5100, 'fe80::2'), { kind: 'covered', at: T0 + 5250 });
  t.is(s.nextMulticastAt, T0 + 5250);
});

test('an unsolicited RA due before the answer would be is the answer', (t) => {
  // Initial RA at T0, the next 16 s later; an RS 1 s before that would be answered 3.5 s later.
  const s = new AdvertScheduler({ ...RFC, minIntervalMs: 3000, maxIntervalMs: 4000 }, sequence(0, 1), T0);
  s.multicastSent(T0);
  const next = s.nextMulticastAt;
  t.deepEqual(s.solicited(next - 500, CLIENT), { kind: 'covered', at: next });
  t.is(s.nextMulticastAt, next);
});

test('immediate: answered at once by unicast, the multicast timer untouched', (t) => {
  const s = new AdvertScheduler({ ...RFC, solicitedResponse: 'immediate' }, sequence(0.5), T0);
  s.multicastSent(T0);
  const next = s.nextMulticastAt;
  t.deepEqual(s.solicited(T0 + 10, CLIENT), { kind: 'unicast', to: CLIENT });
  t.is(s.nextMulticastAt, next);
});

test('immediate: a solicitation from the unspecified address brings the multicast RA to now', (t) => {
  const s = new AdvertScheduler({ ...RFC, solicitedResponse: 'immediate' }, sequence(0.5), T0);
  s.multicastSent(T0);
  t.deepEqual(s.solicited(T0 + 10, '::'), { kind: 'multicast', at: T0 + 10 });
  t.is(s.nextMulticastAt, T0 + 10);
});

test('a postponed RA does not use up one of the initial ones', (t) => {
  const s = new AdvertScheduler(RFC, sequence(0.5), T0);
  s.postpone(T0 + 1000);
  t.is(s.nextMulticastAt, T0 + 1000);
  s.multicastSent(T0 + 1000);
  t.is(s.nextMulticastAt - (T0 + 1000), 16_000);
});

test('the final RA keeps MIN_DELAY_BETWEEN_RAS after the last multicast one, except when immediate', (t) => {
  const rfc = new AdvertScheduler(RFC, sequence(0.5), T0);
  t.is(rfc.finalAt(T0), T0, 'nothing sent yet');
  rfc.multicastSent(T0);
  t.is(rfc.finalAt(T0 + 1000), T0 + MIN_DELAY_BETWEEN_RAS_MS);
  t.is(rfc.finalAt(T0 + 5000), T0 + 5000);
  const immediate = new AdvertScheduler({ ...RFC, solicitedResponse: 'immediate' }, sequence(0.5), T0);
  immediate.multicastSent(T0);
  t.is(immediate.finalAt(T0 + 1000), T0 + 1000);
});

test('three final RAs (MAX_FINAL_RTR_ADVERTISEMENTS), MIN_DELAY_BETWEEN_RAS apart under rfc4861', (t) => {
  t.is(MAX_FINAL_RTR_ADVERTISEMENTS, 3);
  const rfc = new AdvertScheduler(RFC, sequence(0.5), T0);
  t.deepEqual(rfc.finalTimes(T0), [T0, T0 + 3000, T0 + 6000], 'nothing sent yet: the first at once');
  rfc.multicastSent(T0);
  t.deepEqual(rfc.finalTimes(T0 + 1000), [T0 + 3000, T0 + 6000, T0 + 9000], 'the first waits out the rate limit');
  const [first, , last] = rfc.finalTimes(T0 + 1000);
  t.true(last - (T0 + 1000) <= 3 * MIN_DELAY_BETWEEN_RAS_MS, 'a stop is bounded by 9 s');
  t.is(first, rfc.finalAt(T0 + 1000));
});

test('under immediate the final RAs are FINAL_RA_SPACING_IMMEDIATE_MS apart, starting at once', (t) => {
  const immediate = new AdvertScheduler({ ...RFC, solicitedResponse: 'immediate' }, sequence(0.5), T0);
  immediate.multicastSent(T0);
  const times = immediate.finalTimes(T0 + 10);
  t.deepEqual(times, [T0 + 10, T0 + 10 + FINAL_RA_SPACING_IMMEDIATE_MS, T0 + 10 + 2 * FINAL_RA_SPACING_IMMEDIATE_MS]);
  t.true(FINAL_RA_SPACING_IMMEDIATE_MS >= 100 && FINAL_RA_SPACING_IMMEDIATE_MS <= 500);
});

test('a restart (new link-local address, §6.2.8) sends the initial RAs again, within the rate limit', (t) => {
  const s = new AdvertScheduler(RFC, sequence(0.5), T0);
  let now = T0;
  for (let i = 0; i < 4; i++) {
    if (i > 0) now = s.nextMulticastAt;
    s.multicastSent(now);
  }
  t.true(s.nextMulticastAt - now > MAX_INITIAL_RTR_ADVERT_INTERVAL_MS, 'past the initial RAs');
  const later = now + 5000;
  s.restart(later);
  t.is(s.nextMulticastAt, later, 'due at once: the last RA was more than MIN_DELAY_BETWEEN_RAS ago');
  s.multicastSent(later);
  t.is(s.nextMulticastAt - later, MAX_INITIAL_RTR_ADVERT_INTERVAL_MS, 'the initial rate again');
  s.restart(later + 1000);
  t.is(s.nextMulticastAt, later + MIN_DELAY_BETWEEN_RAS_MS, 'no sooner than MIN_DELAY_BETWEEN_RAS after the last');
});
