import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SYSTEM_PATH } from '../../agent/io/exec.ts';
import { mapLimit } from './map-limit.ts';
import { TrackedProcess } from './tracked-process.ts';

const execFileAsync = promisify(execFile);

// Linux interface names are at most 15 characters (IFNAMSIZ - 1); namespace
// names are held to the same limit so every name the tests create is short
// enough to read in `ip netns` and to reuse as a link name.
const NAME_MAX = 15;
const BRIDGE = 'br0';

/**
 * PATH for every program the harness starts (the agent's own): under `npx`,
 * node_modules/.bin comes first and shadows system tools (`nft` there is
 * @vercel/nft).
 */
export { SYSTEM_PATH };

export interface Host {
  /** Short name inside the segment, e.g. `srv`. */
  readonly name: string;
  readonly netns: string;
  /** The interface inside `netns` that sits on this segment. */
  readonly ifname: string;
  readonly mac: string;
  /** Static address with prefix length, when one was asked for. */
  readonly ipv4?: string;
  readonly segment: Segment;
}

export interface HostOptions {
  ipv4?: string;
  mac?: string;
  /** Interface name inside the host namespace (default `eth0`). */
  ifname?: string;
  /** Put the interface into an existing host's namespace (a router or relay on two segments). */
  join?: Host;
}

export interface SpawnOptions {
  label?: string;
  cwd?: string;
  /** The whole environment (PATH is added); default: ours. */
  env?: NodeJS.ProcessEnv;
  /** Output kept, in characters (default 1 MiB: the last part is kept). */
  outputLimit?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs argv (never through a shell) inside a network namespace. */
export async function execIn(netns: string, argv: readonly string[], options: { cwd?: string } = {}): Promise<ExecResult> {
  return run(['ip', 'netns', 'exec', netns, ...argv], { cwd: options.cwd });
}

async function run(argv: readonly string[], options: { cwd?: string; input?: string } = {}): Promise<ExecResult> {
  const pending = execFileAsync(argv[0], argv.slice(1), {
    cwd: options.cwd,
    env: { ...process.env, PATH: SYSTEM_PATH },
    maxBuffer: 16 << 20,
  });
  // A program that exits without reading its input closes the pipe: EPIPE
  // here is not the failure, its exit status is.
  pending.child.stdin?.on('error', () => undefined);
  pending.child.stdin?.end(options.input);
  try {
    return await pending;
  } catch (error) {
    const failure = error as Error & { stderr?: string };
    throw new Error(`${argv.join(' ')} failed: ${failure.stderr?.trim() || failure.message}`, { cause: error });
  }
}

/**
 * `ip [-n netns] -batch -`: one process for many iproute2 commands. Spawning
 * is the slow part of building a segment (200 hosts × 5 commands).
 */
/** One `ip -batch` (in `netns`, or the root namespace); `force` carries on past failing lines. */
export async function ipBatch(netns: string | undefined, commands: readonly string[], force = false): Promise<ExecResult> {
  if (commands.length === 0) return { stdout: '', stderr: '' };
  const argv = ['ip', ...(netns ? ['-n', netns] : []), ...(force ? ['-force'] : []), '-batch', '-'];
  return run(argv, { input: `${commands.join('\n')}\n` });
}

function checkName(kind: string, name: string): void {
  if (name.length > NAME_MAX) throw new Error(`${kind} name "${name}" is longer than ${NAME_MAX} characters`);
  // Names end up in iproute2 batch lines, split on whitespace.
  if (!/^[\w.-]+$/.test(name)) throw new Error(`${kind} name "${name}" may only hold letters, digits, '.', '_' and '-'`);
}

/** Unicast, locally administered (RFC 7042 §2.1): low bits of the first octet are 10. */
function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0] & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Named network namespaces: the entries of /run/netns, which is what `ip netns list` reads. */
export async function listNamespaces(): Promise<string[]> {
  return existsSync('/run/netns') ? await readdir('/run/netns') : [];
}

/**
 * Kills every process inside the namespaces, then deletes them. Processes
 * started by a hook (arping…) or left by a crashed run would keep a deleted
 * namespace alive; they are ours because only the tests create `lt-` names.
 * What is already gone counts as deleted (idempotent cleanup).
 */
async function deleteNamespaces(names: readonly string[]): Promise<void> {
  const { stdout } = await ipBatch(undefined, names.map((name) => `netns pids ${name}`), true).catch(
    // -force still exits 1 when a namespace was missing; its output is complete.
    (error: Error & { cause?: { stdout?: string } }) => ({ stdout: error.cause?.stdout ?? '' }),
  );
  for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
  await ipBatch(undefined, names.map((name) => `netns del ${name}`), true).catch(() => undefined);
  const left = (await listNamespaces()).filter((name) => names.includes(name));
  if (left.length > 0) throw new Error(`could not delete namespaces: ${left.join(', ')}`);
}

/**
 * Removes every namespace named `<prefix>-*`, every process inside it and
 * the segments' temp dirs: what a crashed or interrupted run left behind.
 */
export async function sweepStale(prefix: string): Promise<void> {
  await deleteNamespaces((await listNamespaces()).filter((name) => name.startsWith(`${prefix}-`)));
  for (const entry of await readdir(tmpdir())) {
    if (entry.startsWith(`${prefix}-`)) await rm(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

/** A throwaway L2 segment: a bridge in `<prefix>-core`, one veth per host. */
export class Segment {
  readonly coreNetns: string;
  readonly exec = execIn;
  readonly #ownedNetns: string[] = [];
  readonly #processes: TrackedProcess[] = [];
  #tmpDir: string | undefined;

  private constructor(readonly prefix: string) {
    this.coreNetns = `${prefix}-core`;
    checkName('namespace', this.coreNetns);
  }

  static async create(prefix: string): Promise<Segment> {
    const segment = new Segment(prefix);
    try {
      segment.#ownedNetns.push(segment.coreNetns);
      await run(['ip', 'netns', 'add', segment.coreNetns]);
      segment.#tmpDir = await mkdtemp(join(tmpdir(), `${prefix}-`));
      // STP stays off (the default), so ports forward as soon as they are up.
      await ipBatch(segment.coreNetns, ['link set lo up', `link add ${BRIDGE} type bridge`, `link set ${BRIDGE} up`]);
      return segment;
    } catch (error) {
      await segment.destroy();
      throw error;
    }
  }

  /** A scratch directory removed by destroy(). */
  get tmpDir(): string {
    if (this.#tmpDir === undefined) throw new Error(`segment ${this.prefix} has no temp dir`);
    return this.#tmpDir;
  }

  async addHost(name: string, options: HostOptions = {}): Promise<Host> {
    const [host] = await this.addHosts([{ name, ...options }]);
    return host;
  }

  /** Many hosts with a handful of processes instead of a handful per host. */
  async addHosts(specs: ReadonlyArray<HostOptions & { name: string }>): Promise<Host[]> {
    const hosts: Host[] = specs.map((spec) => {
      const host = {
        name: spec.name,
        netns: spec.join?.netns ?? `${this.prefix}-${spec.name}`,
        ifname: spec.ifname ?? 'eth0',
        mac: spec.mac ?? randomMac(),
        ipv4: spec.ipv4,
        segment: this,
      };
      checkName('namespace', host.netns);
      checkName('link', host.ifname);
      checkName('link', `v-${host.name}`);
      return host;
    });
    const fresh = specs.filter((spec) => !spec.join).map((spec) => `${this.prefix}-${spec.name}`);
    // Recorded before creation, so destroy() also removes a half-made set.
    this.#ownedNetns.push(...fresh);
    await ipBatch(undefined, fresh.map((netns) => `netns add ${netns}`));
    // Created from inside the core, with the peer born in the host namespace:
    // the root namespace never sees either end.
    await ipBatch(this.coreNetns, hosts.flatMap((h) => [
      `link add ${this.portOf(h)} type veth peer name ${h.ifname} address ${h.mac} netns ${h.netns}`,
      `link set ${this.portOf(h)} master ${BRIDGE} up`,
    ]));
    await mapLimit(hosts, 32, (h) => ipBatch(h.netns, [
      'link set lo up',
      `link set ${h.ifname} up`,
      ...(h.ipv4 ? [`addr add ${h.ipv4} dev ${h.ifname}`] : []),
    ]));
    return hosts;
  }

  /** The bridge port (in coreNetns) of a host's link: every frame the host sends or receives passes it. */
  portOf(host: Host): string {
    return `v-${host.name}`;
  }

  /** `ip -n <netns> …`: iproute2 inside a namespace without a mount namespace per call. */
  async ip(netns: string, ...args: string[]): Promise<ExecResult> {
    return run(['ip', '-n', netns, ...args]);
  }

  /** Starts argv inside the namespace; destroy() stops it if the test did not. */
  spawnIn(netns: string, argv: readonly string[], options: SpawnOptions = {}): TrackedProcess {
    // `ip netns exec` execs argv in place, so the PID is the program's own.
    const child = new TrackedProcess(options.label ?? `${argv[0]}@${netns}`, ['ip', 'netns', 'exec', netns, ...argv], {
      cwd: options.cwd,
      env: { ...(options.env ?? process.env), PATH: SYSTEM_PATH },
      outputLimit: options.outputLimit,
    });
    this.#processes.push(child);
    return child;
  }

  /** Output of every process this segment started, for failure messages. */
  describeProcesses(lines = 20): string {
    return this.#processes.map((p) => p.tail(lines)).join('\n');
  }

  async destroy(graceMs = 2000): Promise<void> {
    await Promise.all(this.#processes.map((p) => p.stop(graceMs)));
    // Hosts before the core: the reverse of the order they were created in.
    await deleteNamespaces([...this.#ownedNetns].reverse());
    this.#ownedNetns.length = 0;
    if (this.#tmpDir !== undefined) await rm(this.#tmpDir, { recursive: true, force: true });
  }
}

export async function createSegment(prefix: string): Promise<Segment> {
  return Segment.create(prefix);
}
