// A model of the SQLite store's group commit (server/leases/group-committer.ts)
// under load, without the network, the disk or root: the real GroupCommitter
// on a simulated clock, fed Poisson arrivals of commits at each rate, each
// group's write blocking the (simulated) event loop for --write-ms, as
// SQLite's COMMIT + fsync blocks the server's. For each gather window it
// prints how many commits share one write (one fsync) and the commit
// latency, arrival to durable, avg and p95 — the part of REQUEST→ACK the
// window adds to. With the CPU per group and per lease that
// lease-store-micro.ts measures, it tells what a window saves in CPU per
// DORA and what it costs in latency before a DORA bench is run; the DORA
// bench (--commit-wait-us) then measures it.
//
//   node --import=tsx test/bench/gather-model.ts [--write-ms 0.25] [--commits 20000] [--windows-us 0,600,1200,2000]
//
// Measures nothing of this machine: the figures depend only on the options.

import { parseArgs } from 'node:util';
import { GroupCommitter, type GatherClock } from '../../server/leases/group-committer.ts';

const { values } = parseArgs({
  options: {
    'write-ms': { type: 'string', default: '0.25' },
    commits: { type: 'string', default: '20000' },
    'windows-us': { type: 'string', default: '0,600,1200,2000' },
  },
});
const WRITE_MS = Number(values['write-ms']);
const COMMITS = Number(values.commits);
const WINDOWS_MS = values['windows-us'].split(',').map((us) => Number(us) / 1000);
const RATES = [1000, 2000, 4000];

interface Timer {
  at: number;
  fn: () => void;
}

/** The simulated clock: `now` moves only when the model says so. */
class SimClock implements GatherClock {
  now_ = 0;
  readonly timers: Timer[] = [];
  now(): number {
    return this.now_;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.now_ + ms, fn };
    this.timers.push(timer);
    return timer;
  }
  clearTimeout(handle: unknown): void {
    const i = this.timers.indexOf(handle as Timer);
    if (i >= 0) this.timers.splice(i, 1);
  }
}

/** A small LCG, so every run of the model gives the same figures. */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

// GroupCommitter's own setImmediate and its promises run for real: a few
// turns of the real loop let everything due at the simulated instant happen.
const settle = async (): Promise<void> => {
  for (let k = 0; k < 4; k++) await new Promise<void>((resolve) => setImmediate(resolve));
};

async function model(rate: number, windowMs: number): Promise<{ perGroup: number; avg: number; p95: number }> {
  const clock = new SimClock();
  let groups = 0;
  const committer = new GroupCommitter(
    'model',
    (changes) => {
      groups++;
      clock.now_ += WRITE_MS; // the loop is blocked for the write
      return changes.map(() => ({ kind: 'committed' as const, enqueued: [] }));
    },
    undefined,
    undefined,
    { maxWaitMs: windowMs, clock },
  );
  const next = random(7);
  const arrivals: number[] = [];
  for (let t = 0, i = 0; i < COMMITS; i++) arrivals.push((t += -Math.log(1 - next()) * (1000 / rate)));
  const latencies: number[] = [];
  let i = 0;
  while (i < arrivals.length || clock.timers.length > 0) {
    clock.timers.sort((a, b) => a.at - b.at);
    const timer = clock.timers[0];
    if (i < arrivals.length && (timer === undefined || arrivals[i] <= timer.at)) {
      // What arrived while the loop was blocked is read in one turn (one recvmmsg).
      clock.now_ = Math.max(clock.now_, arrivals[i]);
      while (i < arrivals.length && arrivals[i] <= clock.now_) {
        const at = arrivals[i++];
        void committer.submit({ put: [] }).then(() => latencies.push(clock.now_ - at));
      }
    } else {
      clock.timers.shift();
      clock.now_ = Math.max(clock.now_, timer.at);
      timer.fn();
    }
    await settle();
  }
  await committer.close();
  latencies.sort((a, b) => a - b);
  return { perGroup: COMMITS / groups, avg: latencies.reduce((a, b) => a + b, 0) / latencies.length, p95: latencies[Math.floor(latencies.length * 0.95)] };
}

async function main(): Promise<void> {
  console.log(`# gather-model: ${COMMITS} Poisson commits per cell, each group's write blocks the loop ${WRITE_MS} ms`);
  console.log('| commits/s | window µs | commits per fsync | commit latency avg / p95 ms |');
  console.log('| --- | --- | --- | --- |');
  for (const rate of RATES) {
    for (const w of WINDOWS_MS) {
      const r = await model(rate, w);
      console.log(`| ${rate} | ${Math.round(w * 1000)} | ${r.perGroup.toFixed(2)} | ${r.avg.toFixed(3)} / ${r.p95.toFixed(3)} |`);
    }
  }
}

void main();
