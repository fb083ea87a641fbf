// The agent under test (agent/cli/main.ts) on a harness segment: the
// segment's bridge namespace plays the worker (br0 with the worker's IPv4,
// which the MAC scheme needs), our DHCP server sits on the segment, and the
// agent runs in the root namespace with `--bridge-netns` and a private
// `--run-dir`, exactly as an operator runs it. Everything the agent makes
// for a test — DHCP clients, `lhc-` netns names, the run dir — is removed
// in the test's teardown, pass or fail, by the PIDs and names the agent
// recorded (and the `LH_LEASE_FILE` its clients carry), never by a pattern
// that could match another run's.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { Attachment, InspectJson } from '../../agent/core/attachment.ts';
import { dockerClient, OWNER_LABEL, RUN_LABEL, TEST_LABEL, testRunId } from './docker.ts';
import { createSegment, execIn, listNamespaces, SYSTEM_PATH, type Host, type Segment } from './netns.ts';
import { startBind, type BindServer } from './bind.ts';
import { pollUntil } from './poll.ts';
import { labRa, prepareRouter } from './ra-lab.ts';
import { ServerProcess } from './server-process.ts';
import type { ServerLease, TestServerConfig } from './servers.ts';
import { TrackedProcess } from './tracked-process.ts';
import { isAlive, processStartTicks as startTicks } from '../../agent/io/process.ts';
import { ourCommand, REPO_ROOT, runCommand, type CommandResult } from './run-command.ts';

export { REPO_ROOT, startTicks, isAlive };

/** The worker's address on its bridge: octets 2–4 of every MAC the agent makes (12:00:0b). */
export const WORKER_IP = '198.18.0.11';
export const SERVER_IP = '198.18.0.1';
export const PREFIX_LEN = 16;
/** What the server hands out (config/leasehold.example.yaml, the lab's values). */
export const LAB_OPTIONS = {
  routers: [SERVER_IP],
  dnsServers: ['198.18.0.2'],
  domainName: 'leasehold.test',
  domainSearch: ['lab.leasehold.test', 'leasehold.test'],
};
export const POOL = { start: '198.18.1.0', end: '198.18.3.255' };
export const LEASE_SECONDS = 600;
export const SLAAC_PREFIX = 'fd00:198:18::/64';

// ---------------------------------------------------------------------------
// Running the CLI

/**
 * The agent's command: the build (`dist/agent/cli/main.js`, what `bin/agent`
 * runs) when it is newer than every source file it is built from, else the
 * sources through tsx. A hundred agents at once start much faster built.
 */
export function agentCommand(): string[] {
  return ourCommand('agent').argv;
}

export type AgentResult = CommandResult;

export function jsonOf<T>(result: AgentResult): T {
  if (result.code !== 0) throw new Error(`agent exited ${result.code ?? result.signal}: ${result.stderr.trim() || result.stdout.trim()}`);
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`agent printed no JSON: ${result.stdout}\n${result.stderr}`);
  }
}

/**
 * One `agent <args>` to its end, stdout a pipe (so JSON). Killed by PID
 * after `timeoutMs` (the result then says SIGKILL).
 */
export function runAgent(args: readonly string[], options: { timeoutMs?: number; command?: readonly string[] } = {}): Promise<AgentResult> {
  return runCommand([...(options.command ?? agentCommand()), ...args], { timeoutMs: options.timeoutMs });
}

// ---------------------------------------------------------------------------
// The DHCP server the agent's clients talk to

export interface AgentServerOptions {
  /** Router advertisements for fd00:198:18::/64 on the server's link. */
  ra?: boolean;
  pool?: { start: string; end: string };
  leaseTime?: number;
  /** DDNS to these zones (BIND at 198.18.0.2, the lab's DNS server), names `<host>.<app>.leasehold.test`. */
  ddnsZones?: ReadonlyArray<{ name: string; key: object }>;
}

/** Our server with the lab's options, and RAs when asked (the harness's LeaseholdServer has no `ra`). */
export class AgentLabServer extends ServerProcess {
  readonly kind = 'leasehold' as const;

  constructor(private readonly options: AgentServerOptions = {}) {
    super();
  }

  protected async launch(host: Host, _config: TestServerConfig, dir: string): Promise<TrackedProcess> {
    const configPath = join(dir, 'leasehold.json');
    await writeFile(
      configPath,
      JSON.stringify({
        interfaces: [{ name: host.ifname, address: SERVER_IP }],
        subnets: [{
          id: 'lab',
          subnet: `198.18.0.0/${PREFIX_LEN}`,
          interface: host.ifname,
          pools: [this.options.pool ?? POOL],
          leaseTime: this.options.leaseTime ?? LEASE_SECONDS,
          options: LAB_OPTIONS,
          ...(this.options.ddnsZones && { ddns: { domain: LAB_OPTIONS.domainName, defaultApp: 'lab' } }),
        }],
        ...(this.options.ddnsZones && {
          ddns: {
            zones: this.options.ddnsZones.map(({ name, key }) => ({ name, servers: [{ address: LAB_OPTIONS.dnsServers[0] }], key })),
            retry: { initialMs: 200, maxMs: 1000 },
          },
        }),
        leaseStore: { type: 'sqlite', path: join(dir, 'leases.sqlite') },
        log: { level: 'debug' },
        ...(this.options.ra && { ra: { interfaces: [labRa(host.ifname, { solicitedResponse: 'immediate' })] } }),
      }, null, 2),
    );
    const child = host.segment.spawnIn(host.netns, ['node', '--import=tsx', 'server/cli/main.ts', 'serve', '--config', configPath], {
      label: `leasehold@${host.netns}`,
      cwd: REPO_ROOT,
    });
    await child.waitForOutput(/"event":"ready"/, 30_000);
    return child;
  }

  async leases(): Promise<ServerLease[]> {
    const { stdout } = await execIn(this.host.netns, ['node', '--import=tsx', 'server/cli/main.ts', 'leases', '--config', join(this.dir, 'leasehold.json'), '--json'], {
      cwd: REPO_ROOT,
    });
    return JSON.parse(stdout) as ServerLease[];
  }
}

// ---------------------------------------------------------------------------
// Processes, by what they carry


/**
 * PIDs of the DHCP clients (and their hooks) an agent with `runDir`
 * started: they carry `LH_LEASE_FILE=<runDir>/…` in their environment
 * (agent/io/dhcp-client.ts). Exact, where `pgrep -f` could not be: the
 * run dir is not on udhcpc's command line.
 */
export function clientsOf(runDir: string): number[] {
  const wanted = `LH_LEASE_FILE=${runDir}/`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (env.split('\0').some((kv) => kv.startsWith(wanted)) && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // exited meanwhile
  }
}

export { listNamespaces as netnsList };

// ---------------------------------------------------------------------------
// A lab: segment (bridge namespace = the worker), server, agent run dir

export interface AgentLabOptions extends AgentServerOptions {
  /**
   * Renames the segment's bridge: an `agent watch` follows every container
   * on the engine, and a bridge name of our own keeps it from attaching a
   * labelled container of another run (and another run's watch from
   * attaching ours: it has no such bridge).
   */
  bridge?: string;
  /** Real BIND on the segment at the lab's DNS server address, and the server updating it (`lab.bind`). */
  dns?: boolean;
}

export class AgentLab {
  readonly runDir: string;
  readonly #watches: TrackedProcess[] = [];
  readonly #containerIds = new Set<string>();

  constructor(
    readonly segment: Segment,
    readonly serverHost: Host,
    readonly server: AgentLabServer,
    readonly bridge: string,
    runDir: string,
    readonly bind?: BindServer,
  ) {
    this.runDir = runDir;
  }

  get bridgeNetns(): string {
    return this.segment.coreNetns;
  }

  /** `agent --run-dir <ours> <args>`. */
  run(args: readonly string[], options?: { timeoutMs?: number }): Promise<AgentResult> {
    return runAgent(['--run-dir', this.runDir, ...args], options);
  }

  /** `attach` arguments for this lab's bridge: `[target…, --bridge, --bridge-netns, …extra]`. */
  attachArgs(target: readonly string[], extra: readonly string[] = []): string[] {
    return ['attach', ...target, '--bridge', this.bridge, '--bridge-netns', this.bridgeNetns, ...extra];
  }

  /** attach a container (by name or id) and return its JSON; a failure throws with the agent's message. */
  async attach(container: string, extra: readonly string[] = []): Promise<InspectJson> {
    this.track(container);
    return jsonOf<InspectJson>(await this.run(this.attachArgs([container], extra)));
  }

  /** Remembers a container id, so teardown removes its `lhc-` netns name whatever happened. */
  track(containerId: string): void {
    if (/^[0-9a-f]{12,64}$/.test(containerId)) this.#containerIds.add(containerId.slice(0, 12));
  }

  async inspectAll(): Promise<InspectJson[]> {
    return jsonOf<InspectJson[]>(await this.run(['inspect', '--all']));
  }

  /** `agent watch` with this lab's bridge netns, torn down with the lab; resolves once it follows events. */
  async startWatch(extra: readonly string[] = [], { intervalSeconds = 1 } = {}): Promise<TrackedProcess> {
    const [cmd, ...pre] = agentCommand();
    const watch = new TrackedProcess(
      `agent watch #${this.#watches.length + 1}`,
      [cmd, ...pre, '--run-dir', this.runDir, 'watch', '--bridge-netns', this.bridgeNetns, '--interval', String(intervalSeconds), ...extra],
      { cwd: REPO_ROOT, env: { ...process.env, PATH: SYSTEM_PATH } },
    );
    this.#watches.push(watch);
    await watch.waitForOutput(/"event":"watching"/, 30_000);
    return watch;
  }

  get watches(): readonly TrackedProcess[] {
    return this.#watches;
  }

  /** The state records on disk. */
  async records(): Promise<Attachment[]> {
    const dir = join(this.runDir, 'attachments');
    const names = existsSync(dir) ? (await readdir(dir)).filter((n) => n.endsWith('.json')) : [];
    const out: Attachment[] = [];
    for (const name of names) {
      try {
        out.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as Attachment);
      } catch {
        // removed or being renamed in place meanwhile
      }
    }
    return out;
  }

  /** Every file left in the run dir's attachments/ (records, leases, logs, backups). */
  async stateFiles(): Promise<string[]> {
    const dir = join(this.runDir, 'attachments');
    return existsSync(dir) ? (await readdir(dir)).sort() : [];
  }

  async record(key: string): Promise<Attachment | undefined> {
    return (await this.records()).find((r) => r.key === key);
  }

  /** Link names in the bridge namespace (the worker's side). */
  async bridgeLinks(): Promise<string[]> {
    const { stdout } = await this.segment.ip(this.bridgeNetns, '-j', 'link', 'show');
    return (JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
  }

  /** The DHCP clients this lab's agents started that still run. */
  clients(): number[] {
    return clientsOf(this.runDir);
  }

  async serverLease(ip: string): Promise<ServerLease | undefined> {
    return (await this.server.leases()).find((l) => l.ip === ip);
  }

  /** Polls the server's table until the lease on `ip` is in `state`. */
  async waitForServerLease(ip: string, state: ServerLease['state'], timeoutMs = 10_000): Promise<ServerLease> {
    let last: ServerLease | undefined;
    return pollUntil(`the server's lease on ${ip} to be ${state}`, async () => {
      last = await this.serverLease(ip);
      return last?.state === state && last;
    }, { timeoutMs, intervalMs: 200, describe: () => `last seen: ${JSON.stringify(last)}` });
  }

  /**
   * Stops the watches, kills every client this run dir's agents started (by
   * the PIDs recorded, and by their LH_LEASE_FILE), removes the `lhc-`
   * names of this lab's containers and the run dir. The segment's own
   * teardown then removes the namespaces (and the veths in them).
   */
  async cleanup(): Promise<void> {
    await Promise.all(this.#watches.map((w) => w.stop(3000)));
    const records = await this.records();
    // CNI attachments' `lhn-` names (bind mounts of the runtime's netns), by the names recorded.
    const cniNames: string[] = [];
    for (const r of records) {
      if (r.client?.pid > 0 && startTicks(r.client.pid) === r.client.startTicks) kill(r.client.pid, 'SIGKILL');
      if (r.kind === 'docker') this.#containerIds.add(r.targetId.slice(0, 12));
      if (r.kind === 'cni') cniNames.push(r.netns);
    }
    for (const pid of this.clients()) kill(pid, 'SIGKILL');
    await pollUntil('the agent\'s DHCP clients to exit', () => this.clients().length === 0, { timeoutMs: 5000 }).catch(() => undefined);
    const names = new Set(await listNamespaces());
    for (const netns of [...[...this.#containerIds].map((id) => `lhc-${id}`), ...cniNames]) {
      if (names.has(netns)) await runIp(['netns', 'delete', netns]);
    }
    await rm(this.runDir, { recursive: true, force: true });
  }

  /** cleanup(), then the segment: its namespaces, the processes in them, its temp dir. */
  async destroy(): Promise<void> {
    try {
      await this.cleanup();
      await this.bind?.stop();
    } finally {
      await this.segment.destroy();
    }
  }
}

async function runIp(args: string[]): Promise<void> {
  await new Promise<void>((resolvePromise) => {
    const child = spawn('ip', args, { stdio: 'ignore', env: { ...process.env, PATH: SYSTEM_PATH } });
    child.once('close', () => resolvePromise());
    child.once('error', () => resolvePromise());
  });
}

/**
 * A segment `<prefix>-core` (the worker: bridge with 198.18.0.11/16), the
 * server in `<prefix>-srv` (198.18.0.1/16), a run dir under the segment's
 * temp dir. `destroy()` removes the agent's leftovers, then the segment.
 */
export async function createAgentLab(prefix: string, options: AgentLabOptions = {}): Promise<AgentLab> {
  const segment = await createSegment(prefix);
  try {
    const serverHost = await segment.addHost('srv', { ipv4: `${SERVER_IP}/${PREFIX_LEN}` });
    // Hosts join the segment's bridge by its first name: before the rename.
    const bind = options.dns ? await startBind(await segment.addHost('dns', { ipv4: `${LAB_OPTIONS.dnsServers[0]}/${PREFIX_LEN}` })) : undefined;
    let bridge = 'br0';
    if (options.bridge) {
      await segment.ip(segment.coreNetns, 'link', 'set', 'dev', 'br0', 'name', options.bridge);
      bridge = options.bridge;
    }
    await segment.ip(segment.coreNetns, 'addr', 'add', `${WORKER_IP}/${PREFIX_LEN}`, 'dev', bridge);
    if (options.ra) await prepareRouter(serverHost);
    const runDir = await mkdtemp(join(segment.tmpDir, 'agent-run-'));
    const ddnsZones = bind?.zones.map((z) => ({ name: z.name, key: { name: bind.key.name, algorithm: bind.key.algorithm, secretFile: join(bind.dir, 'keys.conf') } }));
    const lab = new AgentLab(segment, serverHost, new AgentLabServer({ ...options, ddnsZones }), bridge, runDir, bind);
    await lab.server.start(serverHost, { interface: serverHost.ifname, subnets: [] });
    return lab;
  } catch (error) {
    await segment.destroy();
    throw error;
  }
}

/** createAgentLab, torn down with the test, pass or fail; on failure the log shows the watches' and clients' output. */
export async function useAgentLab(t: ExecutionContext, prefix: string, options: AgentLabOptions = {}): Promise<AgentLab> {
  const lab = await createAgentLab(prefix, options);
  t.teardown(async () => {
    if (!t.passed) {
      t.log(lab.segment.describeProcesses());
      for (const w of lab.watches) t.log(w.tail(40));
      for (const file of await lab.stateFiles()) {
        if (file.endsWith('.log')) t.log(`--- ${file} ---\n${await readFile(join(lab.runDir, 'attachments', file), 'utf8').catch(() => '')}`);
      }
    }
    await lab.destroy();
  });
  return lab;
}

/** A unique bridge name (at most 15 characters) for a file whose agent watches Docker. */
export function uniqueBridgeName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`.slice(0, 15);
}

// ---------------------------------------------------------------------------
// Docker helpers docker.ts does not have

/**
 * A container that shares another's network namespace (`--network
 * container:<id>`): its NetworkMode is not `none`, which the agent must
 * refuse. Labelled like docker.ts's containers, so the file's sweep
 * removes it.
 */
export async function startSharedNetnsContainer(image: string, ofContainerId: string): Promise<{ id: string; name: string; remove(): Promise<void> }> {
  const name = `lt-ct-${randomBytes(3).toString('hex')}`;
  const created = await dockerClient().createContainer({
    name,
    Image: image,
    Cmd: ['sleep', '600'],
    HostConfig: { NetworkMode: `container:${ofContainerId}` },
    Labels: { [TEST_LABEL]: 'true', [RUN_LABEL]: testRunId(), [OWNER_LABEL]: ownerIdentity() },
  });
  const remove = () => created.remove({ force: true, v: true }).then(() => undefined, () => undefined);
  try {
    await created.start();
  } catch (error) {
    await remove();
    throw error;
  }
  return { id: created.id, name, remove };
}

/** The owner label docker.ts writes: `<pid>:<start ticks>` of this process, so a sweep of a crashed run finds it. */
function ownerIdentity(): string {
  return `${process.pid}:${startTicks(process.pid) ?? '?'}`;
}

/** Kills a container's main process (SIGKILL); Docker then reports `die`. */
export async function killContainer(id: string): Promise<void> {
  await dockerClient().getContainer(id).kill({ signal: 'SIGKILL' });
}
