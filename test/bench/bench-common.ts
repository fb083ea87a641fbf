// Helpers shared by the benchmarks (dhcp4-bench.ts, ddns-bench.ts): CPU
// accounting from /proc, running and parsing perfdhcp, the Leasehold entry
// point, and the rate search (doubling, then bisection).

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PATH } from '../../agent/io/exec.ts';
import { debianPackageOf } from '../harness/program-table.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Every program a benchmark starts is the packaged one (lab/programs.txt):
// under `make` or `npx`, PATH may hold node_modules/.bin (whose `nft` is an
// npm package) or hand-installed tools first. Children inherit this.
process.env.PATH = SYSTEM_PATH;

// ---------------------------------------------------------------------------
// Small helpers

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

export function which(bin: string): string | undefined {
  for (const dir of SYSTEM_PATH.split(':')) {
    if (existsSync(join(dir, bin))) return join(dir, bin);
  }
  return undefined;
}

/** "X not found (Debian package Y)" for the first of `bins` that is not installed. */
export function missingProgram(bins: readonly string[]): string | undefined {
  const bin = bins.find((b) => !which(b));
  return bin && `${bin} not found on ${SYSTEM_PATH} (Debian package ${debianPackageOf(bin)}: lab/install-deps.sh installs it)`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx];
}

export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** Round a rate to a "round" value so that the steps read well. */
export function roundRate(r: number): number {
  const step = r >= 10000 ? 100 : r >= 1000 ? 50 : r >= 100 ? 10 : 1;
  return Math.max(1, Math.round(r / step) * step);
}

// ---------------------------------------------------------------------------
// CPU accounting

export const CLK_TCK = ((): number => {
  try {
    const n = Number(run('getconf', ['CLK_TCK']).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process (all its threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/**
 * This process's own CPU time plus that of its reaped children, in ticks.
 * perfdhcp is exec'd in place by `ip netns exec` and reaped as soon as it
 * exits, so the difference across one run counts its CPU time too.
 */
export function selfAndReapedTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
}

/** Host-wide CPU counters from /proc/stat, in clock ticks: busy (not idle/iowait) and total. */
export function hostTicks(): { busy: number; total: number } {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = first.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - v[4], total };
}

// ---------------------------------------------------------------------------
// Children we started: killed (by PID) on any exit path.

const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killChildren(): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Leasehold

/**
 * How to start the Leasehold server: dist/server/cli/main.js if it has been
 * built (and, with `requireFresh`, is not older than the newest source file
 * under server/), else server/cli/main.ts through tsx.
 * LT_BENCH_LEASEHOLD_ENTRY=<file.ts> runs a stand-in instead.
 */
export function leaseholdEntry(opts: { requireFresh?: boolean } = {}): string[] | undefined {
  // For trying a bench's own failure handling with a stand-in script.
  const override = process.env.LT_BENCH_LEASEHOLD_ENTRY;
  if (override) return [process.execPath, '--import=tsx', resolve(override)];
  const built = join(REPO_ROOT, 'dist', 'server', 'cli', 'main.js');
  const src = join(REPO_ROOT, 'server', 'cli', 'main.ts');
  if (existsSync(built) && (!opts.requireFresh || !existsSync(src) || !sourcesNewerThan(built))) return [process.execPath, built];
  if (existsSync(src)) return [process.execPath, '--import=tsx', src];
  return undefined;
}

function sourcesNewerThan(file: string): boolean {
  try {
    return run('find', [join(REPO_ROOT, 'server'), '-name', '*.ts', '-newer', file, '-print', '-quit']).trim() !== '';
  } catch {
    return true;
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

export interface PerfdhcpRun {
  netns: string;
  iface: string;
  rate: number;
  seconds: number;
  /** simulated clients, perfdhcp -R */
  clients: number;
  /** per-exchange timestamps (-x t) */
  timestamps: boolean;
  /** pin perfdhcp to this CPU (taskset) */
  cpu?: number;
  /** more perfdhcp arguments, e.g. `-o 81,...` */
  extraArgs?: string[];
}

/** One perfdhcp run inside `netns`, acting as a relay on `iface`. */
export async function runPerfdhcp(r: PerfdhcpRun): Promise<PerfResult> {
  const args = [
    'netns', 'exec', r.netns,
    ...(r.cpu !== undefined ? ['taskset', '-c', String(r.cpu)] : []),
    'perfdhcp', '-4',
    '-l', r.iface,
    '-r', String(r.rate),
    '-p', String(r.seconds),
    '-R', String(r.clients),
    '-d', '1', // an exchange not answered within 1 s is dropped
    '-W', '500000', // after the period, wait 0.5 s for late answers
    // (-D <max-drop> is not used: with a percentage perfdhcp 2.2 aborts after ~10 exchanges,
    // and an absolute count does not end an overloaded run any sooner.)
    ...(r.timestamps ? ['-x', 't'] : []),
    ...(r.extraArgs ?? []),
  ];
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
  // 0: all exchanges completed, 3: some were not (drops) -- both carry statistics.
  if (code !== 0 && code !== 3) {
    throw new Error(`perfdhcp failed (exit ${code}): ${(err || out).trim().split('\n').slice(-5).join(' / ')}`);
  }
  return { doStats: parsePair(out, 'DISCOVER-OFFER'), raStats: parsePair(out, 'REQUEST-ACK') };
}

// ---------------------------------------------------------------------------
// Rate search

export interface SearchStep {
  rate: number;
  pass: boolean;
}

export interface SearchOptions<S extends SearchStep> {
  startRate: number;
  maxRate: number;
  /** stop bisecting when (hi - lo) / lo <= precision */
  precision: number;
  /** lowest rate tried when halving */
  minRate?: number;
  /** one measurement at `rate` (with any retry policy of the caller) */
  tryRate(rate: number): Promise<S>;
  /** asked before each bisection step; true ends the search with what it has (a time budget) */
  stopBisecting?(): boolean;
}

export interface SearchResult<S extends SearchStep> {
  /** the highest passing step */
  lo?: S;
  /** the lowest failing rate; undefined when maxRate passed */
  hi?: number;
}

/**
 * The highest rate that passes: doubling from startRate until a rate fails
 * (halving if the first one fails), then bisection until the bracket is
 * within `precision`.
 */
export async function searchRate<S extends SearchStep>(o: SearchOptions<S>): Promise<SearchResult<S>> {
  let lo: S | undefined;
  let hi: number | undefined;
  let rate = o.startRate;
  const first = await o.tryRate(rate);
  if (first.pass) {
    lo = first;
    while (hi === undefined && rate < o.maxRate) {
      rate = Math.min(o.maxRate, rate * 2);
      const s = await o.tryRate(rate);
      if (s.pass) lo = s;
      else hi = rate;
    }
  } else {
    hi = rate;
    while (!lo && rate > (o.minRate ?? 10)) {
      rate = roundRate(rate / 2);
      const s = await o.tryRate(rate);
      if (s.pass) lo = s;
      else hi = rate;
    }
  }
  if (!lo) return { hi };
  while (hi !== undefined && (hi - lo.rate) / lo.rate > o.precision && !o.stopBisecting?.()) {
    const mid = roundRate((lo.rate + hi) / 2);
    if (mid <= lo.rate || mid >= hi) break;
    const s = await o.tryRate(mid);
    if (s.pass) lo = s;
    else hi = mid;
  }
  return { lo, hi };
}

/** A bad command line: the bench prints usage and exits 2. */
export class UsageError extends Error {}

/** How one command-line flag sets one option. */
export type FlagSpec<O> =
  | { key: keyof O; number: { min: number; integer?: boolean } }
  | { key: keyof O; set: boolean }
  | { key: keyof O; choices: readonly string[] };

/**
 * The benches' shared command line: `--flag value`, `--flag=value` and
 * switches, `-h`/`--help` printing `usage`. Unknown flags and bad values
 * throw UsageError naming the flag.
 */
export function parseFlags<O extends object>(argv: readonly string[], defaults: O, flags: Record<string, FlagSpec<O>>, usage: () => string): O {
  const o = { ...defaults } as Record<keyof O, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '-h' || flag === '--help') {
      console.log(usage());
      process.exit(0);
    }
    const spec = flags[flag];
    if (!spec) throw new UsageError(`unknown argument ${a}`);
    if ('set' in spec) {
      o[spec.key] = spec.set;
      continue;
    }
    const v = inline ?? argv[++i];
    if ('choices' in spec) {
      if (v === undefined || !spec.choices.includes(v)) throw new UsageError(`${flag} takes ${spec.choices.join('|')}`);
      o[spec.key] = v;
      continue;
    }
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < spec.number.min) throw new UsageError(`${flag} needs a number >= ${spec.number.min}`);
    o[spec.key] = spec.number.integer ? Math.floor(n) : n;
  }
  return o as O;
}

/** The command-line options of the rate search both DHCP benches run. */
export interface SearchFlagOptions {
  only?: 'kea' | 'leasehold';
  /** Seconds per search step. */
  duration: number;
  /** Seconds of the final confirmation run. */
  confirmDuration: number;
  /** perfdhcp -R: simulated clients. */
  clients: number;
  startRate: number;
  maxRate: number;
  /** Stop bisecting when (hi - lo) / lo <= precision. */
  precision: number;
  /** Retry a failing step once before counting it failed. */
  retry: boolean;
}

export function searchFlags<O extends SearchFlagOptions>(): Record<string, FlagSpec<O>> {
  return {
    '--only': { key: 'only', choices: ['kea', 'leasehold'] },
    '--duration': { key: 'duration', number: { min: 1 } },
    '--confirm-duration': { key: 'confirmDuration', number: { min: 1 } },
    '--clients': { key: 'clients', number: { min: 1, integer: true } },
    '--start-rate': { key: 'startRate', number: { min: 10, integer: true } },
    '--max-rate': { key: 'maxRate', number: { min: 10, integer: true } },
    '--precision': { key: 'precision', number: { min: 0.001 } },
    '--no-retry': { key: 'retry', set: false },
  };
}

// The one topology and pool both DHCP benches serve, the same for both servers.
export const IFACE = 'eth0';
export const SRV_ADDR = '198.18.0.1';
export const CLI_ADDR = '198.18.0.250';
export const PREFIX_LEN = 16;
export const SUBNET = '198.18.0.0/16';
export const POOL_START = '198.18.1.0';
export const POOL_END = '198.18.255.254'; // 65,279 addresses
export const POOL_SIZE = 255 * 256 - 1;
export const LEASE_TIME = 3600;
export const MAX_DROP_PCT = 0.1;

/**
 * kea-dhcp4's configuration for the bench subnet: memfile with persist (the
 * comparison the issue asks for), raw sockets, WARN logs but the dhcp4
 * logger's INFO, which says DHCP4_STARTED once the sockets are open.
 * `extra` adds Dhcp4 settings (DDNS).
 */
export function keaBenchConfig(workdir: string, extra: Record<string, unknown> = {}): object {
  return {
    Dhcp4: {
      'interfaces-config': { interfaces: [IFACE], 'dhcp-socket-type': 'raw' },
      'lease-database': { type: 'memfile', persist: true, name: join(workdir, 'kea-leases4.csv'), 'lfc-interval': 0 },
      'valid-lifetime': LEASE_TIME,
      ...extra,
      subnet4: [
        {
          id: 1,
          subnet: SUBNET,
          interface: IFACE,
          pools: [{ pool: `${POOL_START} - ${POOL_END}` }],
          'option-data': [{ name: 'routers', data: SRV_ADDR }],
        },
      ],
      loggers: [
        { name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'WARN' },
        { name: 'kea-dhcp4.dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' },
      ],
    },
  };
}

/** Leasehold's configuration for the same subnet; `ddns` adds DNS updates. */
export function leaseholdBenchConfig(workdir: string, ddns?: { top: object; subnet: object }): object {
  return {
    interfaces: [{ name: IFACE, address: SRV_ADDR }],
    subnets: [
      {
        id: 'bench',
        subnet: SUBNET,
        interface: IFACE,
        pools: [{ start: POOL_START, end: POOL_END }],
        leaseTime: LEASE_TIME,
        options: { routers: [SRV_ADDR] },
        ...(ddns && { ddns: ddns.subnet }),
      },
    ],
    leaseStore: { type: 'sqlite', path: join(workdir, 'leases.db') },
    log: { level: 'warn' },
    ...(ddns && { ddns: ddns.top }),
  };
}
