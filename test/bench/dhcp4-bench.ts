// DHCPv4 DORA benchmark: Leasehold against kea-dhcp4 (memfile, persist: true),
// both driven by perfdhcp over the same two-namespace veth topology.
//
//   node --import=tsx test/bench/dhcp4-bench.ts [--only kea|leasehold] [--duration S]
//
// For each server it searches the highest offered DORA rate at which at most
// 0.1 % of exchanges are dropped (doubling, then bisection, every step a short
// fixed-length perfdhcp run against a freshly started server with an empty
// lease store), then re-runs that rate once with per-exchange timestamps to get
// the latency (average, exact p95) and the server's CPU time per DORA.
// The last line printed is always:
//   dhcp4-dora leasehold=<N>/s kea=<M>/s ratio=<N/M> cpu_us_per_dora leasehold=<a> kea=<b>
// See test/bench/README.md.
//
// Needs root (network namespaces), iproute2, perfdhcp (Debian kea-admin) and,
// for the Kea side, kea-dhcp4. All traffic stays inside the two namespaces this
// script creates (198.18.0.0/16 addresses only); they are removed on exit.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CLK_TCK,
  REPO_ROOT,
  cpuTicks,
  fmt,
  hostTicks,
  killChildren,
  leaseholdEntry,
  percentile,
  roundRate,
  run,
  runPerfdhcp as runPerfdhcpIn,
  searchRate,
  selfAndReapedTicks,
  sleep,
  track,
  tryRun,
  missingProgram,
  type PerfResult,
  CLI_ADDR,
  IFACE,
  keaBenchConfig,
  LEASE_TIME,
  leaseholdBenchConfig,
  MAX_DROP_PCT,
  parseFlags,
  POOL_END,
  POOL_SIZE,
  POOL_START,
  PREFIX_LEN,
  searchFlags,
  SRV_ADDR,
  UsageError,
  type SearchFlagOptions,
} from './bench-common.ts';

// ---------------------------------------------------------------------------
// Fixed topology and workload

const NS_SRV = 'lt-bench-srv';
const NS_CLI = 'lt-bench-cli';
const VETH_SRV = 'lt-bench-s'; // renamed to eth0 once inside NS_SRV
const VETH_CLI = 'lt-bench-c'; // renamed to eth0 once inside NS_CLI

const NCPU = cpus().length;

// ---------------------------------------------------------------------------
// Command line

type ServerName = 'leasehold' | 'kea';

interface Options extends SearchFlagOptions {
  pin: boolean;
}

function usage(): string {
  return [
    'usage: node --import=tsx test/bench/dhcp4-bench.ts [options]',
    '  --only kea|leasehold   measure one server only (the other is reported n/a)',
    '  --duration S           seconds per search step (default 5)',
    '  --confirm-duration S   seconds of the final timestamped run (default 2 x duration)',
    '  --clients N            simulated clients, perfdhcp -R (default 40000, <= pool size)',
    '  --start-rate R         first rate tried, DORA/s (default 1000)',
    '  --max-rate R           stop doubling here (default 64000)',
    '  --precision F          bisection stops at (hi-lo)/lo <= F (default 0.05)',
    '  --pin                  pin the server to CPU 0 and perfdhcp to CPU 1 (taskset)',
    '  --no-retry             count a failing search step as failed at once (default: retry it once)',
  ].join('\n');
}

function parseArgs(argv: string[]): Options {
  const o = parseFlags<Options>(
    argv,
    { duration: 5, confirmDuration: 0, clients: 40000, startRate: 1000, maxRate: 64000, precision: 0.05, pin: false, retry: true },
    {
      ...searchFlags<Options>(),
      '--pin': { key: 'pin', set: true },
    },
    usage,
  );
  if (o.confirmDuration === 0) o.confirmDuration = o.duration * 2;
  if (o.clients > POOL_SIZE) throw new UsageError(`--clients must be <= the pool size (${POOL_SIZE})`);
  return o;
}



// ---------------------------------------------------------------------------
// Small helpers

const t0 = Date.now();
const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------
// Topology

function teardownTopology(): void {
  for (const ns of [NS_SRV, NS_CLI]) {
    if (existsSync(`/run/netns/${ns}`)) tryRun('ip', ['netns', 'del', ns]);
  }
  // Only present if a previous run died between "link add" and "set netns".
  for (const link of [VETH_SRV, VETH_CLI]) {
    if (existsSync(`/sys/class/net/${link}`)) tryRun('ip', ['link', 'del', link]);
  }
}

function setupTopology(): void {
  teardownTopology(); // leftovers of a crashed run (our names only)
  run('ip', ['netns', 'add', NS_SRV]);
  run('ip', ['netns', 'add', NS_CLI]);
  run('ip', ['link', 'add', VETH_SRV, 'type', 'veth', 'peer', 'name', VETH_CLI]);
  run('ip', ['link', 'set', VETH_SRV, 'netns', NS_SRV]);
  run('ip', ['link', 'set', VETH_CLI, 'netns', NS_CLI]);
  for (const [ns, link, addr] of [
    [NS_SRV, VETH_SRV, SRV_ADDR],
    [NS_CLI, VETH_CLI, CLI_ADDR],
  ] as const) {
    run('ip', ['-n', ns, 'link', 'set', link, 'name', IFACE]);
    run('ip', ['-n', ns, 'addr', 'add', `${addr}/${PREFIX_LEN}`, 'dev', IFACE]);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', ns, 'link', 'set', IFACE, 'up']);
  }
}

let cleanedUp = false;
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  killChildren();
  teardownTopology();
  for (const d of workdirs) rmSync(d, { recursive: true, force: true });
}

const workdirs = new Set<string>();
function newWorkdir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lt-bench-'));
  workdirs.add(d);
  return d;
}
function dropWorkdir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  workdirs.delete(d);
}

// ---------------------------------------------------------------------------
// Servers under test

class ServerFailure extends Error {}

interface Running {
  pid: number;
  /** undefined while alive, else a description of how it ended */
  exitReason(): string | undefined;
  outputTail(): string;
  stop(): Promise<void>;
}

interface ServerUnderTest {
  name: ServerName;
  describe: string;
  /** Throws ServerFailure with a readable reason if the server cannot be run here. */
  check(): void;
  start(workdir: string, pin: boolean): Promise<Running>;
}

/**
 * Starts `argv` inside NS_SRV (`ip netns exec` execs it, so the PID is the
 * server's own) and resolves once a line of its output satisfies `isReady`.
 */
async function startInSrvNs(
  label: string,
  argv: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; pin: boolean; readyTimeoutMs: number; isReady: (line: string) => boolean },
): Promise<Running> {
  const cmd = ['netns', 'exec', NS_SRV, ...(opts.pin ? ['taskset', '-c', '0'] : []), ...argv];
  const child = track(spawn('ip', cmd, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const tail: string[] = [];
  let exit: string | undefined;
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((r) => (resolveReady = r));
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      r();
    }),
  );
  child.once('error', (err) => {
    exit = `could not be started: ${err.message}`;
  });
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (opts.isReady(line)) resolveReady();
      }
    });
  }
  const outputTail = (): string => (tail.length ? tail.map((l) => `    | ${l}`).join('\n') : '    | (no output)');
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    exited.then(() => 'exited' as const),
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), opts.readyTimeoutMs))),
  ]);
  clearTimeout(timer);
  const stop = async (): Promise<void> => {
    if (exit !== undefined || child.pid === undefined) return;
    child.kill('SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  if (outcome !== 'ready' || child.pid === undefined) {
    await stop();
    const why = outcome === 'timeout' ? `did not report ready within ${opts.readyTimeoutMs / 1000} s` : `${exit} before it was ready`;
    throw new ServerFailure(`${label} ${why}; last output:\n${outputTail()}`);
  }
  return { pid: child.pid, exitReason: () => exit, outputTail, stop };
}

const kea: ServerUnderTest = {
  name: 'kea',
  describe: 'kea-dhcp4 (memfile, persist: true, lfc-interval 0; multi-threading left at the packaged default)',
  check() {
    const missing = missingProgram(['kea-dhcp4']);
    if (missing) throw new ServerFailure(missing);
  },
  async start(workdir, pin) {
    const config = keaBenchConfig(workdir);
    const file = join(workdir, 'kea-dhcp4.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    return startInSrvNs('kea-dhcp4', ['kea-dhcp4', '-c', file], {
      cwd: workdir,
      env: { ...process.env, KEA_PIDFILE_DIR: workdir, KEA_LOCKFILE_DIR: workdir },
      pin,
      readyTimeoutMs: 15000,
      isReady: (line) => line.includes('DHCP4_STARTED'),
    });
  },
};

const leasehold: ServerUnderTest = {
  name: 'leasehold',
  describe: 'Leasehold (SQLite lease store)',
  check() {
    if (!leaseholdEntry()) {
      throw new ServerFailure('Leasehold server entry point not found (neither dist/server/cli/main.js nor server/cli/main.ts)');
    }
  },
  async start(workdir, pin) {
    const entry = leaseholdEntry();
    if (!entry) throw new ServerFailure('Leasehold server entry point not found');
    const config = leaseholdBenchConfig(workdir);
    const file = join(workdir, 'leasehold.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    return startInSrvNs('leasehold server', [...entry, 'serve', '--config', file], {
      cwd: REPO_ROOT,
      env: process.env,
      pin,
      readyTimeoutMs: 30000,
      isReady: (line) => {
        if (!line.includes('"ready"')) return false;
        try {
          return (JSON.parse(line) as { event?: unknown }).event === 'ready';
        } catch {
          return line.includes('"event":"ready"');
        }
      },
    });
  },
};

// ---------------------------------------------------------------------------
// perfdhcp

function runPerfdhcp(opts: Options, rate: number, seconds: number, timestamps: boolean): Promise<PerfResult> {
  return runPerfdhcpIn({
    netns: NS_CLI,
    iface: IFACE,
    rate,
    seconds,
    clients: opts.clients,
    timestamps,
    ...(opts.pin ? { cpu: 1 } : {}),
  });
}

// ---------------------------------------------------------------------------
// One step: fresh server + lease store, one perfdhcp run, CPU accounting.

interface Step {
  rate: number;
  seconds: number;
  perf: PerfResult;
  started: number; // DISCOVERs sent
  completed: number; // ACKs received
  dropPct: number;
  achieved: number; // completed / seconds
  cpuSeconds: number;
  cpuUsPerDora: number;
  /** CPU use during the run, in % of one CPU (the host total is 100 x ncpu) */
  serverPct: number;
  clientPct: number; // perfdhcp (and this script, which is idle meanwhile)
  otherPct: number; // everything else on the host
  pass: boolean;
  why: string;
}

async function step(server: ServerUnderTest, opts: Options, rate: number, seconds: number, timestamps: boolean): Promise<Step> {
  const dir = newWorkdir();
  let srv: Running | undefined;
  try {
    const running = await server.start(dir, opts.pin);
    srv = running;
    await sleep(300); // let the server settle after "ready"
    const serverTicks = (): number => {
      try {
        return cpuTicks(running.pid);
      } catch {
        throw new ServerFailure(`${server.name} ${running.exitReason() ?? 'vanished'} during the run at ${rate}/s; last output:\n${running.outputTail()}`);
      }
    };
    const before = serverTicks();
    const hostBefore = hostTicks();
    const clientBefore = selfAndReapedTicks();
    const perf = await runPerfdhcp(opts, rate, seconds, timestamps);
    const clientAfter = selfAndReapedTicks();
    const hostAfter = hostTicks();
    const died = srv.exitReason();
    if (died !== undefined) throw new ServerFailure(`${server.name} ${died} during the run at ${rate}/s; last output:\n${srv.outputTail()}`);
    if (perf.doStats.received === 0) {
      throw new ServerFailure(`${server.name} answered none of ${perf.doStats.sent} DISCOVERs at ${rate}/s; last output:\n${srv.outputTail()}`);
    }
    const after = serverTicks();
    const started = perf.doStats.sent;
    const completed = perf.raStats.received;
    const dropped = Math.max(perf.doStats.drops + perf.raStats.drops, started - completed);
    const dropPct = started > 0 ? (100 * dropped) / started : 100;
    const cpuSeconds = (after - before) / CLK_TCK;
    const expected = rate * seconds;
    let pass = dropPct <= MAX_DROP_PCT;
    let why = pass ? 'ok' : `drops ${fmt(dropPct, 3)}% > ${MAX_DROP_PCT}%`;
    if (pass && started < 0.95 * expected) {
      pass = false;
      why = `perfdhcp only started ${started} of ${expected} exchanges (client could not keep the rate)`;
    }
    return {
      rate,
      seconds,
      perf,
      started,
      completed,
      dropPct,
      achieved: completed / seconds,
      cpuSeconds,
      cpuUsPerDora: completed > 0 ? (cpuSeconds * 1e6) / completed : NaN,
      ...((): Pick<Step, 'serverPct' | 'clientPct' | 'otherPct'> => {
        const toPct = (ticks: number): number => (100 * NCPU * ticks) / Math.max(1, hostAfter.total - hostBefore.total);
        const busy = hostAfter.busy - hostBefore.busy;
        const server = after - before;
        const client = clientAfter - clientBefore;
        return {
          serverPct: toPct(server),
          clientPct: toPct(client),
          otherPct: toPct(Math.max(0, busy - server - client)),
        };
      })(),
      pass,
      why,
    };
  } finally {
    await srv?.stop();
    dropWorkdir(dir);
  }
}

function describeStep(name: string, s: Step, tag = ''): string {
  return (
    `[${name}]${tag} rate ${s.rate}/s x ${s.seconds}s: started ${s.started}, completed ${s.completed} ` +
    `(${fmt(s.achieved, 0)}/s), dropped ${fmt(s.dropPct, 3)}%, ` +
    `avg D-O ${fmt(s.perf.doStats.avgMs, 3)} ms R-A ${fmt(s.perf.raStats.avgMs, 3)} ms, ` +
    `server cpu ${fmt(s.cpuUsPerDora, 1)} us/DORA; cpu% server ${fmt(s.serverPct, 0)} perfdhcp ${fmt(s.clientPct, 0)} ` +
    `other ${fmt(s.otherPct, 0)} (of ${NCPU * 100}) -> ${s.pass ? 'PASS' : `FAIL (${s.why})`}`
  );
}

// ---------------------------------------------------------------------------
// Search

interface Outcome {
  rate?: number;
  cpuUsPerDora?: number;
  note?: string;
}

async function measure(server: ServerUnderTest, opts: Options): Promise<Outcome> {
  const began = Date.now();
  log(`[${server.name}] ${server.describe}`);
  try {
    server.check();
  } catch (e) {
    if (e instanceof ServerFailure) return { note: e.message };
    throw e;
  }
  const others: number[] = [];
  const runStep = async (rate: number, seconds: number, timestamps: boolean, tag: string): Promise<Step> => {
    const s = await step(server, opts, rate, seconds, timestamps);
    others.push(s.otherPct);
    log(`${describeStep(server.name, s, tag)}  [${elapsed()}]`);
    return s;
  };
  // A failing rate is tried a second time before it counts as failed: on a
  // small shared machine one stray burst of other work can cost 0.1 %.
  const tryRate = async (rate: number): Promise<Step> => {
    const s = await runStep(rate, opts.duration, false, '');
    return !s.pass && opts.retry ? runStep(rate, opts.duration, false, ' retry') : s;
  };
  const warnIfNoisy = (): void => {
    const avg = others.reduce((a, b) => a + b, 0) / Math.max(1, others.length);
    if (avg > 20) {
      log(
        `[${server.name}] WARNING: unrelated work used ${fmt(avg, 0)}% of a CPU on average during these runs ` +
          `(max ${fmt(Math.max(...others), 0)}%); the ${server.name} figures are skewed low, run again on a quiet host`,
      );
    }
  };

  let lo: Step | undefined;
  let hi: number | undefined;
  try {
    // 1. doubling (or halving if the first rate already fails), 2. bisection
    const found = await searchRate({
      startRate: opts.startRate,
      maxRate: opts.maxRate,
      precision: opts.precision,
      tryRate: async (rate) => {
        const s = await tryRate(rate);
        if (s.pass && (!lo || s.rate > lo.rate)) lo = s; // for the failure note below
        return s;
      },
    });
    lo = found.lo;
    hi = found.hi;
    if (!lo) return { note: `no tested rate down to ${hi}/s stayed within ${MAX_DROP_PCT}% drops` };
    if (hi === undefined) log(`[${server.name}] reached --max-rate ${opts.maxRate}/s without drops; the result is a lower bound`);

    // 3. confirmation at the found rate, longer, with per-exchange timestamps
    let confirmed: Step | undefined;
    let rate3 = lo.rate;
    for (let attempt = 0; attempt < 3 && !confirmed; attempt++) {
      const s = await runStep(rate3, opts.confirmDuration, true, ' confirm');
      if (s.pass) confirmed = s;
      else rate3 = roundRate(rate3 * 0.93);
    }
    const final = confirmed ?? lo;
    log(
      `[${server.name}] RESULT ${final.rate} DORA/s offered, ${fmt(final.achieved, 0)}/s completed, ` +
        `${fmt(final.dropPct, 3)}% dropped (${final.completed} DORAs in ${final.seconds}s)` +
        (confirmed ? '' : ' [confirmation runs failed; figures from the search step]'),
    );
    for (const [label, p] of [
      ['DISCOVER->OFFER', final.perf.doStats],
      ['REQUEST->ACK', final.perf.raStats],
    ] as const) {
      let p95: string;
      if (p.delays && p.delays.length > 0) {
        const sorted = [...p.delays].sort((a, b) => a - b);
        p95 = `p95 ${fmt(percentile(sorted, 0.95), 3)} ms (exact, ${sorted.length} exchanges)`;
      } else {
        p95 = `p95 ~${fmt(p.avgMs + 1.645 * p.stdMs, 3)} ms (estimated avg+1.645*sd)`;
      }
      log(
        `[${server.name}] latency ${label}: avg ${fmt(p.avgMs, 3)} ms, ${p95}, ` +
          `min ${fmt(p.minMs, 3)} max ${fmt(p.maxMs, 3)} sd ${fmt(p.stdMs, 3)} ms`,
      );
    }
    log(
      `[${server.name}] cpu ${fmt(final.cpuUsPerDora, 1)} us per DORA ` +
        `(utime+stime ${fmt(final.cpuSeconds, 2)} s for ${final.completed} DORAs; ` +
        `${fmt(final.serverPct, 0)}% of one CPU during the run)` +
        `  [${((Date.now() - began) / 1000).toFixed(0)}s for ${server.name}]`,
    );
    warnIfNoisy();
    return { rate: final.rate, cpuUsPerDora: final.cpuUsPerDora };
  } catch (e) {
    if (e instanceof ServerFailure) {
      if (lo) return { note: `${e.message}\n  (last passing rate before that: ${lo.rate}/s, not reported as a result)` };
      return { note: e.message };
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Main

function preflight(opts: Options): void {
  if (process.getuid?.() !== 0) throw new UsageError('must run as root (creates network namespaces)');
  const missing = missingProgram(['ip', 'perfdhcp', ...(opts.pin ? ['taskset'] : [])]);
  if (missing) throw new UsageError(missing);
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
    preflight(opts);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`dhcp4-bench: ${e.message}\n${usage()}\n`);
      return 2;
    }
    throw e;
  }

  const ncpu = NCPU;
  const idle0 = hostTicks();
  await sleep(1000);
  const idle1 = hostTicks();
  const busyBefore = (100 * ncpu * (idle1.busy - idle0.busy)) / Math.max(1, idle1.total - idle0.total);
  log(`# dhcp4-bench: perfdhcp DORA, pool ${POOL_START}-${POOL_END} (${POOL_SIZE} addresses), lease time ${LEASE_TIME} s,`);
  log(`#   ${opts.clients} simulated clients, ${opts.duration} s per search step, ${opts.confirmDuration} s confirmation run,`);
  log(`#   pass = at most ${MAX_DROP_PCT}% of started exchanges not completed (perfdhcp drop time 1 s); fresh server and lease store per step.`);
  log(`#   perfdhcp acts as a relay (giaddr ${CLI_ADDR}, port 67) from netns ${NS_CLI}; servers run in ${NS_SRV} on ${IFACE} ${SRV_ADDR}/${PREFIX_LEN}.`);
  log(
    `#   ${ncpu} CPU(s): ` +
      (opts.pin
        ? 'server pinned to CPU 0, perfdhcp to CPU 1.'
        : `perfdhcp (multi-threaded) and the server share them${ncpu <= 4 ? ' and compete for them: rates are lower than on a dedicated server' : ''}.`),
  );
  log(`#   search: doubling from ${opts.startRate}/s, then bisection to ${opts.precision * 100}%${opts.retry ? '; a failing step is retried once' : ''}; confirmation run at the result (stepped down 7% if it fails).`);
  log(`#   latency = perfdhcp per-pair delay (DISCOVER->OFFER, REQUEST->ACK); p95 exact from perfdhcp -x t timestamps of the confirmation run.`);
  log(`#   cpu = server utime+stime from /proc/<pid>/stat (all threads, ${CLK_TCK} ticks/s) over the run / completed DORAs.`);
  log(`#   lease durability differs: Kea memfile appends without fsync; Leasehold commits SQLite (synchronous=FULL) before each ACK.`);

  if (busyBefore > 15) {
    log(`# WARNING: the host was already ${fmt(busyBefore, 0)}% busy (of ${ncpu * 100}%) before the bench started; other work skews the figures.`);
  }
  const wanted: ServerUnderTest[] = [leasehold, kea].filter((s) => !opts.only || s.name === opts.only);
  const results: Record<ServerName, Outcome> = { leasehold: { note: 'not run (--only)' }, kea: { note: 'not run (--only)' } };
  setupTopology();
  try {
    for (const s of wanted) results[s.name] = await measure(s, opts);
  } finally {
    cleanup();
  }

  let failed = false;
  for (const s of wanted) {
    const r = results[s.name];
    if (r.rate === undefined) {
      failed = true;
      process.stderr.write(`[${s.name}] could not be measured: ${r.note}\n`);
    }
  }
  const l = results.leasehold;
  const k = results.kea;
  const rateStr = (o: Outcome): string => (o.rate === undefined ? 'n/a' : `${o.rate}/s`);
  const cpuStr = (o: Outcome): string => (o.cpuUsPerDora === undefined || !Number.isFinite(o.cpuUsPerDora) ? 'n/a' : fmt(o.cpuUsPerDora, 1));
  const ratio = l.rate !== undefined && k.rate !== undefined && k.rate > 0 ? fmt(l.rate / k.rate, 2) : 'n/a';
  log(`dhcp4-dora leasehold=${rateStr(l)} kea=${rateStr(k)} ratio=${ratio} cpu_us_per_dora leasehold=${cpuStr(l)} kea=${cpuStr(k)}`);
  return failed ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    process.stderr.write(`dhcp4-bench: ${sig}, cleaning up\n`);
    cleanup();
    process.exit(130);
  });
}
process.once('exit', cleanup);

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    cleanup();
    process.stderr.write(`dhcp4-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
