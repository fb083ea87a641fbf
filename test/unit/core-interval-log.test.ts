import test from 'ava';
import { IntervalLog, type IntervalTimers } from '../../lib/core/interval-log.ts';
import type { LogFields, Logger, LogLevel } from '../../lib/core/logger.ts';

function fakes(level: LogLevel = 'info') {
  const lines: Array<[LogLevel, string, LogFields]> = [];
  const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const logger: Logger = {
    debug: (e, f = {}) => lines.push(['debug', e, f]),
    info: (e, f = {}) => lines.push(['info', e, f]),
    warn: (e, f = {}) => lines.push(['warn', e, f]),
    error: (e, f = {}) => lines.push(['error', e, f]),
    always: () => {},
    enabled: (l) => rank[l] >= rank[level],
  };
  let now = 0;
  let timer: { fn: () => void; at: number } | undefined;
  const timers: IntervalTimers = {
    now: () => now,
    setTimeout: (fn, ms) => (timer = { fn, at: now + ms }),
    clearTimeout: () => (timer = undefined),
  };
  const advance = (to: number) => {
    now = to;
    while (timer && timer.at <= now) {
      const t = timer;
      timer = undefined;
      t.fn();
    }
  };
  return { lines, logger, timers, advance, pending: () => timer !== undefined };
}

test('a flood of one kind makes one line at once and one with the count at the end of the interval', (t) => {
  const f = fakes();
  const log = new IntervalLog(f.logger, 1000, f.timers);
  for (let i = 0; i < 500; i++) log.warn('reply-dropped', { reason: 'stale' });
  t.deepEqual(f.lines, [['warn', 'reply-dropped', { reason: 'stale', count: 1 }]]);
  f.advance(1000);
  t.deepEqual(f.lines[1], ['warn', 'reply-dropped', { reason: 'stale', count: 499, intervalSeconds: 1 }]);
  t.is(f.lines.length, 2);
});

test('kinds are told apart by event and fields; detail only rides on the first line', (t) => {
  const f = fakes();
  const log = new IntervalLog(f.logger, 1000, f.timers);
  log.warn('dropped', { reason: 'stale' }, 1, { to: '198.18.0.9' });
  log.warn('dropped', { reason: 'overflow' }, 3, { to: '198.18.0.10' });
  log.warn('dropped', { reason: 'stale' }, 1, { to: '198.18.0.11' });
  t.deepEqual(f.lines, [
    ['warn', 'dropped', { reason: 'stale', to: '198.18.0.9', count: 1 }],
    ['warn', 'dropped', { reason: 'overflow', to: '198.18.0.10', count: 3 }],
  ]);
  f.advance(1000);
  t.deepEqual(f.lines.slice(2), [['warn', 'dropped', { reason: 'stale', count: 1, intervalSeconds: 1 }]]);
});

test('a kind quiet for a whole interval starts over with a line at once; no timer is left armed', (t) => {
  const f = fakes();
  const log = new IntervalLog(f.logger, 1000, f.timers);
  log.info('x');
  t.false(f.pending(), 'nothing pending: no timer');
  f.advance(5000);
  log.info('x');
  t.deepEqual(f.lines.map((l) => l[2]), [{ count: 1 }, { count: 1 }]);
});

test('close writes what is pending; nothing is logged after it, nor below the logger level', (t) => {
  const f = fakes('warn');
  const log = new IntervalLog(f.logger, 1000, f.timers);
  log.info('hidden');
  log.warn('w');
  log.warn('w');
  f.advance(250);
  log.close();
  t.deepEqual(f.lines, [
    ['warn', 'w', { count: 1 }],
    ['warn', 'w', { count: 1, intervalSeconds: 0.25 }],
  ]);
  log.warn('w');
  t.is(f.lines.length, 2);
  t.throws(() => new IntervalLog(f.logger, 0, f.timers), { instanceOf: RangeError });
});
