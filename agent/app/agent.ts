import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { systemAgentClock, type AgentClock } from '../core/agent-clock.ts';
import { toInspectJson, type Attachment, type InspectJson, type RecordedLease } from '../core/attachment.ts';
import { APP_LABEL, type ContainerEngine } from '../core/container-engine.ts';
import type { DhcpClients } from '../core/dhcp-clients.ts';
import { isVethPairOn, type HostNetwork } from '../core/host-network.ts';
import { AddressError, checkUserMac, followsScheme, generateMac, normalizeMac } from '../core/mac.ts';
import type { ReleaseSender } from '../core/pending-release.ts';
import type { AttachRequest, CniAddRequest, TargetRef } from '../core/requests.ts';
import { targetName } from '../core/requests.ts';
import { Rollback, settleAll } from '../core/rollback.ts';
import {
  checkAppLabel,
  clientFqdn,
  clientIdHex,
  cniTargetId,
  containerNetnsName,
  dhcpHostname,
  hostVethName,
  stateKey,
  type TargetIdentity,
} from '../core/target.ts';
import { udhcpcClients } from '../io/dhcp-client.ts';
import { DockerEngine } from '../io/docker.ts';
import { iprouteNetwork } from '../io/iproute.ts';
import { nsenterReleaseSender } from '../io/release-sender.ts';
import { StateStore } from '../io/state-store.ts';
import { AttachError } from './attach-error.ts';
import {
  ensureClient,
  ensureInterfaceSysctls,
  interfaceSysctls,
  ensureNetnsName,
  ensureRecord,
  ensureResolvConfBackup,
  ensureVeth,
  type AttachPlan,
} from './attach-steps.ts';
import { ReleaseRepeater } from './release-repeater.ts';

export { AttachError };
export type { AttachRequest };

export interface AgentSettings {
  runDir: string;
  /** App label for containers without an app, a leasehold.app label or a request's defaultApp. */
  defaultApp: string;
  dockerSocket?: string;
}

/**
 * Everything outside the agent's own logic, behind our own interfaces: the
 * real ones by default, fakes in the unit tests (test/unit/agent-*.test.ts).
 */
export interface AgentEdges {
  network: HostNetwork;
  engine: ContainerEngine;
  clients: DhcpClients;
  releases: ReleaseSender;
  clock: AgentClock;
  randomBytes(size: number): Buffer;
}

interface ResolvedTarget {
  identity: TargetIdentity;
  name: string;
  /** Container's init PID (docker only). */
  pid?: number;
  /** The runtime's netns path (cni only), named by a bind mount. */
  netnsPath?: string;
  labels: Record<string, string>;
  resolvConfPath?: string;
  /** DHCP hostname given by the runtime (a CNI ADD's K8S_POD_NAME); otherwise derived from the identity. */
  hostname?: string;
}

async function pathExists(path: string): Promise<boolean> {
  return await access(path).then(() => true, () => false);
}

/** How many MACs to try before giving up on a clash (each one is checked). */
const MAC_ATTEMPTS = 16;

/**
 * The agent's operations: attach, detach, inspect, release. An attach is a
 * short sequence of named steps (attach-steps.ts), each with its undo; a
 * failure undoes what this attach made, and nothing else, then reports one
 * clear error. Supervision (supervisor.ts) and release repeats
 * (release-repeater.ts) build on these.
 */
export class Agent {
  readonly store: StateStore;
  readonly edges: AgentEdges;
  readonly releaseRepeater: ReleaseRepeater;

  constructor(
    private readonly settings: AgentSettings,
    readonly log: Logger,
    edges: Partial<AgentEdges> & { store?: StateStore } = {},
  ) {
    this.store = edges.store ?? new StateStore(settings.runDir);
    this.edges = {
      network: edges.network ?? iprouteNetwork,
      engine: edges.engine ?? new DockerEngine(settings.dockerSocket),
      clients: edges.clients ?? udhcpcClients,
      releases: edges.releases ?? nsenterReleaseSender,
      clock: edges.clock ?? systemAgentClock,
      randomBytes: edges.randomBytes ?? cryptoRandomBytes,
    };
    this.releaseRepeater = new ReleaseRepeater(this.store, this.edges, log);
  }

  get engine(): ContainerEngine {
    return this.edges.engine;
  }

  async init(): Promise<void> {
    await this.store.init();
  }

  // ---- attach ---------------------------------------------------------------

  async attach(req: AttachRequest): Promise<InspectJson> {
    return (await this.attachTarget(await this.resolveTarget(req), req)).json;
  }

  /**
   * A CNI ADD: the runtime's netns at `netnsPath`, known by the spec's key
   * (network, container id, ifname). The same steps as any attach; the
   * netns gets a name of ours (`lhn-…`) so the release can still reach it.
   */
  async attachCni(req: CniAddRequest): Promise<{ json: InspectJson; attachment: Attachment; lease: RecordedLease }> {
    const identity: TargetIdentity = { kind: 'cni', id: cniTargetId(req.network, req.containerId, req.ifname) };
    if (!(await this.edges.network.netnsExists(containerNetnsName(identity))) && !(await pathExists(req.netnsPath))) {
      throw new AttachError(`CNI_NETNS ${req.netnsPath} does not exist`);
    }
    const target: ResolvedTarget = { identity, name: `${req.network}/${req.containerId.slice(0, 12)}/${req.ifname}`, netnsPath: req.netnsPath, labels: {}, hostname: req.hostname };
    const { hostname: _hostname, ...attach } = req;
    return await this.attachTarget(target, { ...attach, netns: containerNetnsName(identity), defaultApp: undefined });
  }

  /**
   * A container found in a Docker network driver's sandbox (after Join):
   * the same steps as `attach <container>`, with the container known from
   * /proc instead of the Docker API (which the driver must not call).
   */
  async attachSandbox(req: AttachRequest & { container: string }, pid: number, resolvConfPath: string | undefined): Promise<InspectJson> {
    const target: ResolvedTarget = { identity: { kind: 'docker', id: req.container }, name: req.container.slice(0, 12), pid, labels: {}, resolvConfPath };
    return (await this.attachTarget(target, req)).json;
  }

  private async attachTarget(target: ResolvedTarget, req: AttachRequest): Promise<{ json: InspectJson; attachment: Attachment; lease: RecordedLease }> {
    const key = stateKey(target.identity);
    const unlock = await this.store.lock(key);
    try {
      const existing = await this.store.read(key);
      if (existing) return await this.currentState(existing, req);
      return await this.attachNew(target, key, req);
    } finally {
      await unlock();
    }
  }

  /** An attach of something already attached: repair the client if needed, report. */
  private async currentState(a: Attachment, req: AttachRequest): Promise<{ json: InspectJson; attachment: Attachment; lease: RecordedLease }> {
    if (!this.edges.clients.isRunning(a.client)) await this.restartClient(a);
    const lease = await this.waitForLease(a, req.timeoutMs);
    return { json: await this.inspectAttachment(a, lease), attachment: a, lease };
  }

  private async attachNew(target: ResolvedTarget, key: string, req: AttachRequest): Promise<{ json: InspectJson; attachment: Attachment; lease: RecordedLease }> {
    const { network, clients } = this.edges;
    const rollback = new Rollback();
    // The target comes back under the same client-id: an old release still
    // being repeated would now take its new lease away.
    await this.releaseRepeater.cancel(key);
    try {
      const plan = await this.plan(target, key, req, rollback);
      await rollback.step('veth', () => ensureVeth(network, plan));
      await rollback.step('interface sysctls', () => ensureInterfaceSysctls(network, plan));
      const attachment = this.newAttachment(target, plan);
      await rollback.step('state record', () => ensureRecord(this.store, attachment));
      await rollback.step('resolv.conf', () => ensureResolvConfBackup(this.store, attachment));
      await rollback.step('DHCP client', () => ensureClient(clients, this.store, attachment));

      const lease = await this.waitForLease(attachment, req.timeoutMs);
      if (req.waitIpv6 && req.ipv6 === 'slaac') await this.waitForIpv6(attachment, req.timeoutMs);
      this.log.info('attached', { container: target.name, mac: plan.mac, ip: lease.ip, veth: plan.hostVeth });
      return { json: await this.inspectAttachment(attachment, lease), attachment, lease };
    } catch (err) {
      for (const failure of await rollback.undo()) this.log.warn('undo-failed', { step: failure.step, error: reasonOf(failure.error) });
      if (err instanceof LeaseholdError) throw err;
      throw new AttachError(`attach ${target.name}: ${reasonOf(err)}`, { cause: err });
    }
  }

  /**
   * Looks at what is there and decides every name and the MAC. The only
   * change it makes is the container's netns name (ensureNetnsName, kept in
   * `rollback`), alongside the look-ups: each is a process to start, and an
   * attach's latency is mostly their number in a row.
   */
  private async plan(target: ResolvedTarget, key: string, req: AttachRequest, rollback: Rollback): Promise<AttachPlan> {
    const { network } = this.edges;
    if (req.bridgeNetns && !(await network.netnsExists(req.bridgeNetns))) {
      throw new AttachError(`bridge netns ${req.bridgeNetns} does not exist`);
    }
    const netns = containerNetnsName(target.identity);
    const hostVeth = hostVethName(target.identity);
    const inTarget = target.pid === undefined ? `netns ${netns}` : 'the container';
    let ifnameThere: Promise<boolean>;
    let naming: Promise<void> = Promise.resolve();
    if (target.pid !== undefined) {
      // Looked at through /proc before the netns name is touched: a container
      // attached already (by another agent, or one whose state was lost) has
      // its interface, and its netns name belongs to that attachment.
      const pid = target.pid;
      const [links, nameState] = await Promise.all([network.processLinkNames(pid), network.netnsNameState(netns, { pid })]);
      const there = links.includes(req.ifname);
      if (there && nameState !== 'same') throw new AttachError(`${req.ifname} already exists in the container`);
      ifnameThere = Promise.resolve(there);
      naming = rollback.step('netns name', () => ensureNetnsName(network, netns, { pid }));
    } else if (target.netnsPath !== undefined) {
      const path = target.netnsPath;
      naming = rollback.step('netns name', () => ensureNetnsName(network, netns, { path }));
      ifnameThere = naming.then(() => network.linkExists(netns, req.ifname));
    } else {
      // A netns target's existence was checked by resolveTarget.
      ifnameThere = network.linkExists(netns, req.ifname);
    }
    // Fails when the bridge does not exist: awaited after the bridge check, which says so.
    const macsTaken = this.macsTaken(req);
    macsTaken.catch(() => undefined);
    const [bridge, there] = await settleAll(network.bridgeFacts(req.bridgeNetns, req.bridge), ifnameThere, naming);
    if (!bridge || bridge.kind !== 'bridge') {
      throw new AttachError(
        `${bridge ? `${req.bridge} is not a bridge` : `no bridge ${req.bridge}`}${req.bridgeNetns ? ` in netns ${req.bridgeNetns}` : ''}`,
      );
    }
    const app = this.appOf(target, req);
    const appProblem = checkAppLabel(app);
    if (appProblem) throw new AttachError(appProblem);
    const workerIp = req.workerIp ?? bridge.ipv4;
    if (!workerIp) {
      throw new AttachError(`bridge ${req.bridge} has no IPv4 address for the MAC scheme; give --worker-ip`);
    }
    const taken = await macsTaken;
    const macs = this.macCandidates(target, req, workerIp);
    if (there) {
      // CNI's rule: what exists as wanted counts as made. The target's
      // interface is ours to take on only when it is the peer of this
      // target's host veth on this bridge, has a MAC this attach could have
      // chosen, and nothing has used it (no address, the bridge never saw
      // its MAC): an attach of this target stopped after the veth, before
      // its record.
      const [host, peer] = await Promise.all([network.linkFacts(req.bridgeNetns, hostVeth), network.linkFacts(netns, req.ifname)]);
      if (!isVethPairOn(host, peer, req.bridge) || peer!.ipv4.length > 0 || taken.has(peer!.mac) || !macs.accepts(peer!.mac)) {
        throw new AttachError(`${req.ifname} already exists in ${inTarget}`);
      }
      return { req, name: target.name, key, netns, pid: target.pid, hostVeth, bridge, mac: peer!.mac, vethInPlace: true };
    }
    return { req, name: target.name, key, netns, pid: target.pid, hostVeth, bridge, mac: macs.choose(taken), vethInPlace: false };
  }

  private appOf(target: ResolvedTarget, req: AttachRequest): string {
    return req.app ?? target.labels[APP_LABEL] ?? req.defaultApp ?? this.settings.defaultApp;
  }

  private newAttachment(target: ResolvedTarget, plan: AttachPlan): Attachment {
    const { req } = plan;
    const app = this.appOf(target, req);
    const hostname = target.hostname ?? dhcpHostname(target.identity);
    return {
      version: 1,
      key: plan.key,
      kind: target.identity.kind,
      targetId: target.identity.id,
      name: target.name,
      netns: plan.netns,
      ownsNetns: target.identity.kind !== 'netns',
      bridge: req.bridge,
      bridgeNetns: req.bridgeNetns,
      hostVeth: plan.hostVeth,
      ifname: req.ifname,
      mac: plan.mac,
      app,
      hostname,
      fqdn: clientFqdn(hostname, app),
      clientIdHex: clientIdHex(target.identity),
      ipv6: req.ipv6,
      resolvConfPath: target.resolvConfPath ?? req.resolvConf,
      client: { pid: 0, startTicks: 0, restarts: 0 },
      createdAt: new Date(this.edges.clock.now()).toISOString(),
    };
  }

  private async resolveTarget(req: AttachRequest): Promise<ResolvedTarget> {
    if (req.netns) {
      if (!(await this.edges.network.netnsExists(req.netns))) throw new AttachError(`netns ${req.netns} does not exist`);
      return { identity: { kind: 'netns', id: req.netns }, name: req.netns, labels: {} };
    }
    const c = await this.engine.inspect(req.container!);
    if (!c.running) throw new AttachError(`container ${c.name} is not running`);
    if (c.networkMode !== 'none') {
      throw new AttachError(
        `container ${c.name} has network mode "${c.networkMode}"; run it with --net none, or it gets Docker's default route as well as ours`,
      );
    }
    return { identity: { kind: 'docker', id: c.id }, name: c.name, pid: c.pid, labels: c.labels, resolvConfPath: c.resolvConfPath };
  }

  /** MACs on the bridge (FDB), in its neighbour table, and in our own records. */
  private async macsTaken(req: AttachRequest): Promise<Set<string>> {
    const [inUse, { attachments }] = await Promise.all([this.edges.network.macsInUse(req.bridgeNetns, req.bridge), this.store.list()]);
    for (const a of attachments) inUse.add(a.mac);
    return inUse;
  }

  /**
   * The MACs this attach may use: --mac, or the scheme's (XX:IP:IP:IP:YY:ZZ
   * for this worker; for `stable`, the container's own first few).
   * `choose` picks a free one; `accepts` says whether a MAC found on an
   * existing interface is one of them.
   */
  private macCandidates(target: ResolvedTarget, req: AttachRequest, workerIp: string): { choose(taken: Set<string>): string; accepts(mac: string): boolean } {
    const scheme = (attempt: number) => {
      try {
        return generateMac({ workerIpv4: workerIp, scheme: req.macScheme, targetId: target.identity.id, attempt, randomBytes: this.edges.randomBytes(3) });
      } catch (err) {
        if (err instanceof AddressError) throw new AttachError(`attach ${target.name}: ${err.message}`, { cause: err });
        throw err;
      }
    };
    if (req.mac) {
      const problem = checkUserMac(req.mac);
      if (problem) throw new AttachError(`--mac: ${problem}`);
      const mac = normalizeMac(req.mac);
      return {
        choose: (taken) => {
          if (taken.has(mac)) throw new AttachError(`--mac ${mac} is already in use on ${req.bridge}`);
          return mac;
        },
        accepts: (found) => found === mac,
      };
    }
    return {
      choose: (taken) => {
        for (let attempt = 0; attempt < MAC_ATTEMPTS; attempt++) {
          const mac = scheme(attempt);
          if (!taken.has(mac)) return mac;
        }
        throw new AttachError(`no free MAC after ${MAC_ATTEMPTS} tries on ${req.bridge}`);
      },
      accepts: (found) => {
        scheme(0); // a bad worker address is reported here too
        if (req.macScheme === 'random') return followsScheme(found, workerIp);
        return Array.from({ length: MAC_ATTEMPTS }, (_, attempt) => scheme(attempt)).includes(found);
      },
    };
  }

  /** Until the hook has recorded a lease: woken by the lease file's change, polled every 5 ms as well (for a client that died). */
  private async waitForLease(a: Attachment, timeoutMs: number): Promise<RecordedLease> {
    const { clock, clients } = this.edges;
    const deadline = clock.now() + timeoutMs;
    const changes = this.store.watchLease(a.key);
    try {
      for (;;) {
        const lease = await this.store.readLease(a.key);
        if (lease) return lease;
        if (!clients.isRunning(a.client)) {
          throw new AttachError(`the DHCP client of ${a.name} exited: ${await this.clientLogTail(a)}`);
        }
        if (clock.now() > deadline) {
          throw new AttachError(`no DHCP lease for ${a.name} within ${Math.round(timeoutMs / 1000)} s (is a DHCP server on ${a.bridge}?)`);
        }
        await Promise.race([clock.sleep(5), changes.next()]);
      }
    } finally {
      changes.close();
    }
  }

  private async waitForIpv6(a: Attachment, timeoutMs: number): Promise<void> {
    const { clock, network } = this.edges;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const v6 = await network.globalIpv6(a.netns, a.ifname);
      if (v6 && !v6.tentative) return;
      if (clock.now() > deadline) throw new AttachError(`no SLAAC address for ${a.name} within ${Math.round(timeoutMs / 1000)} s (router advertisements on ${a.bridge}?)`);
      await clock.sleep(50);
    }
  }

  private async clientLogTail(a: Attachment): Promise<string> {
    const text = await readFile(this.store.logPath(a.key), 'utf8').catch(() => '');
    return text.trim().split('\n').slice(-1)[0] || 'no output';
  }

  // ---- detach / release -----------------------------------------------------

  async detach(ref: TargetRef): Promise<InspectJson> {
    const a = await this.findAttachment(ref);
    if (!a) throw new AttachError(`not attached: ${targetName(ref)}`);
    const unlock = await this.store.lock(a.key);
    try {
      const current = await this.store.read(a.key);
      if (!current) throw new AttachError(`not attached: ${targetName(ref)}`);
      const before = await this.inspectAttachment(current);
      await this.release(current, 'detach');
      return before;
    } finally {
      await unlock();
    }
  }

  /**
   * Undoes an attachment; the caller holds its lock. SIGTERM to the client
   * first (udhcpc -R sends DHCPRELEASE while the veth still carries it),
   * then the link, the netns name and the record. Every part that is gone
   * already counts as done, so a release is safe to repeat.
   */
  async release(a: Attachment, reason: string): Promise<void> {
    const { network, clients } = this.edges;
    const lease = await this.store.readLease(a.key);
    const how = await clients.stop(a.client);
    await this.releaseRepeater.remember(a, lease, how);
    await network.deleteLink(a.bridgeNetns, a.hostVeth);
    // The worker's neighbour entries for this MAC point at nothing now, and
    // the MAC choice would read them as a clash: a stable MAC would not come back.
    await network.forgetNeighbours(a.bridgeNetns, a.mac);
    if (a.ownsNetns) await network.deleteNetns(a.netns);
    if (a.resolvConfPath) await this.store.restoreResolvConf(a.key, a.resolvConfPath);
    await this.store.remove(a.key);
    this.log.info('released', { container: a.name, reason, client: how });
  }

  /** Starts a new client for an attachment whose client is gone, asking for its old address; the caller holds its lock. */
  async restartClient(a: Attachment): Promise<void> {
    const lease = await this.store.readLease(a.key);
    a.client = {
      ...this.edges.clients.start(a, { leaseFile: this.store.leasePath(a.key), logFile: this.store.logPath(a.key), requestIp: lease?.ip }),
      restarts: a.client.restarts + 1,
    };
    await this.store.write(a);
    this.log.warn('client-restarted', { container: a.name, pid: a.client.pid, restarts: a.client.restarts, ip: lease?.ip });
  }

  /** Sets a container's interface IPv6 settings again (something else in its netns changed them: DockerEndpoints). */
  async reapplyInterfaceSysctls(containerId: string): Promise<void> {
    const a = await this.store.read(stateKey({ kind: 'docker', id: containerId }));
    if (a) await this.edges.network.setSysctls(a.netns, interfaceSysctls(a.ifname, a.ipv6));
  }

  /** Releases one container's attachment (a Docker die/destroy event). */
  async releaseContainer(containerId: string, reason: string): Promise<boolean> {
    const key = stateKey({ kind: 'docker', id: containerId });
    // Nothing recorded, nothing to release and nothing to lock: an event for
    // a container never attached here, or one after the run dir went away.
    if (!(await this.store.read(key))) return false;
    const unlock = await this.store.lock(key);
    try {
      const a = await this.store.read(key);
      if (!a || a.targetId !== containerId) return false;
      await this.release(a, reason);
      return true;
    } finally {
      await unlock();
    }
  }

  // ---- inspect --------------------------------------------------------------

  async inspect(ref: TargetRef): Promise<InspectJson> {
    const a = await this.findAttachment(ref);
    if (!a) throw new AttachError(`not attached: ${targetName(ref)}`);
    return await this.inspectAttachment(a);
  }

  async inspectAll(): Promise<InspectJson[]> {
    const { attachments } = await this.store.list();
    return await Promise.all(attachments.map((a) => this.inspectAttachment(a)));
  }

  private async inspectAttachment(a: Attachment, lease?: RecordedLease): Promise<InspectJson> {
    const { network, clients } = this.edges;
    lease ??= await this.store.readLease(a.key);
    const v6 =
      a.ipv6 === 'slaac' && (await network.netnsExists(a.netns))
        ? await network.globalIpv6(a.netns, a.ifname).catch(() => undefined)
        : undefined;
    return toInspectJson(a, { lease, globalIpv6: v6 && !v6.tentative ? v6 : undefined, clientAlive: clients.isRunning(a.client) });
  }

  /** By netns name, container name, or id prefix — from our records first, so a destroyed container can still be detached. */
  private async findAttachment(ref: TargetRef): Promise<Attachment | undefined> {
    const { attachments } = await this.store.list();
    if (ref.netns) return attachments.find((a) => a.kind === 'netns' && a.targetId === ref.netns);
    const wanted = ref.container!;
    const docker = attachments.filter((a) => a.kind === 'docker');
    const byName = docker.find((a) => a.name === wanted);
    if (byName) return byName;
    const byId = /^[0-9a-f]+$/.test(wanted) ? docker.filter((a) => a.targetId.startsWith(wanted)) : [];
    if (byId.length > 1) throw new AttachError(`${wanted} matches ${byId.length} attached containers; give more of the id`);
    if (byId.length === 1) return byId[0];
    try {
      const c = await this.engine.inspect(wanted);
      return docker.find((a) => a.targetId === c.id);
    } catch {
      return undefined;
    }
  }
}
