import test from 'ava';
import fc from 'fast-check';
import { ExpiryQueue } from '../../lib/core/expiry-queue.ts';

function takeAll(q: ExpiryQueue, now: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  q.takeDue(now, (id, at) => out.push([id, at]));
  return out;
}

test('takes what is due, earliest first, and leaves the rest', (t) => {
  const q = new ExpiryQueue();
  q.schedule(1, 300);
  q.schedule(2, 100);
  q.schedule(3, 200);
  t.deepEqual(takeAll(q, 200), [[2, 100], [3, 200]]);
  t.is(q.size, 1);
  t.is(q.dueAt(1), 300);
  t.deepEqual(takeAll(q, 299), []);
});

test('a rescheduled id is due at its new time only; a cancelled one never', (t) => {
  const q = new ExpiryQueue();
  q.schedule(1, 100);
  q.schedule(1, 500);
  q.schedule(2, 100);
  q.cancel(2);
  t.deepEqual(takeAll(q, 400), []);
  t.deepEqual(takeAll(q, 500), [[1, 500]]);
  t.is(q.size, 0);
});

test('take may schedule the id again', (t) => {
  const q = new ExpiryQueue();
  q.schedule(7, 10);
  q.takeDue(10, (id) => q.schedule(id, 20));
  t.is(q.dueAt(7), 20);
  t.deepEqual(takeAll(q, 20), [[7, 20]]);
});

test('any schedule/cancel sequence yields exactly the live ids due, in time order', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.option(fc.integer({ min: 0, max: 1000 }))), { maxLength: 400 }), fc.integer({ min: 0, max: 1000 }), (ops, now) => {
      const q = new ExpiryQueue();
      const ref = new Map<number, number>();
      for (const [id, at] of ops) {
        if (at === null) {
          q.cancel(id);
          ref.delete(id);
        } else {
          q.schedule(id, at);
          ref.set(id, at);
        }
      }
      const got = takeAll(q, now);
      const want = [...ref].filter(([, at]) => at <= now);
      t.deepEqual(got.map(([id, at]) => `${id}@${at}`).sort(), want.map(([id, at]) => `${id}@${at}`).sort());
      t.true(got.every(([, at], i) => i === 0 || got[i - 1][1] <= at), 'earliest first');
      t.is(q.size, ref.size - want.length);
    }),
    { numRuns: 300 },
  );
});
