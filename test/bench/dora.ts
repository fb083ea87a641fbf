// The DHCPv4 load of the DORA benches (dhcp4-bench.ts, ddns-bench.ts), on
// top of bench-driver.ts: the topology (a harness segment with the server
// in `<prefix>-srv` and perfdhcp in `<prefix>-cli`), the one subnet and
// pool both servers serve, Kea and Leasehold through the harness's server
// classes (test/harness/servers.ts), perfdhcp, and one step: a fresh server
// offered `rate` DORAs per second for `seconds`, with what completed, what
// dropped and the CPU each side used.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KeaServer } from '../harness/kea-server.ts';
import { LeaseholdServer } from '../harness/leasehold-server.ts';
import type { Host, Segment } from '../harness/netns.ts';
import { ourCommand } from '../harness/run-command.ts';
import type { TestDdns, TestServerConfig } from '../harness/servers.ts';
import {
  CpuMeter,
  fmt,
  ProcessGone,
  ServerFailure,
  sleep,
  track,
  missingProgram,
  type Bench,
  type BenchServer,
  type CpuUse,
} from './bench-driver.ts';

// ---------------------------------------------------------------------------
// Topology and subnet: the same for both servers

export const IFACE = 'eth0';
export const SRV_ADDR = '198.18.0.1';
export const DNS_ADDR = '198.18.0.2';
export const CLI_ADDR = '198.18.0.250';
export const PREFIX_LEN = 16;
export const SUBNET = '198.18.0.0/16';
export const POOL_START = '198.18.1.0';
export const POOL_END = '198.18.255.254'; // 65,279 addresses
export const POOL_SIZE = 255 * 256 - 1;
export const LEASE_TIME = 3600;
/** A step passes when at most this % of the exchanges perfdhcp started did not complete. */
export const MAX_DROP_PCT = 0.1;

export interface DoraTopology {
  segment: Segment;
  /** The server's namespace, `eth0` SRV_ADDR. */
  srv: Host;
  /** perfdhcp's, `eth0` CLI_ADDR: it acts as a relay from there. */
  cli: Host;
  /** BIND's, DNS_ADDR, when asked for. */
  dns?: Host;
}

/** The harness segment `<prefix>-*`: server, client and, with `dns`, a DNS host. Removed when the bench ends. */
export async function doraTopology(bench: Bench, prefix: string, options: { dns?: boolean } = {}): Promise<DoraTopology> {
  const { segment, hosts } = await bench.segment(prefix, [
    { name: 'srv', ipv4: `${SRV_ADDR}/${PREFIX_LEN}` },
    { name: 'cli', ipv4: `${CLI_ADDR}/${PREFIX_LEN}` },
    ...(options.dns ? [{ name: 'dns', ipv4: `${DNS_ADDR}/${PREFIX_LEN}` }] : []),
  ]);
  return { segment, srv: hosts[0], cli: hosts[1], dns: hosts[2] };
}

/** The bench subnet for either server: the pool, lease time and option `routers`; `ddns` adds DNS updates. */
export function benchServerConfig(ddns?: TestDdns): TestServerConfig {
  return {
    interface: IFACE,
    subnets: [
      {
        cidr: SUBNET,
        interface: IFACE,
        pools: [{ start: POOL_START, end: POOL_END }],
        leaseTime: LEASE_TIME,
        options: { routers: [SRV_ADDR] },
      },
    ],
    ...(ddns && { ddns }),
  };
}

// ---------------------------------------------------------------------------
// The servers

/** `baseline`: another checkout of Leasehold (an older commit, built), measured beside this one in the same run. */
export type ServerName = 'leasehold' | 'kea' | 'baseline';
export const SERVER_NAMES: readonly ServerName[] = ['leasehold', 'kea', 'baseline'];

export type DoraServerUnderTest = LeaseholdServer | KeaServer;

export interface DoraServer extends BenchServer<ServerName> {
  /** A new server under test, not started: each step starts a fresh one (empty lease store). */
  create(): DoraServerUnderTest;
}

/**
 * Leasehold and Kea as the benches run them: logging only warnings (a line
 * per packet would be what is measured), with `pin` on CPU 0 (taskset).
 * Leasehold runs the build when it is newer than its sources, else the
 * sources through tsx (the bench says so: start-up then includes
 * compiling); LT_BENCH_LEASEHOLD_ENTRY=<file.ts> runs a stand-in instead,
 * to try a bench's own failure handling. With `baseline` (a checkout's
 * directory, built with `npx tsc -p tsconfig.json` there) its
 * `dist/server/cli/main.js` is a third server, `baseline`.
 */
export function doraServers(
  bench: Bench,
  o: { pin?: boolean; ddns?: boolean; baseline?: string; describe: Record<'leasehold' | 'kea', string> & { baseline?: string } },
): DoraServer[] {
  const launcher = o.pin ? ['taskset', '-c', '0'] : [];
  const options = { logLevel: 'warn', launcher } as const;
  const leasehold: DoraServer = {
    name: 'leasehold',
    describe: o.describe.leasehold,
    check() {
      const override = process.env.LT_BENCH_LEASEHOLD_ENTRY;
      if (override) bench.log(`[leasehold] LT_BENCH_LEASEHOLD_ENTRY: running ${override} instead of the server`);
      else if (!ourCommand('server').built) bench.log('[leasehold] WARNING: dist/ is older than server/ or lib/: running the sources through tsx (run `make build`)');
    },
    create() {
      const override = process.env.LT_BENCH_LEASEHOLD_ENTRY;
      const command = override ? [process.execPath, '--import=tsx', override] : ourCommand('server').argv;
      return new LeaseholdServer({ ...options, command });
    },
  };
  const kea: DoraServer = {
    name: 'kea',
    describe: o.describe.kea,
    check() {
      const missing = missingProgram(['kea-dhcp4', ...(o.ddns ? ['kea-dhcp-ddns'] : [])]);
      if (missing) throw new ServerFailure(missing);
    },
    create: () => new KeaServer(options),
  };
  const baselineDir = o.baseline;
  if (baselineDir === undefined) return [leasehold, kea];
  const baselineCli = join(resolve(baselineDir), 'dist', 'server', 'cli', 'main.js');
  const baseline: DoraServer = {
    name: 'baseline',
    describe: `${o.describe.baseline ?? 'Leasehold, another checkout'}: ${baselineCli}`,
    check() {
      if (!existsSync(baselineCli)) throw new ServerFailure(`${baselineCli} is missing: build the baseline checkout (npx tsc -p tsconfig.json in ${baselineDir})`);
    },
    create() {
      const command = [process.execPath, baselineCli];
      return new LeaseholdServer({ ...options, command });
    },
  };
  return [leasehold, kea, baseline];
}

/** A fresh server on `host` with `config`, handed to `body`, then stopped and removed with its lease store. */
export async function withFreshServer<T>(
  server: DoraServer,
  host: Host,
  config: TestServerConfig,
  body: (running: DoraServerUnderTest) => Promise<T>,
): Promise<T> {
  const running = server.create();
  try {
    try {
      await running.start(host, config);
    } catch (e) {
      throw new ServerFailure(`${server.name} did not start: ${e instanceof Error ? e.message : String(e)}`);
    }
    await sleep(300); // let the server settle after "ready"
    return await body(running);
  } finally {
    await running.remove();
  }
}

// ---------------------------------------------------------------------------
// perfdhcp

export interface PairStats {
  sent: number;
  received: number;
  drops: number;
  avgMs: number;
  stdMs: number;
  minMs: number;
  maxMs: number;
  /** per-exchange delays in ms, only with timestamps (-x t) */
  delays?: number[];
}

export interface PerfResult {
  doStats: PairStats;
  raStats: PairStats;
}

export function parsePair(text: string, section: string): PairStats {
  const header = `***Statistics for: ${section}***`;
  const start = text.indexOf(header);
  if (start < 0) throw new Error(`perfdhcp output has no statistics for ${section}`);
  const end = text.indexOf('***', start + header.length);
  const body = text.slice(start, end < 0 ? undefined : end);
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s*([0-9.eE+-]+)`, 'm').exec(body);
    return m ? Number(m[1]) : NaN;
  };
  const stats: PairStats = {
    sent: field('sent packets'),
    received: field('received packets'),
    drops: field('drops'),
    minMs: field('min delay'),
    avgMs: field('avg delay'),
    maxMs: field('max delay'),
    stdMs: field('std deviation'),
  };
  const tsHeader = `***Timestamps for packets: ${section}***`;
  const ts = text.indexOf(tsHeader);
  if (ts >= 0) {
    const tsEnd = text.indexOf('***', ts + tsHeader.length);
    const delays: number[] = [];
    const re = /sent \/ received:\s*([0-9.]+)\s*\/\s*([0-9.]+)/g;
    const tsBody = text.slice(ts, tsEnd < 0 ? undefined : tsEnd);
    for (let m = re.exec(tsBody); m; m = re.exec(tsBody)) delays.push((Number(m[2]) - Number(m[1])) * 1000);
    stats.delays = delays;
  }
  return stats;
}

/** How perfdhcp loads the server, besides the rate and the length of a run. */
export interface DoraLoad {
  /** simulated clients, perfdhcp -R */
  clients: number;
  /** per-exchange timestamps (-x t) */
  timestamps?: boolean;
  /** pin perfdhcp to this CPU (taskset) */
  cpu?: number;
  /** more perfdhcp arguments, e.g. `-o 81,...` */
  extraArgs?: readonly string[];
}

/**
 * perfdhcp's argv (without a namespace), acting as a relay on `iface` (it
 * broadcasts from its address, port 67, with that address as giaddr, and the
 * server answers by unicast): full DORAs at `rate` for `seconds`.
 */
export function perfdhcpArgv(rate: number, seconds: number, load: DoraLoad): string[] {
  return [
    ...(load.cpu !== undefined ? ['taskset', '-c', String(load.cpu)] : []),
    'perfdhcp', '-4',
    '-l', IFACE,
    '-r', String(rate),
    '-p', String(seconds),
    '-R', String(load.clients),
    '-d', '1', // an exchange not answered within 1 s is dropped
    '-W', '500000', // after the period, wait 0.5 s for late answers
    // (-D <max-drop> is not used: with a percentage perfdhcp 2.2 aborts after ~10 exchanges,
    // and an absolute count does not end an overloaded run any sooner.)
    ...(load.timestamps ? ['-x', 't'] : []),
    ...(load.extraArgs ?? []),
  ];
}

/** perfdhcp's statistics of one run from its output; exit 0 (all completed) and 3 (some did not) both carry them. */
export function perfdhcpResult(code: number | null, out: string, err: string): PerfResult {
  if (code !== 0 && code !== 3) {
    throw new Error(`perfdhcp failed (exit ${code}): ${(err || out).trim().split('\n').slice(-5).join(' / ')}`);
  }
  return { doStats: parsePair(out, 'DISCOVER-OFFER'), raStats: parsePair(out, 'REQUEST-ACK') };
}

/** One perfdhcp run inside `netns` (perfdhcpArgv). */
export async function runPerfdhcp(netns: string, rate: number, seconds: number, load: DoraLoad): Promise<PerfResult> {
  const args = ['netns', 'exec', netns, ...perfdhcpArgv(rate, seconds, load)];
  // Not a harness TrackedProcess: that keeps only the last 1 MiB of output,
  // and the timestamps of a long run are more.
  const child = track(spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (err += c));
  // 'close', not 'exit': the statistics may still sit in the pipe when the process exits.
  const code = await new Promise<number | null>((res, rej) => {
    child.once('error', rej);
    child.once('close', (c) => res(c));
  });
  return perfdhcpResult(code, out, err);
}

// ---------------------------------------------------------------------------
// One step

/** What one perfdhcp run at one rate did to a running server. */
export interface DoraStep<K extends string = never> {
  rate: number;
  seconds: number;
  perf: PerfResult;
  /** DISCOVERs sent */
  started: number;
  /** ACKs received */
  completed: number;
  dropPct: number;
  /** completed / seconds */
  achieved: number;
  /** The server's processes ("server"), `more`'s groups, perfdhcp, the rest of the host. */
  cpu: CpuUse<'server' | K>;
  otherPct: number;
  /** At most MAX_DROP_PCT dropped, and perfdhcp kept the rate. */
  dhcpOk: boolean;
  /** Why not, when not. */
  why: string;
}

/**
 * Offers `running` DORAs at `rate` for `seconds` from `cli` and measures
 * the CPU time of its processes and of `more` (other processes whose work
 * the step causes, such as named) over the run. A server that died or
 * answered nothing is a ServerFailure.
 */
export async function measureDora<K extends string = never>(
  name: string,
  running: Pick<DoraServerUnderTest, 'processes' | 'exitReason' | 'tail'>,
  cli: Host,
  rate: number,
  seconds: number,
  load: DoraLoad,
  more: Record<K, readonly number[]> = {} as Record<K, readonly number[]>,
): Promise<DoraStep<K>> {
  const failure = (what: string) => new ServerFailure(`${name} ${what} at ${rate}/s; last output:\n${running.tail()}`);
  const meter = new CpuMeter<'server' | K>({ ...more, server: running.processes.map((p) => p.pid) } as Record<'server' | K, readonly number[]>);
  let cpu: CpuUse<'server' | K>;
  let perf: PerfResult;
  try {
    meter.start();
    perf = await runPerfdhcp(cli.netns, rate, seconds, load);
    cpu = meter.stop();
  } catch (e) {
    if (e instanceof ProcessGone) throw failure(`${running.exitReason() ?? 'vanished'} during the run`);
    throw e;
  }
  const died = running.exitReason();
  if (died !== undefined) throw failure(`${died} during the run`);
  if (perf.doStats.received === 0) throw failure(`answered none of ${perf.doStats.sent} DISCOVERs`);
  const started = perf.doStats.sent;
  const completed = perf.raStats.received;
  const dropped = Math.max(perf.doStats.drops + perf.raStats.drops, started - completed);
  const dropPct = started > 0 ? (100 * dropped) / started : 100;
  const expected = rate * seconds;
  let dhcpOk = dropPct <= MAX_DROP_PCT;
  let why = dhcpOk ? '' : `drops ${fmt(dropPct, 3)}% > ${MAX_DROP_PCT}%`;
  if (dhcpOk && started < 0.95 * expected) {
    dhcpOk = false;
    why = `perfdhcp only started ${started} of ${expected} exchanges (client could not keep the rate)`;
  }
  return { rate, seconds, perf, started, completed, dropPct, achieved: completed / seconds, cpu, otherPct: cpu.otherPct, dhcpOk, why };
}
