// The whole lab (lab/lab.sh) as a fixture for the end-to-end suite: a
// throwaway copy with a prefix and a run dir of its own, brought up with
// `lab.sh up --no-demo` and removed with `lab.sh down`, plus the probes the
// tests read it through — BIND (dig, AXFR), the agents (`agent inspect`)
// and the server's lease table (`leases --json`). Everything is reached the
// way an operator would: the lab's own scripts and CLIs, never its
// internals. A run that crashed is found by the owner file in its run dir
// and taken down by the next run; a live run's lab is never touched.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InspectJson } from '../../agent/core/attachment.ts';
import { LAB_ZONES } from '../../lab/bind-config.ts';
import { ipv6Network, LAB_SERVER_PARAMS, type ConfigEdits } from '../../lab/server-config.ts';
import type { Lease } from '../../server/leases/lease.ts';
import { startTicks } from './agent.ts';
import { queryPrometheus, type PromSample } from './prometheus.ts';
import { REPO_ROOT, runCommand } from './run-command.ts';
import { pollUntil } from './poll.ts';

const [SERVER_IP, PREFIX_LEN] = LAB_SERVER_PARAMS.address.split('/');
const [FORWARD_ZONE, V4_ZONE, V6_ZONE] = LAB_SERVER_PARAMS.zones;

/** The lab's fixed addresses and names (lab/lab.sh, the parameters of lab/server-config.ts). */
export const LAB = {
  serverIp: SERVER_IP,
  dnsIp: LAB_SERVER_PARAMS.dns,
  prefixLen: Number(PREFIX_LEN),
  pool: LAB_SERVER_PARAMS.pool,
  slaacPrefix: ipv6Network(LAB_SERVER_PARAMS.address6).split('/')[0],
  domain: LAB_SERVER_PARAMS.domain,
  workerIps: ['198.18.0.11', '198.18.0.12'] as const,
  /** Prometheus in `<prefix>-mon` (lab.sh's MON_V4, PROMETHEUS_PORT). */
  prometheusUrl: 'http://198.18.0.9:9090',
  zones: { forward: FORWARD_ZONE, v4: V4_ZONE, v6: V6_ZONE },
} as const;

/** Temp dirs of e2e labs: `<tmpdir>/leasehold-e2e-<prefix>-XXXXXX`. */
const RUN_DIR_STEM = 'leasehold-e2e-';
const OWNER_FILE = 'e2e-owner';
/** The edits of the lab's server config, given to lab.sh as LEASEHOLD_LAB_CONFIG_EDITS. */
const CONFIG_EDITS_FILE = 'e2e-config-edits.json';
/** Longest prefix: `<prefix>-appliance` must fit in a netns name used as an interface-like name (15). */
const PREFIX_MAX = 5;

/**
 * `le` and three random base-36 characters, not in use by a namespace: five
 * characters, so `<prefix>-appliance` stays within 15.
 */
export function randomLabPrefix(): string {
  for (;;) {
    const tail = [...randomBytes(3)].map((b) => (b % 36).toString(36)).join('');
    const prefix = `le${tail}`;
    if (!existsSync(`/run/netns/${prefix}-core`)) return prefix;
  }
}

export type { ConfigEdits };

export interface LabOptions {
  prefix?: string;
  /**
   * Changes to the server config lab/server-config.ts builds for the lab
   * (`dotted.path: value`, see `applyConfigEdits`), written to the run dir
   * and given to lab.sh as LEASEHOLD_LAB_CONFIG_EDITS.
   */
  configEdits?: ConfigEdits;
  /** For `lab.sh up`; default 180 s (a loaded machine, named and two agents). */
  upTimeoutMs?: number;
  /** lab.sh's LAB_STORE: `postgresql` (the default) the two appliances on one PostgreSQL database, `sqlite` the single appliance. */
  store?: LabStore;
}

export type LabStore = 'sqlite' | 'postgresql';

/** One DNS record as `owner type data`, normalised: owner lower-case and absolute, AAAA data expanded, DHCID data left out. */
export type RecordLine = string;

/** What a container's attachment should publish: its five records (DHCID only by presence). */
export interface Published {
  fqdn: string;
  ip: string;
  ipv6: string;
}

/** A lab brought up by lab/lab.sh in its own namespaces and run dir. */
export class Lab {
  readonly workers: readonly [string, string];

  private constructor(
    readonly prefix: string,
    readonly runDir: string,
    readonly configEditsPath: string,
    readonly store: LabStore = 'postgresql',
  ) {
    this.workers = [`${prefix}-w1`, `${prefix}-w2`];
  }

  /**
   * Makes the run dir (with an owner file, for the sweep of a crashed run),
   * writes the config edits and runs `lab.sh up --no-demo`. A failed
   * bring-up is taken down again before the error is thrown.
   */
  static async start(options: LabOptions = {}): Promise<Lab> {
    const prefix = options.prefix ?? randomLabPrefix();
    if (!/^[a-z][a-z0-9]*$/.test(prefix) || prefix.length > PREFIX_MAX) {
      throw new Error(`lab prefix "${prefix}": at most ${PREFIX_MAX} lower-case letters and digits, so ${prefix}-appliance fits in 15`);
    }
    const runDir = await mkdtemp(join(tmpdir(), `${RUN_DIR_STEM}${prefix}-`));
    await writeFile(join(runDir, OWNER_FILE), `${process.pid}:${startTicks(process.pid) ?? '?'}\n${prefix}\n`);
    const configEditsPath = join(runDir, CONFIG_EDITS_FILE);
    await writeFile(configEditsPath, JSON.stringify(options.configEdits ?? {}, null, 2));
    const lab = new Lab(prefix, runDir, configEditsPath, options.store);
    try {
      await lab.up({ timeoutMs: options.upTimeoutMs, attempts: 2 });
    } catch (error) {
      const down = await lab.down().catch((e: Error) => `(lab.sh down failed too: ${e.message})`);
      throw new Error(`${(error as Error).message}\n--- lab.sh down ---\n${down}`, { cause: error });
    }
    return lab;
  }

  /** LAB_PREFIX, LAB_RUN and LEASEHOLD_LAB_CONFIG_EDITS for lab.sh. */
  get env(): NodeJS.ProcessEnv {
    return { LAB_PREFIX: this.prefix, LAB_RUN: this.runDir, LEASEHOLD_LAB_CONFIG_EDITS: this.configEditsPath, LAB_STORE: this.store };
  }

  get dnsNetns(): string {
    return `${this.prefix}-dns`;
  }

  /** The namespace Prometheus runs in. */
  get monNetns(): string {
    return `${this.prefix}-mon`;
  }

  /** An instant query of the lab's Prometheus (its HTTP API, from inside its namespace). */
  prometheusQuery(promql: string): Promise<PromSample[]> {
    return queryPrometheus(this.monNetns, LAB.prometheusUrl, promql);
  }

  /** The worker's address on the spine (the MAC scheme's octets 2–4). */
  workerIp(worker: string): string {
    const i = this.workers.indexOf(worker);
    if (i < 0) throw new Error(`no worker ${worker} in lab ${this.prefix}`);
    return LAB.workerIps[i];
  }

  /**
   * `lab.sh up --no-demo`: brings the lab up, or back — it starts again
   * whatever daemon is not running (server, named, agents). With
   * `attempts` > 1 a failed run is repeated (up is idempotent): the
   * daemons run the shared checkout's dist/, which another engineer's
   * build may be rewriting at that moment. Returns the output of every
   * attempt; `retried` says whether one failed.
   */
  async up(options: { timeoutMs?: number; attempts?: number } = {}): Promise<{ output: string; retried: boolean }> {
    const attempts = options.attempts ?? 1;
    let output = '';
    for (let attempt = 1; ; attempt++) {
      const r = await runCommand(['lab/lab.sh', 'up', '--no-demo'], { env: this.env, timeoutMs: options.timeoutMs ?? 180_000 });
      output += `${attempt > 1 ? `--- attempt ${attempt} ---\n` : ''}${r.stdout}${r.stderr}`;
      if (r.code === 0) return { output, retried: attempt > 1 };
      if (attempt >= attempts) {
        throw new Error(`lab.sh up --no-demo (LAB_PREFIX=${this.prefix}) exited ${r.code ?? r.signal}:\n${output}\n${await this.diagnostics()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  /** `lab.sh down`: the lab's containers first (released while the agents watch), then daemons, namespaces and the run dir. */
  async down(): Promise<string> {
    return downLab(this.prefix, this.runDir);
  }

  /** Labels that make `worker`'s agent attach a container to br0 as `<id>.<app>`, and lab.sh down remove it. */
  labels(worker: string, app: string): Record<string, string> {
    return {
      'leasehold.attach': 'br0',
      'leasehold.worker': worker,
      'leasehold.app': app,
      'leasehold.lab': this.prefix,
    };
  }

  // ---- daemons ---------------------------------------------------------------

  /**
   * SIGKILLs the daemon whose pid file is `pidFile`, after checking that
   * the process is this lab's (its command line names our run dir), and
   * waits until it is gone. Returns its PID.
   */
  private async killByPidFile(pidFile: string, what: string): Promise<number> {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${pidFile}: no PID`);
    const ticks = startTicks(pid);
    if (ticks === undefined) throw new Error(`${what} (pid ${pid}) is not running`);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
    if (!cmdline.includes(this.runDir)) throw new Error(`pid ${pid} from ${pidFile} is not this lab's ${what}: ${cmdline}`);
    process.kill(pid, 'SIGKILL');
    await pollUntil(`${what} (pid ${pid}) to exit`, () => startTicks(pid) !== ticks, { timeoutMs: 10_000 });
    return pid;
  }

  /** Kills the leasehold server (SIGKILL, no clean stop): what a crash or power loss does. */
  killServer(): Promise<number> {
    return this.killByPidFile(join(this.runDir, 'server.pid'), 'leasehold server');
  }

  /** Kills the second appliance's server (the PostgreSQL lab's `<prefix>-appliance2`). */
  killServer2(): Promise<number> {
    return this.killByPidFile(join(this.runDir, 'server2.pid'), 'second leasehold server');
  }

  /** Kills named (SIGKILL). */
  killNamed(): Promise<number> {
    return this.killByPidFile(join(this.runDir, 'named', 'named.pid'), 'named');
  }

  // ---- DNS -----------------------------------------------------------------

  /** `dig +short NAME TYPE` against the lab's BIND, from its namespace: the answers, one per line. */
  async dig(name: string, type: string): Promise<string[]> {
    const r = await runCommand(['ip', 'netns', 'exec', this.dnsNetns, 'dig', `@${LAB.dnsIp}`, '+short', '+time=1', '+tries=2', name, type]);
    if (r.code !== 0) throw new Error(`dig ${name} ${type}: exit ${r.code}: ${r.stdout}${r.stderr}`);
    return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).filter((l) => !l.startsWith(';'));
  }

  /** A name's records as the tests compare them: A, AAAA (expanded), DHCID (count), and the PTRs of the addresses given. */
  async lookup(p: Published): Promise<{ a: string[]; aaaa: string[]; dhcid: number; ptr4: string[]; ptr6: string[] }> {
    const [a, aaaa, dhcid, ptr4, ptr6] = await Promise.all([
      this.dig(p.fqdn, 'A'),
      this.dig(p.fqdn, 'AAAA'),
      this.dig(p.fqdn, 'DHCID'),
      this.dig(reverseNameV4(p.ip), 'PTR'),
      this.dig(reverseNameV6(p.ipv6), 'PTR'),
    ]);
    return { a: a.sort(), aaaa: aaaa.map(expandIpv6).sort(), dhcid: dhcid.length, ptr4: ptr4.sort(), ptr6: ptr6.sort() };
  }

  /** A whole zone (AXFR from the lab's BIND), as normalised record lines. */
  async zone(zone: string): Promise<RecordLine[]> {
    const r = await runCommand(['ip', 'netns', 'exec', this.dnsNetns, 'dig', `@${LAB.dnsIp}`, '+time=2', '+tries=2', '+nocmd', '+nostats', '+nocomments', zone, 'AXFR']);
    if (r.code !== 0 || /Transfer failed|connection refused|timed out/i.test(r.stdout)) {
      throw new Error(`dig ${zone} AXFR: exit ${r.code}: ${r.stdout}${r.stderr}`);
    }
    const lines = new Set<RecordLine>();
    for (const raw of r.stdout.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith(';')) continue;
      const [owner, , cls, type, ...data] = line.split(/\s+/);
      if (cls !== 'IN') continue;
      lines.add(recordLine(owner, type, data.join(' ')));
    }
    return [...lines].sort();
  }

  /**
   * Every record DDNS may have written, in all three zones: A, AAAA, PTR and
   * DHCID, without the zones' own (SOA, NS, the name server's address and
   * the static records of lab/bind-config.ts).
   */
  async dynamicRecords(): Promise<RecordLine[]> {
    const zones = await Promise.all(Object.values(LAB.zones).map((z) => this.zone(z)));
    const staticOwners = new Set([`ns.${LAB.domain}.`]);
    for (const zone of LAB_ZONES) for (const r of zone.records ?? []) staticOwners.add(`${r.split(/\s+/)[0]}.${zone.name}.`.toLowerCase());
    return zones
      .flat()
      .filter((line) => {
        const [owner, type] = line.split(' ');
        return ['A', 'AAAA', 'PTR', 'DHCID'].includes(type) && !staticOwners.has(owner);
      })
      .sort();
  }

  /**
   * Polls BIND until it gives the five records of `p` (A, AAAA, DHCID and
   * both PTRs); returns the last lookup either way, for the test to assert.
   */
  async waitForPublished(p: Published, timeoutMs: number): Promise<{ want: Awaited<ReturnType<Lab['lookup']>>; last: Awaited<ReturnType<Lab['lookup']>> | undefined }> {
    const want = { a: [p.ip], aaaa: [expandIpv6(p.ipv6)], dhcid: 1, ptr4: [`${p.fqdn}.`], ptr6: [`${p.fqdn}.`] };
    let last: Awaited<ReturnType<Lab['lookup']>> | undefined;
    await pollUntil(`BIND to publish ${p.fqdn}`, async () => {
      last = await this.lookup(p);
      return JSON.stringify(last) === JSON.stringify(want);
    }, { timeoutMs, intervalMs: 250, describe: () => `want ${JSON.stringify(want)}\nlast ${JSON.stringify(last)}` });
    return { want, last };
  }

  /** Polls the three zones until DDNS has published exactly `expected` (the records of those attachments, nothing else). */
  async waitForExactlyPublished(expected: readonly Published[], timeoutMs: number): Promise<RecordLine[]> {
    const want = expected.flatMap(publishedRecords).sort();
    let last: RecordLine[] | string = [];
    return pollUntil(`DNS to hold exactly the records of ${expected.map((p) => p.fqdn).join(', ') || 'nothing'}`, async () => {
      try {
        last = await this.dynamicRecords();
      } catch (error) {
        last = (error as Error).message;
        return undefined;
      }
      return JSON.stringify(last) === JSON.stringify(want) && last;
    }, {
      timeoutMs,
      intervalMs: 500,
      describe: async () => `want:\n  ${want.join('\n  ')}\nlast seen:\n  ${Array.isArray(last) ? last.join('\n  ') : last}\n${await this.diagnostics()}`,
    });
  }

  // ---- agents ----------------------------------------------------------------

  /** `agent --run-dir <worker's> inspect REF --json`: the attachment, or undefined when there is none. */
  async inspect(worker: string, ref: string): Promise<InspectJson | undefined> {
    const r = await runCommand([join(REPO_ROOT, 'bin', 'agent'), '--run-dir', join(this.runDir, `agent-${worker}`), 'inspect', ref, '--json']);
    if (r.code === 0) return JSON.parse(r.stdout) as InspectJson;
    if (/not attached/.test(r.stderr)) return undefined;
    throw new Error(`agent inspect ${ref} on ${worker}: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  }

  /**
   * Polls `agent inspect` until the container is attached with an IPv4
   * lease and a SLAAC address (and `accept`, if given, holds).
   */
  async waitAttached(worker: string, ref: string, timeoutMs: number, accept: (j: InspectJson) => boolean = () => true): Promise<InspectJson> {
    let last: InspectJson | string | undefined;
    return pollUntil(`${worker}'s agent to attach ${ref} with IPv4 and IPv6`, async () => {
      last = await retryable(() => this.inspect(worker, ref));
      if (typeof last !== 'object') return undefined;
      const n = last.NetworkSettings;
      return n.IPAddress && n.GlobalIPv6Address && accept(last) ? last : undefined;
    }, {
      timeoutMs,
      intervalMs: 250,
      describe: async () => `last inspect: ${JSON.stringify(last)}\n${await this.diagnostics()}`,
    });
  }

  /** Polls until `worker`'s agent has no attachment for `ref` (released). */
  async waitDetached(worker: string, ref: string, timeoutMs: number): Promise<void> {
    let last: InspectJson | string | undefined;
    await pollUntil(`${worker}'s agent to release ${ref}`, async () => {
      last = await retryable(() => this.inspect(worker, ref));
      return last === undefined;
    }, {
      timeoutMs,
      intervalMs: 250,
      describe: async () => `last inspect: ${JSON.stringify(last)}\n${await this.diagnostics()}`,
    });
  }

  // ---- server ----------------------------------------------------------------

  /**
   * The server's lease table (`leasehold-server leases --json`), read from
   * the store on disk. A failed read is tried again for a few seconds (see
   * `retryable`).
   */
  async leases(): Promise<Lease[]> {
    let last: Lease[] | string = '';
    return pollUntil('leasehold-server leases to answer', async () => {
      last = await retryable(() => this.readLeases());
      return typeof last === 'object' && last;
    }, { timeoutMs: 10_000, intervalMs: 500, describe: () => `last: ${String(last)}` });
  }

  private async readLeases(): Promise<Lease[]> {
    const cli = [process.execPath, join(REPO_ROOT, 'dist', 'server', 'cli', 'main.js'), 'leases', '--config', join(this.runDir, 'leasehold.yaml'), '--json'];
    // The shared database is reachable only inside the lab: read it from the first appliance's namespace.
    const r = await runCommand(
      this.store === 'postgresql' ? ['ip', 'netns', 'exec', `${this.prefix}-appliance`, ...cli] : [...cli, '--store', join(this.runDir, 'leases.db')],
    );
    if (r.code !== 0) throw new Error(`leasehold-server leases: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as Lease[];
  }

  async lease(ip: string): Promise<Lease | undefined> {
    return (await this.leases()).find((l) => l.ip === ip);
  }

  /** Polls the lease table until `accept` holds for the lease on `ip` (undefined: no lease). */
  async waitForLease(ip: string, what: string, accept: (l: Lease | undefined) => boolean, timeoutMs: number): Promise<Lease | undefined> {
    let last: Lease | undefined;
    await pollUntil(`the server's lease on ${ip} to be ${what}`, async () => {
      last = await this.lease(ip);
      return accept(last);
    }, { timeoutMs, intervalMs: 250, describe: async () => `last seen: ${JSON.stringify(last)}\n${await this.diagnostics()}` });
    return last;
  }

  // ---- logs ------------------------------------------------------------------

  /** The last lines of each daemon's log and `lab.sh status`, for a failure message. */
  async diagnostics(lines = 15): Promise<string> {
    const logs = [
      'server.log',
      ...(this.store === 'postgresql' ? ['server2.log', join('pg', 'postgres.log')] : []),
      ...this.workers.map((w) => `agent-${w}.log`),
      join('named', 'named.log'),
    ];
    const parts: string[] = [];
    for (const log of logs) {
      const text = await readFile(join(this.runDir, log), 'utf8').catch(() => '(missing)');
      parts.push(`--- ${log} (last ${lines} lines) ---\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`);
    }
    const status = await runCommand(['lab/lab.sh', 'status'], { env: this.env, timeoutMs: 30_000 }).catch((e: Error) => ({ stdout: e.message, stderr: '' }));
    parts.push(`--- lab.sh status ---\n${status.stdout}${status.stderr}`);
    return parts.join('\n');
  }
}

/**
 * Runs a probe (a CLI of the shared checkout) and turns its failure into the
 * error's message, for a poll to try again: another engineer's `tsc` may be
 * rewriting dist/ at that moment, and a module caught half-written fails to
 * load. A real failure still ends the poll at its deadline, with the message.
 */
export async function retryable<T>(probe: () => Promise<T>): Promise<T | string> {
  try {
    return await probe();
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * `lab.sh down`, once more if it fails: it stops at its first error (a
 * `docker rm -f` the engine refused, say) with the rest of the lab still
 * up, and a second run picks up where it stopped.
 */
async function downLab(prefix: string, runDir: string): Promise<string> {
  let output = '';
  for (let attempt = 1; ; attempt++) {
    const r = await runCommand(['lab/lab.sh', 'down'], {
      env: { LAB_PREFIX: prefix, LAB_RUN: runDir },
      timeoutMs: 120_000,
    });
    output += `${attempt > 1 ? `--- attempt ${attempt} ---\n` : ''}${r.stdout}${r.stderr}`;
    if (r.code === 0) break;
    if (attempt >= 2) throw new Error(`lab.sh down (LAB_PREFIX=${prefix}) exited ${r.code ?? r.signal}:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  // lab.sh down removes the run dir; a failed bring-up may have left it.
  await rm(runDir, { recursive: true, force: true });
  return output;
}

/**
 * Takes down the labs of e2e runs whose process has exited (a crashed or
 * killed run): their run dir's owner file names a `<pid>:<start time>`
 * that no longer runs. A live run's lab is left alone. Returns the prefixes
 * taken down.
 */
export async function sweepStaleLabs(): Promise<string[]> {
  const swept: string[] = [];
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith(RUN_DIR_STEM)) continue;
    const dir = join(tmpdir(), entry);
    let owner: string;
    let prefix: string;
    try {
      [owner, prefix] = (await readFile(join(dir, OWNER_FILE), 'utf8')).split('\n');
    } catch {
      // No owner file yet: a run that is just starting, or one that died at
      // once. Only an old one is swept (there is nothing of it but the dir).
      const age = Date.now() - (await stat(dir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 3600_000) await rm(dir, { recursive: true, force: true });
      continue;
    }
    const [pid, ticks] = owner.split(':');
    if (String(startTicks(Number(pid))) === ticks) continue;
    if (!/^[a-z][a-z0-9]{0,4}$/.test(prefix ?? '')) continue;
    await downLab(prefix, dir);
    swept.push(prefix);
  }
  return swept;
}

// ---------------------------------------------------------------------------
// Addresses and names

/** The full, lower-case form of an IPv6 address (8 groups of 4 hex digits). */
export function expandIpv6(address: string): string {
  const [head, tail] = address.toLowerCase().split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) throw new Error(`not an IPv6 address: ${address}`);
  return all.map((g) => g.padStart(4, '0')).join(':');
}

/**
 * The SLAAC address a MAC forms in a /64 (RFC 4291 Appendix A, modified
 * EUI-64): ff:fe in the middle, the universal/local bit inverted. Written
 * here from the RFC, not taken from the server, so the test checks it.
 */
export function eui64Address(prefix64: string, mac: string): string {
  const m = mac.split(':').map((h) => parseInt(h, 16));
  if (m.length !== 6 || m.some((o) => !(o >= 0 && o <= 255))) throw new Error(`not a MAC: ${mac}`);
  const iid = [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]];
  const words = [0, 2, 4, 6].map((i) => ((iid[i] << 8) | iid[i + 1]).toString(16).padStart(4, '0'));
  return [...expandIpv6(prefix64).split(':').slice(0, 4), ...words].join(':');
}

export function reverseNameV4(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa.`;
}

export function reverseNameV6(ip: string): string {
  return `${[...expandIpv6(ip).replace(/:/g, '')].reverse().join('.')}.ip6.arpa.`;
}

/** True when `ip` is within the lab's dynamic pool. */
export function inLabPool(ip: string): boolean {
  const n = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  return n(ip) >= n(LAB.pool.start) && n(ip) <= n(LAB.pool.end);
}

function absolute(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

function recordLine(owner: string, type: string, data: string): RecordLine {
  if (type === 'DHCID') return `${absolute(owner)} DHCID`;
  if (type === 'AAAA') return `${absolute(owner)} AAAA ${expandIpv6(data)}`;
  if (type === 'PTR') return `${absolute(owner)} PTR ${absolute(data)}`;
  return `${absolute(owner)} ${type} ${data}`;
}

/** The records DDNS publishes for one attachment (RFC 4703: the DHCID at the forward name; PTRs follow it). */
export function publishedRecords(p: Published): RecordLine[] {
  return [
    recordLine(p.fqdn, 'A', p.ip),
    recordLine(p.fqdn, 'AAAA', p.ipv6),
    recordLine(p.fqdn, 'DHCID', ''),
    recordLine(reverseNameV4(p.ip), 'PTR', p.fqdn),
    recordLine(reverseNameV6(p.ipv6), 'PTR', p.fqdn),
  ].sort();
}

/** What an `agent inspect` says should be published. */
export function publishedBy(j: InspectJson): Published {
  return { fqdn: j.NetworkSettings.FQDN, ip: j.NetworkSettings.IPAddress, ipv6: j.NetworkSettings.GlobalIPv6Address };
}
