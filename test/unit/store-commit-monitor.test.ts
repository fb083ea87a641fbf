import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { createLogger } from '../../lib/core/logger.ts';
import { Counters } from '../../server/app/counters.ts';
import { StoreCommitMonitor, UNAVAILABLE_LOG_INTERVAL_MS } from '../../server/app/store-commit-monitor.ts';
import { lease } from '../harness/lease-store-contract.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';

function monitored() {
  const clock = new ManualClock();
  const counters = new Counters();
  const lines: Array<{ event: string; level: string; failedCommits?: number; outageMs?: number; err?: string }> = [];
  const logger = createLogger({ level: 'debug', pretty: false, write: (l) => lines.push(JSON.parse(l)) });
  const monitor = new StoreCommitMonitor(counters, logger, clock);
  let failure: Error | undefined;
  const store = new MemoryLeaseStore([], { observer: monitor, failWith: () => failure });
  return { clock, counters, lines, monitor, store, fail: (err: Error | undefined) => (failure = err) };
}

test('a failing store is logged once when it starts failing, once per interval while it goes on, once when it is back', async (t) => {
  const { clock, counters, lines, monitor, store, fail } = monitored();
  await store.commit({ put: [lease(1)] });
  t.true(monitor.available);
  fail(new Error('disk full'));
  for (let i = 0; i < 5; i++) {
    // Three commits in one turn: one group, three rejections.
    const results = await Promise.allSettled([2, 3, 4].map((n) => store.commit({ put: [lease(n + 10 * i)] })));
    t.true(results.every((r) => r.status === 'rejected'));
    clock.advance(UNAVAILABLE_LOG_INTERVAL_MS / 4);
  }
  t.false(monitor.available);
  // Failures at 0, 2.5, 5, 7.5, 10 s: lines at 0 (the first) and 10 s (an interval later, for the four groups since).
  const unavailable = lines.filter((l) => l.event === 'lease-store-unavailable');
  t.deepEqual(unavailable.map((l) => [l.level, l.failedCommits]), [['error', 3], ['error', 12]]);
  t.regex(unavailable[0].err ?? '', /^lease store memory: commit failed: disk full$/);
  fail(undefined);
  await store.commit({ put: [lease(99)] });
  t.true(monitor.available);
  const back = lines.filter((l) => l.event === 'lease-store-available');
  t.is(back.length, 1);
  t.is(back[0].failedCommits, 15);
  t.is(back[0].outageMs, UNAVAILABLE_LOG_INTERVAL_MS + UNAVAILABLE_LOG_INTERVAL_MS / 4);
  await store.commit({ put: [lease(100)] });
  t.is(lines.filter((l) => l.event === 'lease-store-available').length, 1, 'said once, not per commit');
  t.is(counters.total('store_commit_failures'), 15);
  t.is(counters.total('store_commits'), 3);
  const [groupSize, latency] = counters.histograms();
  t.is(groupSize.name, 'store_commit_group_size');
  t.is(groupSize.count, 3, 'failed groups are not observed');
  t.is(latency.name, 'store_commit_seconds');
  t.is(latency.count, 3);
  // A second outage starts with a line of its own at once.
  fail(new Error('disk full again'));
  await t.throwsAsync(store.commit({ put: [lease(101)] }));
  t.is(lines.filter((l) => l.event === 'lease-store-unavailable').length, 3);
  await store.close().catch(() => undefined);
});
