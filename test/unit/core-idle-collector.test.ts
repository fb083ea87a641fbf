import test from 'ava';
import { IdleCollector } from '../../lib/core/idle-collector.ts';

test('collects once a busy spell is followed by an idle interval, not during it', (t) => {
  const c = new IdleCollector({ busyWork: 100, idleWork: 5 });
  c.note(60);
  t.false(c.due(), 'busy interval, and not yet enough work');
  c.note(60);
  t.false(c.due(), 'enough work, but the interval was busy');
  c.note(5);
  t.true(c.due(), 'an idle interval after the spell');
  t.false(c.due(), 'collected: a quiet server is not collected again');
  t.false(c.due());
});

test('a few clients a second never make a collection', (t) => {
  const c = new IdleCollector({ busyWork: 100, idleWork: 5 });
  let collections = 0;
  for (let i = 0; i < 1000; i++) {
    c.note(4);
    if (c.due()) collections++;
  }
  t.is(collections, 0, 'every interval is idle, but no spell of work came');
});

test('busy intervals add up to a spell across idle ones', (t) => {
  const c = new IdleCollector({ busyWork: 20, idleWork: 5 });
  const dues = [12, 0, 12, 3].map((n) => (c.note(n), c.due()));
  t.deepEqual(dues, [false, false, false, true], 'the idle interval between them did not reach 20; the second spell did');
});

test('the work of held offers dropped counts like datagrams, and bad limits are refused', (t) => {
  const c = new IdleCollector({ busyWork: 10, idleWork: 0 });
  c.note(10);
  t.false(c.due());
  t.true(c.due());
  t.throws(() => new IdleCollector({ busyWork: 0, idleWork: 0 }), { instanceOf: RangeError });
  t.throws(() => new IdleCollector({ busyWork: 1, idleWork: -1 }), { instanceOf: RangeError });
});
