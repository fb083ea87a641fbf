import test from 'ava';
import { DeadlineQueue, type QueueDropReason } from '../../lib/core/deadline-queue.ts';

function queue(maxLength: number, maxAgeMs: number) {
  const drops: Array<[string, QueueDropReason, number]> = [];
  const q = new DeadlineQueue<string>({ maxLength, maxAgeMs }, (item, reason, arrivedAt) => drops.push([item, reason, arrivedAt]));
  return { q, drops };
}

test('FIFO: items come out in arrival order while fresh', (t) => {
  const { q, drops } = queue(4, 100);
  q.push('a', 0);
  q.push('b', 10);
  q.push('c', 20);
  t.is(q.length, 3);
  t.deepEqual([q.shift(50), q.shift(50), q.shift(50), q.shift(50)], ['a', 'b', 'c', undefined]);
  t.is(q.length, 0);
  t.deepEqual(drops, []);
});

test('shift never hands out an item at or past its deadline: it drops it as stale and goes on', (t) => {
  const { q, drops } = queue(4, 100);
  q.push('old', 0);
  q.push('edge', 50);
  q.push('young', 120);
  t.is(q.shift(150), 'young');
  t.is(q.lastShiftedArrival, 120);
  t.deepEqual(drops, [
    ['old', 'stale', 0],
    ['edge', 'stale', 50],
  ]);
  t.true(q.isFresh(51, 150));
  t.false(q.isFresh(50, 150));
});

test('a push into a full queue drops the oldest (overflow), not the newcomer', (t) => {
  const { q, drops } = queue(2, 1000);
  q.push('a', 0);
  q.push('b', 1);
  q.push('c', 2);
  t.is(q.length, 2);
  t.deepEqual(drops, [['a', 'overflow', 0]]);
  t.deepEqual([q.shift(3), q.shift(3)], ['b', 'c']);
});

test('unshift puts an item back at the head with its own time; into a full queue it is the one dropped', (t) => {
  const { q, drops } = queue(2, 100);
  q.push('b', 10);
  q.unshift('a', 5);
  t.is(q.headArrival(), 5);
  q.unshift('z', 1);
  t.deepEqual(drops, [['z', 'overflow', 1]]);
  t.is(q.shift(20), 'a');
  // Its deadline counts from its own arrival, not from when it was put back.
  q.unshift('a', 5);
  t.is(q.shift(106), 'b');
  t.deepEqual(drops.at(-1), ['a', 'stale', 5]);
});

test('expire drops stale items wherever they sit and keeps the order of the rest', (t) => {
  const { q, drops } = queue(8, 100);
  q.push('a', 0);
  q.push('b', 90);
  q.push('c', 10);
  q.push('d', 95);
  t.is(q.expire(150), 2);
  t.deepEqual(drops.map((d) => d[0]), ['a', 'c']);
  t.deepEqual([q.shift(150), q.shift(150), q.shift(150)], ['b', 'd', undefined]);
});

test('the ring wraps around many times without losing or reordering items', (t) => {
  const { q, drops } = queue(3, 1e9);
  const out: number[] = [];
  for (let i = 0; i < 100; i++) {
    q.push(String(i), i);
    if (i % 2 === 1) out.push(Number(q.shift(i)), Number(q.shift(i)));
  }
  t.deepEqual(out, Array.from({ length: 100 }, (_, i) => i));
  t.deepEqual(drops, []);
});

test('clear forgets everything without reporting drops', (t) => {
  const { q, drops } = queue(3, 100);
  q.push('a', 0);
  q.clear();
  t.is(q.length, 0);
  t.is(q.shift(0), undefined);
  t.deepEqual(drops, []);
});

test('bad limits are a RangeError naming the limit', (t) => {
  t.throws(() => new DeadlineQueue({ maxLength: 0, maxAgeMs: 1 }, () => {}), { instanceOf: RangeError, message: /maxLength/ });
  t.throws(() => new DeadlineQueue({ maxLength: 1.5, maxAgeMs: 1 }, () => {}), { instanceOf: RangeError, message: /maxLength/ });
  t.throws(() => new DeadlineQueue({ maxLength: 1, maxAgeMs: 0 }, () => {}), { instanceOf: RangeError, message: /maxAgeMs/ });
});
