import { setImmediate as nextTurn } from 'node:timers/promises';
import test from 'ava';
import { GroupCommitter, type GatherClock } from '../../server/leases/group-committer.ts';
import type { CommitOutcome, ConditionalLeaseChange } from '../../server/leases/lease-store.ts';

const COMMITTED: CommitOutcome = { kind: 'committed', enqueued: [] };

// The gather window: under load a group waits (bounded) for more commits to
// share its sync; an idle committer never waits. Time is a fake clock here.

class FakeClock implements GatherClock {
  at = 0;
  readonly timers = new Map<number, { due: number; fn: () => void }>();
  #next = 1;
  now(): number {
    return this.at;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { due: this.at + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time on, firing each timer that falls due at its own time. */
  advance(ms: number): void {
    const end = this.at + ms;
    for (;;) {
      const due = [...this.timers].filter(([, timer]) => timer.due <= end).sort((a, b) => a[1].due - b[1].due)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.at = due[1].due;
      due[1].fn();
    }
    this.at = end;
  }
}

function committer(maxWaitMs: number, clock: FakeClock) {
  const groups: number[] = [];
  const gc = new GroupCommitter('test', (changes: readonly ConditionalLeaseChange[]) => {
    groups.push(changes.length);
    return changes.map(() => COMMITTED);
  }, 512, undefined, { maxWaitMs, clock });
  const settled: number[] = [];
  let n = 0;
  const submit = () => {
    const id = ++n;
    void gc.submit({ remove: [`198.18.0.${id}`] }).then(() => settled.push(id));
  };
  return { gc, groups, settled, submit };
}

/** Lets 1 ms pass in small steps, so each promise settles at the fake time its write happened. */
async function drain(clock: FakeClock): Promise<void> {
  for (let i = 0; i < 20; i += 1) {
    clock.advance(0.05);
    await settle();
  }
}

/** Lets setImmediate callbacks and the promise chains behind them run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i += 1) await nextTurn();
}

test('idle: a lone commit is written in the next turn, with no timer', async (t) => {
  const clock = new FakeClock();
  const { groups, settled, submit } = committer(0.6, clock);
  submit();
  t.is(clock.timers.size, 0);
  await settle();
  t.deepEqual(groups, [1]);
  t.deepEqual(settled, [1]);
  // A second commit 100 ms later: still idle, still no wait.
  clock.advance(100);
  submit();
  t.is(clock.timers.size, 0);
  await settle();
  t.deepEqual(groups, [1, 1]);
});

function streamingCommitter(maxWaitMs: number, clock: FakeClock) {
  const groups: number[] = [];
  let writtenAt = 0;
  const write = (changes: readonly ConditionalLeaseChange[]) => {
    groups.push(changes.length);
    writtenAt = clock.at;
    return changes.map(() => COMMITTED);
  };
  const gc = new GroupCommitter('test', write, 512, undefined, { maxWaitMs, clock });
  // How long each commit waited for its write (the fake time of the write, not of the settling).
  const waits: number[] = [];
  const submit = () => {
    const at = clock.at;
    void gc.submit({ remove: ['198.18.0.1'] }).then(() => waits.push(writtenAt - at));
  };
  return { groups, waits, submit };
}

test('under load commits share a write, and none waits longer than the window', async (t) => {
  const clock = new FakeClock();
  const { groups, waits, submit } = streamingCommitter(0.6, clock);
  // 10,000 commits/s: one every 0.1 ms.
  for (let i = 0; i < 60; i += 1) {
    submit();
    await settle();
    clock.advance(0.1);
  }
  await drain(clock);
  t.is(waits.length, 60, 'every commit settled');
  t.is(groups.reduce((a, b) => a + b, 0), 60);
  const steady = groups.slice(2, -1);
  t.true(steady.length > 0 && steady.every((g) => g >= 4 && g <= 7), `groups ${groups.join(',')}`);
  t.true(Math.max(...waits) <= 0.6 + 1e-9, `longest wait ${Math.max(...waits)} ms`);
  t.true(groups.length <= 14, `${groups.length} writes for 60 commits`);
});

test('a group closes early when the next commit is not expected before the window ends', async (t) => {
  const clock = new FakeClock();
  const { groups, waits, submit } = streamingCommitter(0.6, clock);
  // 4,000 commits/s: one every 0.25 ms; waiting for a third would pass 0.6 ms.
  for (let i = 0; i < 40; i += 1) {
    submit();
    await settle();
    clock.advance(0.25);
  }
  await drain(clock);
  t.is(waits.length, 40);
  const steady = groups.slice(2, -1);
  t.true(steady.every((g) => g >= 2 && g <= 3), `groups ${groups.join(',')}`);
  t.true(Math.max(...waits) <= 0.6 + 1e-9, `longest wait ${Math.max(...waits)} ms`);
});

test('the timer ends the wait when commits stop arriving, at most the window after the oldest', async (t) => {
  const clock = new FakeClock();
  const { groups, waits, submit } = streamingCommitter(0.6, clock);
  for (let i = 0; i < 6; i += 1) {
    submit();
    await settle();
    clock.advance(0.1);
  }
  // The last commit (or group) is waiting for company that never comes.
  t.true(clock.timers.size === 1, 'a deadline is set');
  const [timer] = [...clock.timers.values()];
  const written = groups.length;
  clock.advance(timer!.due - clock.at);
  await settle();
  t.is(groups.length, written + 1, 'the deadline wrote the group');
  t.is(waits.length, 6);
  t.true(Math.max(...waits) <= 0.6 + 1e-9, `longest wait ${Math.max(...waits)} ms`);
  t.is(clock.timers.size, 0);
});

test('after a pause the committer is idle again at once: no wait for the first commit of a new burst', async (t) => {
  const clock = new FakeClock();
  const { groups, submit } = committer(0.6, clock);
  for (let i = 0; i < 10; i += 1) {
    submit();
    await settle();
    clock.advance(0.1);
  }
  await settle();
  clock.advance(0.6);
  await settle();
  const before = groups.length;
  clock.advance(50);
  submit();
  t.is(clock.timers.size, 0, 'a 50 ms gap says the load is gone');
  await settle();
  t.deepEqual(groups.slice(before), [1]);
});

test('with no window (the default) nothing ever waits', async (t) => {
  const clock = new FakeClock();
  const { groups, submit } = committer(0, clock);
  for (let i = 0; i < 5; i += 1) {
    submit();
    clock.advance(0.01);
    await settle();
  }
  t.deepEqual(groups, [1, 1, 1, 1, 1]);
  t.is(clock.timers.size, 0);
});

test('a full batch is written at once, window or not; close writes what waits', async (t) => {
  const clock = new FakeClock();
  const groups: number[] = [];
  const gc = new GroupCommitter('test', (changes: readonly ConditionalLeaseChange[]) => {
    groups.push(changes.length);
    return changes.map(() => COMMITTED);
  }, 3, undefined, { maxWaitMs: 0.6, clock });
  for (let i = 0; i < 4; i += 1) {
    void gc.submit({ remove: [`198.18.0.${i}`] });
    await settle();
    clock.advance(0.05);
  }
  const pending = gc.submit({ remove: ['198.18.0.99'] });
  await gc.close();
  await pending;
  t.is(groups.reduce((a, b) => a + b, 0), 5);
  t.true(groups.every((g) => g <= 3));
  t.throws(() => new GroupCommitter('test', () => [], 1, undefined, { maxWaitMs: -1 }), { instanceOf: RangeError });
});
