import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { UpdateWindow, type WindowTicket } from '../../server/ddns/update-window.ts';

/** A window over a fake clock, and a helper that sends one message and answers it `rttMs` later. */
function setup(settings = { initial: 4, min: 1, max: 16 }) {
  const clock = new ManualClock(0);
  const window = new UpdateWindow(settings, clock);
  const roundTrip = (rttMs: number, signal: 'answered' | 'congested' = 'answered') => {
    const ticket = window.sent();
    clock.advance(rttMs);
    window.settled(ticket, signal);
  };
  return { clock, window, roundTrip };
}

test('opens as configured and counts what is in flight', (t) => {
  const { window } = setup();
  t.is(window.limit, 4);
  const tickets: WindowTicket[] = [1, 2, 3, 4].map(() => window.sent());
  t.is(window.inFlight, 4);
  t.false(window.open, 'full');
  window.settled(tickets[0], 'answered');
  t.true(window.open);
  t.throws(() => new UpdateWindow({ initial: 0, min: 1, max: 4 }, new ManualClock()), { instanceOf: RangeError });
});

test('grows about one message per round trip while answers come back as quickly as the quickest', (t) => {
  const { window, roundTrip } = setup();
  for (let i = 0; i < 4; i++) roundTrip(1);
  t.is(window.limit, 4, 'a window of answers adds one: not yet');
  for (let i = 0; i < 8; i++) roundTrip(1);
  t.true(window.limit >= 5 && window.limit <= 6);
  for (let i = 0; i < 500; i++) roundTrip(1);
  t.is(window.limit, 16, 'never above max');
  t.is(window.baseRtt, 1);
});

test('holds while about a message waits at the server, shrinks when more do (answers slower than the base)', (t) => {
  const { window, roundTrip } = setup({ initial: 8, min: 1, max: 16 });
  roundTrip(1);
  const grown = window.limit;
  // 8 in flight, each answer in 1.25 ms against a 1 ms base: 8 × 0.2 = 1.6 waiting, between the bounds.
  for (let i = 0; i < 50; i++) roundTrip(1.25);
  t.is(window.limit, grown, 'held');
  // Answers in 4 ms: 8 × 0.75 = 6 waiting at the server: shrink, a message or so per round trip.
  for (let i = 0; i < 8; i++) roundTrip(4);
  t.true(window.limit < grown);
  for (let i = 0; i < 200; i++) roundTrip(4);
  t.true(window.limit >= 1 && window.limit <= 4, `settles where few wait (limit ${window.limit})`);
});

test('a timeout, SERVFAIL or quota drop halves the window, once per round trip', (t) => {
  const { clock, window } = setup({ initial: 16, min: 1, max: 16 });
  const burst = Array.from({ length: 8 }, () => window.sent());
  clock.advance(2000);
  // Eight losses of one congestion: one cut, not eight.
  for (const ticket of burst) window.settled(ticket, 'congested');
  t.is(window.limit, 8);
  // A message sent after the cut and lost again: the next congestion.
  const later = window.sent();
  clock.advance(2000);
  window.settled(later, 'congested');
  t.is(window.limit, 4);
  for (let i = 0; i < 10; i++) {
    const ticket = window.sent();
    clock.advance(10);
    window.settled(ticket, 'congested');
  }
  t.is(window.limit, 1, 'never below min');
  t.true(window.open, 'one message may always go');
  t.is(window.inFlight, 0);
});

test('the base round trip is the quickest of the last thousand answers: it follows a server that became slower for good', (t) => {
  const { window, roundTrip } = setup({ initial: 2, min: 1, max: 16 });
  roundTrip(1);
  for (let i = 0; i < 999; i++) roundTrip(3);
  t.is(window.baseRtt, 1, 'a busy spell does not pass for the new normal');
  roundTrip(3);
  t.is(window.baseRtt, 3, 'the quick answer left the window');
});
