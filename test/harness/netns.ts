import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TrackedProcess } from './tracked-process.ts';

const execFileAsync = promisify(execFile);

// Linux interface names are at most 15 characters (IFNAMSIZ - 1); namespace
// names are held to the same limit so every name the tests create is short
// enough to read in `ip netns` and to reuse as a link name.
const NAME_MAX = 15;
const BRIDGE = 'br0';

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

export interface AddHostOptions {
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
  env?: NodeJS.ProcessEnv;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs argv (never through a shell) inside a network namespace. */
export async function execIn(netns: string, argv: readonly string[], options: { cwd?: string } = {}): Promise<ExecResult> {
  return run(['ip', 'netns', 'exec', netns, ...argv], options.cwd);
}

async function run(argv: readonly string[], cwd?: string): Promise<ExecResult> {
  try {
    return await execFileAsync(argv[0], argv.slice(1), { cwd, maxBuffer: 16 << 20 });
  } catch (error) {
    const failure = error as Error & { stderr?: string };
    throw new Error(`${argv.join(' ')} failed: ${failure.stderr?.trim() || failure.message}`, { cause: error });
  }
}

async function ip(netns: string, ...args: string[]): Promise<ExecResult> {
  return run(['ip', '-n', netns, ...args]);
}

function checkName(kind: string, name: string): void {
  if (name.length > NAME_MAX) throw new Error(`${kind} name "${name}" is longer than ${NAME_MAX} characters`);
}

/** Unicast, locally administered (RFC 7042 §2.1): low bits of the first octet are 10. */
function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = (bytes[0] & 0xfc) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const { stdout } = await run(['ip', 'netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith(`${prefix}-`));
}

async function pidsIn(netns: string): Promise<number[]> {
  try {
    const { stdout } = await run(['ip', 'netns', 'pids', netns]);
    return stdout.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return []; // The namespace is already gone.
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Exited meanwhile.
  }
}

async function deleteNetns(netns: string): Promise<void> {
  // Processes started in the namespace by a hook (arping…) or left by a
  // crashed run would keep it alive after the unmount; they are ours because
  // only the tests create `lt-` namespaces.
  for (const pid of await pidsIn(netns)) killPid(pid);
  try {
    await run(['ip', 'netns', 'del', netns]);
  } catch (error) {
    // Deleting what is already gone counts as success (idempotent cleanup).
    if (!/No such file|Invalid argument/.test((error as Error).message)) throw error;
  }
}

/**
 * Removes every namespace named `<prefix>-*`, every process inside it and
 * the segments' temp dirs: what a crashed or interrupted run left behind.
 */
export async function sweepStale(prefix: string): Promise<void> {
  const names = await namespacesWithPrefix(prefix);
  // Hosts before cores: the reverse of the order they were created in.
  names.sort((a, b) => Number(a.endsWith('-core')) - Number(b.endsWith('-core')));
  for (const name of names) await deleteNetns(name);
  for (const entry of await readdir(tmpdir())) {
    if (entry.startsWith(`${prefix}-`)) await rm(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

/** A throwaway L2 segment: a bridge in `<prefix>-core`, one veth per host. */
export class Segment {
  readonly coreNetns: string;
  readonly hosts: Host[] = [];
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
      await ip(segment.coreNetns, 'link', 'set', 'lo', 'up');
      // STP stays off (the default), so ports forward as soon as they are up.
      await ip(segment.coreNetns, 'link', 'add', BRIDGE, 'type', 'bridge');
      await ip(segment.coreNetns, 'link', 'set', BRIDGE, 'up');
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

  async addHost(name: string, options: AddHostOptions = {}): Promise<Host> {
    const netns = options.join?.netns ?? `${this.prefix}-${name}`;
    const ifname = options.ifname ?? 'eth0';
    const hostSide = `v-${name}`;
    checkName('namespace', netns);
    checkName('link', hostSide);
    checkName('link', ifname);
    const mac = options.mac ?? randomMac();
    if (!options.join) {
      this.#ownedNetns.push(netns);
      await run(['ip', 'netns', 'add', netns]);
      await ip(netns, 'link', 'set', 'lo', 'up');
    }
    // Created from inside the core, with the peer born in the host namespace:
    // the root namespace never sees either end.
    await ip(this.coreNetns, 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', ifname, 'address', mac, 'netns', netns);
    await ip(this.coreNetns, 'link', 'set', hostSide, 'master', BRIDGE, 'up');
    await ip(netns, 'link', 'set', ifname, 'up');
    if (options.ipv4) await ip(netns, 'addr', 'add', options.ipv4, 'dev', ifname);
    const host: Host = { name, netns, ifname, mac, ipv4: options.ipv4, segment: this };
    this.hosts.push(host);
    return host;
  }

  /** `ip -n <netns> …`: iproute2 inside a namespace without a mount namespace per call. */
  async ip(netns: string, ...args: string[]): Promise<ExecResult> {
    return ip(netns, ...args);
  }

  /** Starts argv inside the namespace; destroy() stops it if the test did not. */
  spawnIn(netns: string, argv: readonly string[], options: SpawnOptions = {}): TrackedProcess {
    // `ip netns exec` execs argv in place, so the PID is the program's own.
    const child = new TrackedProcess(options.label ?? `${argv[0]}@${netns}`, ['ip', 'netns', 'exec', netns, ...argv], {
      cwd: options.cwd,
      env: options.env,
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
    for (const netns of [...this.#ownedNetns].reverse()) await deleteNetns(netns);
    this.#ownedNetns.length = 0;
    if (this.#tmpDir !== undefined) await rm(this.#tmpDir, { recursive: true, force: true });
  }
}

export async function createSegment(prefix: string): Promise<Segment> {
  return Segment.create(prefix);
}
