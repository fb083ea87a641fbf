// Fakes of the agent's edges (agent/core/host-network.ts, container-engine.ts,
// dhcp-clients.ts, pending-release.ts's ReleaseSender, agent-clock.ts) for
// unit tests without root: an in-memory model of namespaces and links that
// behaves as the kernel does where attach and release depend on it (a veth
// pair is deleted as a pair, a netns name cannot be made twice), and a
// journal of every change, from which the tests read what was done and
// undone, in order. Any change can be made to fail once.
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { ManualClock } from '../../../lib/core/clock.ts';
import { createLogger, type Logger } from '../../../lib/core/logger.ts';
import type { AgentClock } from '../../../agent/core/agent-clock.ts';
import type { Attachment, ClientProcess } from '../../../agent/core/attachment.ts';
import type { ContainerEngine, ContainerFacts } from '../../../agent/core/container-engine.ts';
import type { ClientStopOutcome, DhcpClients, StartClientOptions } from '../../../agent/core/dhcp-clients.ts';
import type { BridgeFacts, GlobalIpv6, HostNetwork, LinkFacts, NetnsSource, VethPairSpec } from '../../../agent/core/host-network.ts';
import type { ReleaseDatagram, ReleaseSender } from '../../../agent/core/pending-release.ts';
import { Agent, type AgentSettings } from '../../../agent/app/agent.ts';
import { StateStore } from '../../../agent/io/state-store.ts';
import type { PendingRelease } from '../../../agent/core/pending-release.ts';

/** One world's journal of changes: `do` lines as they are made, `✗` for the one made to fail. */
export class Journal {
  readonly lines: string[] = [];
  private readonly failing = new Map<string, { error: Error; skip: number }>();

  /** The change whose line starts with `prefix` throws `error` instead, once, after `skip` that succeed. */
  failNext(prefix: string, { error = new Error(`${prefix}: injected failure`), skip = 0 }: { error?: Error; skip?: number } = {}): void {
    this.failing.set(prefix, { error, skip });
  }

  record(line: string): void {
    for (const [prefix, failure] of this.failing) {
      if (!line.startsWith(prefix)) continue;
      if (failure.skip-- > 0) break;
      this.failing.delete(prefix);
      this.lines.push(`✗ ${line}`);
      throw failure.error;
    }
    this.lines.push(line);
  }
}

interface FakeLink {
  ifindex: number;
  kind: string;
  mac: string;
  master?: string;
  ipv4: string[];
  /** A veth's other end: namespace id and name. */
  peer?: { nsId: number; name: string };
}

const OWN_NS = 0;

/** Namespaces by id (0: the agent's own), names in /run/netns, processes in namespaces, links in each. */
export class FakeNetwork implements HostNetwork {
  readonly names = new Map<string, number>();
  readonly processes = new Map<number, number>();
  readonly links = new Map<number, Map<string, FakeLink>>();
  /** MACs the bridge has learned (FDB) or the neighbour table holds. */
  readonly macsSeen = new Set<string>();
  readonly ipv6 = new Map<string, GlobalIpv6>();
  private nextNs = 1;
  private nextIfindex = 10;

  constructor(readonly journal: Journal) {
    this.links.set(OWN_NS, new Map([['lo', this.link('loopback', '00:00:00:00:00:00')]]));
  }

  // -- building the world ------------------------------------------------------

  addNamespace(name?: string): number {
    const id = this.nextNs++;
    this.links.set(id, new Map([['lo', this.link('loopback', '00:00:00:00:00:00')]]));
    if (name) this.names.set(name, id);
    return id;
  }

  /** A process (a container's init) in a namespace of its own, not named. */
  addProcess(pid: number): number {
    const id = this.addNamespace();
    this.processes.set(pid, id);
    return id;
  }

  addBridge(ns: string | undefined, name: string, ipv4?: string): void {
    this.linksIn(this.nsId(ns)).set(name, { ...this.link('bridge', '02:00:00:00:00:fe'), ipv4: ipv4 ? [ipv4] : [] });
  }

  /** A veth pair made by hand (or by another agent): host end in `hostNs` on `bridge`, peer in namespace `peerNsId`. */
  addVethPair(hostNs: string | undefined, host: string, bridge: string | undefined, peerNsId: number, peer: string, mac: string, ipv4: string[] = []): void {
    const hostId = this.nsId(hostNs);
    this.linksIn(hostId).set(host, { ...this.link('veth', '0a:00:00:00:00:01'), master: bridge, peer: { nsId: peerNsId, name: peer } });
    this.linksIn(peerNsId).set(peer, { ...this.link('veth', mac), ipv4, peer: { nsId: hostId, name: host } });
  }

  linkNamesIn(nsId: number): string[] {
    return [...this.linksIn(nsId).keys()].sort();
  }

  nsId(ns: string | undefined): number {
    if (ns === undefined) return OWN_NS;
    const id = this.names.get(ns);
    if (id === undefined) throw new Error(`Cannot open network namespace "${ns}": No such file or directory`);
    return id;
  }

  private linksIn(id: number): Map<string, FakeLink> {
    let links = this.links.get(id);
    if (!links) this.links.set(id, (links = new Map()));
    return links;
  }

  private link(kind: string, mac: string): FakeLink {
    return { ifindex: this.nextIfindex++, kind, mac, ipv4: [] };
  }

  // -- HostNetwork ---------------------------------------------------------------

  async netnsExists(name: string): Promise<boolean> {
    return this.names.has(name);
  }

  /** The netns a source is: a process's, or a path /run/netns/<name> or /proc/<pid>/ns/net. */
  private sourceNs(source: NetnsSource): number | undefined {
    if ('pid' in source) return this.processes.get(source.pid);
    const named = /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(source.path);
    if (named) return this.names.get(named[1]!);
    const proc = /^\/proc\/(\d+)\/ns\/net$/.exec(source.path);
    return proc ? this.processes.get(Number(proc[1])) : undefined;
  }

  async netnsNameState(name: string, source: NetnsSource): Promise<'absent' | 'same' | 'other'> {
    const id = this.names.get(name);
    if (id === undefined) return 'absent';
    return id === this.sourceNs(source) ? 'same' : 'other';
  }

  async nameNetns(name: string, source: NetnsSource): Promise<void> {
    this.journal.record(`name netns ${name}`);
    if (this.names.has(name)) throw new Error(`Cannot create namespace file "/run/netns/${name}": File exists`);
    const id = this.sourceNs(source);
    if (id === undefined) throw new Error(`no such netns: ${JSON.stringify(source)}`);
    this.names.set(name, id);
  }

  async deleteNetns(name: string): Promise<void> {
    this.journal.record(`delete netns ${name}`);
    this.names.delete(name);
  }

  async processLinkNames(pid: number): Promise<string[]> {
    const id = this.processes.get(pid);
    if (id === undefined) throw new Error(`ENOENT: /proc/${pid}/net/dev`);
    return this.linkNamesIn(id);
  }

  async linkExists(ns: string | undefined, name: string): Promise<boolean> {
    return this.linksIn(this.nsId(ns)).has(name);
  }

  async linkNames(ns: string | undefined): Promise<Set<string>> {
    return new Set(this.linksIn(this.nsId(ns)).keys());
  }

  async linkFacts(ns: string | undefined, name: string): Promise<LinkFacts | undefined> {
    const link = this.linksIn(this.nsId(ns)).get(name);
    if (!link) return undefined;
    const peer = link.peer && this.links.get(link.peer.nsId)?.get(link.peer.name);
    return { ifindex: link.ifindex, peerIfindex: peer?.ifindex, kind: link.kind, master: link.master, mac: link.mac, ipv4: link.ipv4 };
  }

  async bridgeFacts(ns: string | undefined, name: string): Promise<BridgeFacts | undefined> {
    const link = this.linksIn(this.nsId(ns)).get(name);
    return link && { kind: link.kind === 'bridge' ? 'bridge' : link.kind, mtu: 1500, ipv4: link.ipv4[0] };
  }

  async macsInUse(ns: string | undefined, bridge: string): Promise<Set<string>> {
    if (!this.linksIn(this.nsId(ns)).has(bridge)) throw new Error(`bridge fdb show br ${bridge}: Cannot find device "${bridge}"`);
    return new Set(this.macsSeen);
  }

  async createVethPair(spec: VethPairSpec): Promise<'created' | 'exists'> {
    this.journal.record(`create veth ${spec.host}`);
    const hostId = this.nsId(spec.bridgeNs);
    const targetId = this.nsId(spec.targetNs);
    if (this.linksIn(hostId).has(spec.host)) return 'exists';
    if (this.linksIn(targetId).has(spec.ifname)) throw new Error('RTNETLINK answers: File exists');
    this.addVethPair(spec.bridgeNs, spec.host, spec.bridge, targetId, spec.ifname, spec.mac);
    return 'created';
  }

  async deleteLink(ns: string | undefined, name: string): Promise<void> {
    this.journal.record(`delete link ${name}`);
    const links = this.linksIn(this.nsId(ns));
    const link = links.get(name);
    if (!link) return;
    links.delete(name);
    if (link.peer) this.links.get(link.peer.nsId)?.delete(link.peer.name);
  }

  async setLinkUp(ns: string, name: string): Promise<void> {
    this.journal.record(`set up ${ns} ${name}`);
  }

  async setSysctls(ns: string, settings: Record<string, string | number>): Promise<void> {
    this.journal.record(`sysctls ${ns} ${Object.entries(settings).map(([k, v]) => `${k.split('.').pop()}=${v}`).join(',')}`);
  }

  async globalIpv6(ns: string, dev: string): Promise<GlobalIpv6 | undefined> {
    return this.ipv6.get(`${ns}/${dev}`);
  }

  async forgetNeighbours(_ns: string | undefined, mac: string): Promise<void> {
    this.journal.record(`forget neighbours ${mac}`);
  }
}

export class FakeEngine implements ContainerEngine {
  /** `starting`: created, its start not finished (Docker's `created` state during a start). */
  readonly containers: (ContainerFacts & { starting?: boolean })[] = [];
  unreachable = false;

  add(facts: Partial<ContainerFacts> & { id: string; name: string; pid: number }): ContainerFacts & { starting?: boolean } {
    const c: ContainerFacts & { starting?: boolean } = { running: true, networkMode: 'none', labels: {}, ...facts };
    this.containers.push(c);
    return c;
  }

  private check(): void {
    if (this.unreachable) throw Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' });
  }

  async inspect(ref: string): Promise<ContainerFacts> {
    this.check();
    const c = this.containers.find((x) => x.name === ref || x.id === ref || x.id.startsWith(ref));
    if (!c) throw new Error(`no such container: ${ref}`);
    return c;
  }

  async liveIds(): Promise<Set<string>> {
    this.check();
    return new Set(this.containers.filter((c) => c.running || c.starting).map((c) => c.id));
  }

  async labelled(worker?: string): Promise<{ id: string; bridge: string }[]> {
    this.check();
    return this.containers
      .filter((c) => c.running && c.labels['leasehold.attach'] && (!worker || c.labels['leasehold.worker'] === worker))
      .map((c) => ({ id: c.id, bridge: c.labels['leasehold.attach'] }));
  }

  async followEvents(): Promise<() => void> {
    return () => undefined;
  }
}

/** What a started fake client does: gets a lease at once (as the hook would record it), keeps trying, or dies. */
export type ClientBehaviour = 'lease' | 'no-lease' | 'exits';

export class FakeClients implements DhcpClients {
  behaviour: ClientBehaviour = 'lease';
  readonly running = new Set<number>();
  readonly started: { key: string; pid: number; requestIp?: string }[] = [];
  private nextPid = 5000;

  constructor(
    readonly journal: Journal,
    private readonly lease: (a: Attachment) => string = (a) => leaseFileText({ ip: '198.18.1.7', mac: a.mac }),
  ) {}

  start(a: Attachment, opts: StartClientOptions): ClientProcess {
    this.journal.record(`start client ${a.key}`);
    const pid = this.nextPid++;
    this.started.push({ key: a.key, pid, requestIp: opts.requestIp });
    if (this.behaviour !== 'exits') this.running.add(pid);
    // The hook's lease file, as udhcpc's hook writes it on `bound`.
    if (this.behaviour === 'lease') writeFileSync(opts.leaseFile, this.lease(a));
    return { pid, startTicks: pid * 7, restarts: 0 };
  }

  isRunning(c: ClientProcess): boolean {
    return this.running.has(c.pid) && c.startTicks === c.pid * 7;
  }

  /** The client of pid dies, as a SIGKILL would. */
  kill(pid: number): void {
    this.running.delete(pid);
  }

  async stop(c: ClientProcess): Promise<ClientStopOutcome> {
    this.journal.record(`stop client ${c.pid}`);
    if (!this.running.delete(c.pid)) return 'not-running';
    return 'released';
  }
}

export class FakeReleaseSender implements ReleaseSender {
  readonly sent: { bridgeNetns?: string; datagrams: readonly ReleaseDatagram[] }[] = [];
  failing = false;

  async send(bridgeNetns: string | undefined, datagrams: readonly ReleaseDatagram[]): Promise<void> {
    if (datagrams.length === 0) return;
    this.sent.push({ bridgeNetns, datagrams });
    if (this.failing) throw new Error('sendto: network unreachable');
  }
}

/** A clock that moves when the agent sleeps: timeouts pass at once. */
export class FakeClock extends ManualClock implements AgentClock {
  async sleep(ms: number): Promise<void> {
    this.advance(ms);
  }
}

/** The real state store in a temporary directory, its changes journalled, any of them failing on demand. */
export class JournalledStore extends StateStore {
  constructor(runDir: string, readonly journal: Journal) {
    super(runDir);
  }
  override async write(a: Attachment): Promise<void> {
    this.journal.record(`write record ${a.key}`);
    await super.write(a);
  }
  override async remove(key: string): Promise<void> {
    this.journal.record(`remove record ${key}`);
    await super.remove(key);
  }
  override async backupResolvConf(key: string, path: string): Promise<void> {
    this.journal.record(`back up resolv.conf ${key}`);
    await super.backupResolvConf(key, path);
  }
  override async restoreResolvConf(key: string, path: string): Promise<void> {
    this.journal.record(`restore resolv.conf ${key}`);
    await super.restoreResolvConf(key, path);
  }
  override async writePendingRelease(p: PendingRelease): Promise<void> {
    this.journal.record(`write pending release ${p.key}`);
    await super.writePendingRelease(p);
  }
}

export function leaseFileText(l: { ip: string; mac?: string; serverId?: string; leaseSeconds?: number; boundAt?: number }): string {
  return [
    'event=bound', `ip=${l.ip}`, 'mask=16', 'subnet=255.255.0.0', 'router=198.18.0.1', 'dns=198.18.0.2', 'domain=leasehold.test',
    'search=', `serverid=${l.serverId ?? '198.18.0.1'}`, `lease=${l.leaseSeconds ?? 600}`, `bound_at=${l.boundAt ?? 1_700_000_000}`, '',
  ].join('\n');
}

export const WORKER_IP = '198.18.0.11';
export const BRIDGE_NS = 'lt-core';
export const BRIDGE = 'br0';

/** A world: a bridge namespace with br0 (198.18.0.11), a state dir, the fakes, and an Agent on them. */
export interface World {
  journal: Journal;
  network: FakeNetwork;
  engine: FakeEngine;
  clients: FakeClients;
  releases: FakeReleaseSender;
  clock: FakeClock;
  store: JournalledStore;
  runDir: string;
  dir: string;
  logLines: string[];
  log: Logger;
  agent: Agent;
  /** Another Agent on the same world (as a second CLI would be). */
  newAgent(settings?: Partial<AgentSettings>): Agent;
}

export async function createWorld(t: ExecutionContext): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'lt-agent-unit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const journal = new Journal();
  const network = new FakeNetwork(journal);
  network.addNamespace(BRIDGE_NS);
  network.addBridge(BRIDGE_NS, BRIDGE, WORKER_IP);
  const engine = new FakeEngine();
  const clients = new FakeClients(journal);
  const releases = new FakeReleaseSender();
  const clock = new FakeClock();
  const runDir = join(dir, 'run');
  const store = new JournalledStore(runDir, journal);
  const logLines: string[] = [];
  const log = createLogger({ level: 'debug', pretty: false, write: (line) => logLines.push(line) });
  let seed = 0;
  const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 31 + 17) & 0xff)));
  const newAgent = (settings: Partial<AgentSettings> = {}) =>
    new Agent({ runDir, defaultApp: 'app', ...settings }, log, { network, engine, clients, releases, clock, randomBytes, store });
  const agent = newAgent();
  await agent.init();
  return { journal, network, engine, clients, releases, clock, store, runDir, dir, logLines, log, agent, newAgent };
}
