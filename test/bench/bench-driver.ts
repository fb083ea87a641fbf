// The benchmarks' driver: what every bench in this folder does the same
// way, so that a bench holds only its own workload and its own figures.
//
// - the program: command line (`--flag value`, usage and exit 2 on a bad
//   one), root and the programs it needs, signals and cleanup on every exit
//   path (`runBench`);
// - topology: a harness segment under the bench's prefix, swept first and
//   removed at the end (`Bench.segment`);
// - measuring: CPU time of given PIDs, of perfdhcp and of the rest of the
//   host over a run (`CpuMeter`), percentiles, log lines counted as they
//   come (`OutputCounter`);
// - a rate search: the highest offered rate at which a step passes
//   (doubling, bisection, a failing step retried, the result confirmed and
//   stepped down if it fails), each step logged as one line
//   (`findHighestRate`);
// - per server: measured one after the other, a server that cannot be
//   measured reported with the reason instead of ending the bench
//   (`measureServers`, `ServerFailure`), and the final one-line summary.
//
// The DHCPv4 load (perfdhcp, the bench subnet, a step at one rate against
// Kea or Leasehold) is in dora.ts, on top of this.

import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_PATH } from '../../agent/io/exec.ts';
import { createSegment, sweepStale, type Host, type HostOptions, type Segment } from '../harness/netns.ts';
import { debianPackageOf } from '../harness/program-table.ts';
import { REPO_ROOT } from '../harness/run-command.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';

export { REPO_ROOT };

// ---------------------------------------------------------------------------
// Small helpers

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const NCPU = cpus().length;

// Every program a benchmark starts is the packaged one (lab/programs.txt):
// under `make` or `npx`, PATH may hold node_modules/.bin (whose `nft` is an
// npm package) or hand-installed tools first. Children inherit this.
process.env.PATH = SYSTEM_PATH;

export function which(bin: string): string | undefined {
  for (const dir of SYSTEM_PATH.split(':')) {
    if (existsSync(join(dir, bin))) return join(dir, bin);
  }
  return undefined;
}

/** "X not found (Debian package Y)" for the first of `bins` that is not installed, the package from lab/programs.txt. */
export function missingProgram(bins: readonly string[]): string | undefined {
  const bin = bins.find((b) => !which(b));
  return bin && `${bin} not found on ${SYSTEM_PATH} (Debian package ${debianPackageOf(bin)}: lab/install-deps.sh installs it)`;
}

/** The value at rank ceil(p·n) of `sorted` (ascending): p = 0.5 is the median. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx];
}

export const ascending = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** Round a rate to a "round" value so that the steps read well. */
export function roundRate(r: number): number {
  const step = r >= 10000 ? 100 : r >= 1000 ? 50 : r >= 100 ? 10 : 1;
  return Math.max(1, Math.round(r / step) * step);
}

/** How long `fn` took, in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

// ---------------------------------------------------------------------------
// Command line

/** A bad command line: the bench prints usage and exits 2. */
export class UsageError extends Error {}

interface NumberSpec {
  min: number;
  max?: number;
  integer?: boolean;
}

/** `v` as a number within `spec`, or a UsageError naming `flag`. */
function flagNumber(flag: string, v: string | undefined, spec: NumberSpec): number {
  const n = Number(v);
  const { min, max } = spec;
  if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < min || (max !== undefined && n > max)) {
    throw new UsageError(`${flag} needs a number >= ${min}${max !== undefined ? ` and <= ${max}` : ''}`);
  }
  return spec.integer ? Math.floor(n) : n;
}

/**
 * How one command-line flag sets one option — or, a preset, other defaults
 * (`--quick`: shorter runs), which the flags given beside it still override
 * wherever it stands.
 */
export type FlagSpec<O> =
  | { key: keyof O; number: NumberSpec }
  /** Comma-separated numbers, each within the bounds (`--commit-wait-us 0,1200`). */
  | { key: keyof O; list: NumberSpec }
  | { key: keyof O; set: boolean }
  | { key: keyof O; choices: readonly string[] }
  /** Any non-empty value (a path). */
  | { key: keyof O; text: true }
  | { preset: Partial<O> };

/**
 * The benches' command line: `--flag value`, `--flag=value` and switches.
 * Unknown flags and bad values throw UsageError naming the flag.
 */
export function parseFlags<O extends object>(argv: readonly string[], defaults: O, flags: Record<string, FlagSpec<O>>): O | 'help' {
  const o = { ...defaults } as Record<keyof O, unknown>;
  for (const a of argv) {
    const spec = flags[a];
    if (spec && 'preset' in spec) Object.assign(o, spec.preset);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '-h' || flag === '--help') return 'help';
    const spec = flags[flag];
    if (!spec) throw new UsageError(`unknown argument ${a}`);
    if ('preset' in spec) {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
      continue;
    }
    if ('set' in spec) {
      o[spec.key] = spec.set;
      continue;
    }
    const v = inline ?? argv[++i];
    if ('text' in spec) {
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      o[spec.key] = v;
      continue;
    }
    if ('choices' in spec) {
      if (v === undefined || !spec.choices.includes(v)) throw new UsageError(`${flag} takes ${spec.choices.join('|')}`);
      o[spec.key] = v;
      continue;
    }
    if ('list' in spec) {
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a comma-separated list of numbers`);
      o[spec.key] = v.split(',').map((item) => flagNumber(flag, item, spec.list));
      continue;
    }
    o[spec.key] = flagNumber(flag, v, spec.number);
  }
  return o as O;
}

/** The command-line options of a rate search (dora.ts's benches). */
export interface SearchFlagOptions {
  only?: string;
  /** Seconds per search step. */
  duration: number;
  /** Seconds of the final confirmation run. */
  confirmDuration: number;
  startRate: number;
  maxRate: number;
  /** Stop bisecting when (hi - lo) / lo <= precision. */
  precision: number;
  /** Retry a failing step once before counting it failed. */
  retry: boolean;
}

export function searchFlags<O extends SearchFlagOptions>(servers: readonly string[]): Record<string, FlagSpec<O>> {
  return {
    '--only': { key: 'only', choices: servers },
    '--duration': { key: 'duration', number: { min: 1 } },
    '--confirm-duration': { key: 'confirmDuration', number: { min: 1 } },
    '--start-rate': { key: 'startRate', number: { min: 10, integer: true } },
    '--max-rate': { key: 'maxRate', number: { min: 10, integer: true } },
    '--precision': { key: 'precision', number: { min: 0.001 } },
    '--no-retry': { key: 'retry', set: false },
  };
}

// ---------------------------------------------------------------------------
// The program: arguments, preflight, signals, cleanup

/** What a bench's run is given. */
export interface Bench {
  /** One line on stdout. */
  log(line: string): void;
  /** Seconds since the bench started, as `12s`. */
  elapsed(): string;
  /** Seconds since the bench started. */
  seconds(): number;
  /** Run at the end, also on failure or a signal; the last registered runs first. */
  onCleanup(fn: () => Promise<unknown> | void): void;
  /**
   * A harness segment `<prefix>-*` (a bridge in `<prefix>-core`) with these
   * hosts: what a crashed run left under the prefix is swept first, and the
   * segment with every process in it is removed at the end.
   */
  segment(prefix: string, hosts?: ReadonlyArray<HostOptions & { name: string }>): Promise<{ segment: Segment; hosts: Host[] }>;
}

export interface BenchProgram<O extends object> {
  /** As in messages: `dhcp4-bench`. */
  name: string;
  usage: string;
  defaults: O;
  flags: Record<string, FlagSpec<O>>;
  /** More checks of the options, throwing UsageError; may fill in derived defaults. */
  check?(o: O): void;
  /** Programs it runs (each listed in lab/programs.txt); checked before anything is made. */
  needs?(o: O): readonly string[];
  /** The bench; resolves to the exit code (1: something could not be measured). */
  run(o: O, bench: Bench): Promise<number>;
}

/**
 * Runs a bench as the program: parses the command line (usage and exit 2
 * when it is bad), checks for root and the programs it needs, runs it and
 * cleans up on every exit path — the end, an error (exit 1), SIGINT,
 * SIGTERM or SIGHUP (exit 130). What asynchronous cleanup could not do
 * before the process exits (namespaces, their processes) is done
 * synchronously by PID.
 */
export function runBench<O extends object>(program: BenchProgram<O>): void {
  const t0 = Date.now();
  const cleanups: Array<() => Promise<unknown> | void> = [];
  const prefixes = new Set<string>();
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      killChildren();
      let failed = false;
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (e) {
          failed = true;
          process.stderr.write(`${program.name}: cleanup: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      }
      // Otherwise the exit handler removes what is left of them.
      if (!failed) prefixes.clear();
    })());
  const bench: Bench = {
    log: (line) => process.stdout.write(`${line}\n`),
    elapsed: () => `${((Date.now() - t0) / 1000).toFixed(0)}s`,
    seconds: () => (Date.now() - t0) / 1000,
    onCleanup: (fn) => void cleanups.push(fn),
    async segment(prefix, hosts = []) {
      prefixes.add(prefix);
      await sweepStale(prefix); // leftovers of a crashed run (our prefix only)
      const segment = await createSegment(prefix);
      cleanups.push(() => segment.destroy());
      return { segment, hosts: await segment.addHosts(hosts) };
    },
  };

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`${program.name}: ${sig}, cleaning up\n`);
      void Promise.race([cleanup(), sleep(15_000)]).finally(() => process.exit(130));
    });
  }
  process.once('exit', () => {
    killChildren();
    for (const prefix of prefixes) removeNamespacesNow(prefix);
  });

  const main = async (): Promise<number> => {
    let o: O;
    try {
      const parsed = parseFlags(process.argv.slice(2), program.defaults, program.flags);
      if (parsed === 'help') {
        process.stdout.write(`${program.usage}\n`);
        return 0;
      }
      o = parsed;
      program.check?.(o);
      if (process.getuid?.() !== 0) throw new UsageError('must run as root (creates network namespaces)');
      const missing = missingProgram(program.needs?.(o) ?? []);
      if (missing) throw new UsageError(missing);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(`${program.name}: ${e.message}\n${program.usage}\n`);
      return 2;
    }
    try {
      return await program.run(o, bench);
    } finally {
      await cleanup();
    }
  };
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${program.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/** Synchronous last resort: every process in `<prefix>-*` namespaces, by PID, then the namespaces. */
function removeNamespacesNow(prefix: string): void {
  const ours = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${prefix}-`)) : [];
  for (const ns of ours) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const pid of pids.split(/\s+/).filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    } catch {
      /* namespace vanished */
    }
  }
  for (const ns of ours.reverse()) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* best effort */
    }
  }
}

// Children a bench spawns itself (perfdhcp): killed by PID on any exit path.
const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killChildren(): void {
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
// CPU accounting

export const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** /proc/<pid>/stat's fields after "(comm)", which may itself hold spaces: state is [0], utime [11]. */
function statFields(pid: number | 'self'): number[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
}

/** utime + stime of a process (all its threads), in clock ticks; with `children`, also its reaped children's. */
export function cpuTicks(pid: number, options: { children?: boolean } = {}): number {
  const f = statFields(pid);
  return f[11] + f[12] + (options.children ? f[13] + f[14] : 0);
}

/** Host-wide CPU counters from /proc/stat, in clock ticks: busy (not idle/iowait) and total. */
export function hostTicks(): { busy: number; total: number } {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = first.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - v[4], total };
}

/** How busy the host is over `ms`, in % of one CPU (out of 100 × CPUs). */
export async function hostBusyPct(ms = 1000): Promise<number> {
  const before = hostTicks();
  await sleep(ms);
  const after = hostTicks();
  return (100 * NCPU * (after.busy - before.busy)) / Math.max(1, after.total - before.total);
}

/** A process measured by CpuMeter has gone (its server died); the caller says why. */
export class ProcessGone extends Error {}

/** CPU use over one run, in clock ticks and in % of one CPU (the host total is 100 × CPUs). */
export interface CpuUse<K extends string> {
  ticks: Record<K, number>;
  pct: Record<K, number>;
  /** This process and the children it reaped meanwhile: perfdhcp, spawned and reaped by the bench. */
  clientPct: number;
  /** Everything else on the host. */
  otherPct: number;
}

/**
 * CPU time of groups of processes (a server is one group: kea-dhcp4 and its
 * D2 are one), of this process with what it reaped, and of the rest of the
 * host, between start() and stop().
 */
export class CpuMeter<K extends string> {
  readonly #groups: Record<K, readonly number[]>;
  #before: { groups: Record<K, number>; host: { busy: number; total: number }; self: number } | undefined;

  constructor(groups: Record<K, readonly number[]>) {
    this.#groups = groups;
  }

  start(): this {
    this.#before = { groups: this.#read(), host: hostTicks(), self: cpuTicks(process.pid, { children: true }) };
    return this;
  }

  stop(): CpuUse<K> {
    const before = this.#before;
    if (!before) throw new Error('CpuMeter.stop() before start()');
    const self = cpuTicks(process.pid, { children: true }) - before.self;
    const host = hostTicks();
    const groups = this.#read();
    const ticks = {} as Record<K, number>;
    const pct = {} as Record<K, number>;
    const toPct = (t: number): number => (100 * NCPU * t) / Math.max(1, host.total - before.host.total);
    let measured = self;
    for (const k of Object.keys(groups) as K[]) {
      ticks[k] = groups[k] - before.groups[k];
      pct[k] = toPct(ticks[k]);
      measured += ticks[k];
    }
    return { ticks, pct, clientPct: toPct(self), otherPct: toPct(Math.max(0, host.busy - before.host.busy - measured)) };
  }

  #read(): Record<K, number> {
    const out = {} as Record<K, number>;
    for (const [k, pids] of Object.entries(this.#groups) as Array<[K, readonly number[]]>) {
      out[k] = pids.reduce((sum, pid) => {
        try {
          return sum + cpuTicks(pid);
        } catch {
          throw new ProcessGone(`pid ${pid} (${k}) is gone`);
        }
      }, 0);
    }
    return out;
  }
}

/**
 * Counts the lines of a process's output that match `pattern` as the output
 * grows. The harness keeps only the last 1 MiB of it, which a process logging
 * a line per request outgrows in one step: so it is scanned every 100 ms,
 * from where the last scan stopped.
 */
export class OutputCounter {
  #count = 0;
  #tail = '';
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly p: TrackedProcess,
    private readonly pattern: RegExp,
  ) {
    this.#scan();
    this.#timer = setInterval(() => this.#scan(), 100).unref();
  }

  get value(): number {
    this.#scan();
    return this.#count;
  }

  stop(): number {
    clearInterval(this.#timer);
    return this.value;
  }

  #scan(): void {
    const out = this.p.output;
    const at = this.#tail === '' ? 0 : out.lastIndexOf(this.#tail);
    const fresh = at < 0 ? out : out.slice(at + this.#tail.length);
    const end = fresh.lastIndexOf('\n') + 1; // complete lines only
    if (end === 0) return;
    const lines = fresh.slice(0, end);
    for (const line of lines.split('\n')) if (this.pattern.test(line)) this.#count++;
    this.#tail = (this.#tail + lines).slice(-256);
  }
}

// ---------------------------------------------------------------------------
// Rate search

/** What a rate search needs of a step. */
export interface RateStep {
  rate: number;
  seconds: number;
  pass: boolean;
  /** CPU used by unrelated work during the step, in % of one CPU. */
  otherPct: number;
}

/** `''` for a search step, `' retry'` for its second try, `' confirm'` for a confirmation. */
export type StepTag = '' | ' retry' | ' confirm';

/** Where the search starts and ends, and how long its steps are: the bench's command line. */
export type RateSettings = Pick<SearchFlagOptions, 'startRate' | 'maxRate' | 'precision' | 'duration' | 'confirmDuration'> & {
  /** Lowest rate tried when halving (default 10). */
  minRate?: number;
};

export interface RateSearch<S extends RateStep> {
  /** Whose rate: `[label]` starts its lines. */
  label: string;
  settings: RateSettings;
  /** One measurement at `rate`. Throws ServerFailure when the server cannot be measured. */
  step(rate: number, seconds: number, tag: StepTag): Promise<S>;
  /** The step's line. */
  describe(s: S, tag: StepTag): string;
  /** Whether a failing search step is run once more before it counts as failed. */
  retry(s: S): boolean;
  /** Asked before each bisection step: true ends the search with what it has (a time budget). */
  stopBisecting?(best: S | undefined): boolean;
  /** Asked before each confirmation after the first (a time budget). */
  confirmAgain?(): boolean;
}

export interface RateFound<S extends RateStep> {
  /** The confirmed step, or the search's best when every confirmation failed; undefined: no rate passed. */
  best?: S;
  confirmed: boolean;
  /** The lowest failing rate; undefined when maxRate passed. */
  hi?: number;
  /** Every step run, for warnIfNoisy. */
  steps: S[];
}

/**
 * The highest rate that passes: doubling from startRate until a rate fails
 * (halving if the first one fails), then bisection until the bracket is
 * within `precision`; a failing step is tried again when `retry` says so
 * (on a small shared machine one stray burst of other work can cost a
 * step). Then the rate found is confirmed by a `confirmDuration` step,
 * stepped down 7 % and tried again (three tries at most) if that fails.
 * Each step is logged. A ServerFailure is thrown on with the last passing
 * rate in its message.
 */
export async function findHighestRate<S extends RateStep>(bench: Bench, o: RateSearch<S>): Promise<RateFound<S>> {
  const c = o.settings;
  const steps: S[] = [];
  const run = async (rate: number, seconds: number, tag: StepTag): Promise<S> => {
    const s = await o.step(rate, seconds, tag);
    steps.push(s);
    bench.log(`${o.describe(s, tag)}  [${bench.elapsed()}]`);
    return s;
  };
  const tryRate = async (rate: number): Promise<S> => {
    const s = await run(rate, c.duration, '');
    return !s.pass && o.retry(s) ? run(rate, c.duration, ' retry') : s;
  };
  const bestSoFar = (): S | undefined => steps.filter((s) => s.pass).sort((a, b) => b.rate - a.rate)[0];
  try {
    let lo: S | undefined;
    let hi: number | undefined;
    let rate = c.startRate;
    const first = await tryRate(rate);
    if (first.pass) {
      lo = first;
      while (hi === undefined && rate < c.maxRate) {
        rate = Math.min(c.maxRate, rate * 2);
        const s = await tryRate(rate);
        if (s.pass) lo = s;
        else hi = rate;
      }
    } else {
      hi = rate;
      while (!lo && rate > (c.minRate ?? 10)) {
        rate = roundRate(rate / 2);
        const s = await tryRate(rate);
        if (s.pass) lo = s;
        else hi = rate;
      }
    }
    if (!lo) return { confirmed: false, hi, steps };
    while (hi !== undefined && (hi - lo.rate) / lo.rate > c.precision && !o.stopBisecting?.(lo)) {
      const mid = roundRate((lo.rate + hi) / 2);
      if (mid <= lo.rate || mid >= hi) break;
      const s = await tryRate(mid);
      if (s.pass) lo = s;
      else hi = mid;
    }
    if (hi === undefined) bench.log(`${o.label} reached --max-rate ${c.maxRate}/s; the result is a lower bound`);

    let confirmed: S | undefined;
    let at = lo.rate;
    for (let attempt = 0; attempt < 3 && !confirmed && (attempt === 0 || (o.confirmAgain?.() ?? true)); attempt++) {
      const s = await run(at, c.confirmDuration, ' confirm');
      if (s.pass) confirmed = s;
      else at = roundRate(at * 0.93);
    }
    return { best: confirmed ?? lo, confirmed: confirmed !== undefined, hi, steps };
  } catch (e) {
    const best = bestSoFar();
    if (e instanceof ServerFailure && best) {
      throw new ServerFailure(`${e.message}\n  (last passing rate before that: ${best.rate}/s, not reported as a result)`);
    }
    throw e;
  } finally {
    warnIfNoisy(bench, o.label, steps);
  }
}

/** A WARNING when unrelated work used more than a fifth of a CPU on average during the steps. */
function warnIfNoisy(bench: Bench, label: string, steps: readonly RateStep[]): void {
  if (steps.length === 0) return;
  const others = steps.map((s) => s.otherPct);
  const avg = others.reduce((a, b) => a + b, 0) / others.length;
  if (avg > 20) {
    bench.log(
      `${label} WARNING: unrelated work used ${fmt(avg, 0)}% of a CPU on average during these runs ` +
        `(max ${fmt(Math.max(...others), 0)}%); the ${label.replace(/^\[|\]$/g, '')} figures are skewed low, run again on a quiet host`,
    );
  }
}

/** The header's line about a host that was busy before the bench began (nothing when it was quiet). */
export function warnIfBusy(bench: Bench, busyPct: number): void {
  if (busyPct > 15) {
    bench.log(`# WARNING: the host was already ${fmt(busyPct, 0)}% busy (of ${NCPU * 100}%) before the bench started; other work skews the figures.`);
  }
}

// ---------------------------------------------------------------------------
// Per server

/** The server could not be measured (did not start, died, answered nothing): reported, and the bench goes on. */
export class ServerFailure extends Error {}

export interface BenchServer<N extends string> {
  name: N;
  /** One line on what runs and how it is set up. */
  describe: string;
  /** Throws ServerFailure when the server cannot run here (not installed). */
  check(): void;
}

/** What was measured of one server, and why not where something is missing. */
export type Outcome<R> = Partial<R> & { note?: string };

/**
 * Measures each server (those `only` names, or all) in turn with `measure`:
 * a ServerFailure from it becomes the server's note, anything else ends the
 * bench. The others are `not run (--only)`. Notes go to stderr at the end;
 * `complete` says whether an outcome has every figure the summary needs,
 * and the result's `ok` whether all measured servers have.
 */
export async function measureServers<N extends string, S extends BenchServer<N>, R>(
  bench: Bench,
  servers: readonly S[],
  only: string | undefined,
  measure: (server: S, index: number, count: number) => Promise<Outcome<R>>,
  complete: (outcome: Outcome<R>) => boolean,
): Promise<{ outcomes: Record<N, Outcome<R>>; ok: boolean }> {
  const outcomes = Object.fromEntries(servers.map((s) => [s.name, { note: 'not run (--only)' }])) as Record<N, Outcome<R>>;
  const wanted = servers.filter((s) => !only || s.name === only);
  for (const [i, s] of wanted.entries()) {
    bench.log(`[${s.name}] ${s.describe}`);
    try {
      s.check();
      outcomes[s.name] = await measure(s, i, wanted.length);
    } catch (e) {
      if (!(e instanceof ServerFailure)) throw e;
      outcomes[s.name] = { note: e.message } as Outcome<R>;
    }
  }
  let ok = true;
  for (const s of wanted) {
    const o = outcomes[s.name];
    const done = complete(o);
    if (o.note) process.stderr.write(`[${s.name}] ${done ? 'note' : 'could not be measured'}: ${o.note}\n`);
    ok &&= done;
  }
  return { outcomes, ok };
}

// ---------------------------------------------------------------------------
// Reporting

/** `<N>/s`, or `n/a` when there is no rate. */
export const perSecond = (rate: number | undefined): string => (rate === undefined ? 'n/a' : `${rate}/s`);

/** a / b with two decimals, `n/a` unless both are there. */
export const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && b > 0 ? fmt(a / b, 2) : 'n/a';
