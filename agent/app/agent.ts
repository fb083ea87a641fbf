import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { toInspectJson, type Attachment, type InspectJson, type RecordedLease } from '../core/attachment.ts';
import { checkUserMac, generateMac, normalizeMac, type MacScheme } from '../core/mac.ts';
import {
  checkAppLabel,
  clientFqdn,
  clientIdHex,
  containerNetnsName,
  dhcpHostname,
  hostVethName,
  stateKey,
  type TargetIdentity,
} from '../core/target.ts';
import { planReconcile, type ReconcileAction, type RestartBackoff } from '../core/reconcile.ts';
import { afterSend, buildRelease, releaseRepeatDelayMs, releaseStep, type PendingRelease } from '../core/pending-release.ts';
import { sendReleases } from '../io/release-sender.ts';
import { CommandError } from '../io/exec.ts';
import { APP_LABEL, DockerEngine } from '../io/docker.ts';
import { clientAlive, startClient, stopClient } from '../io/dhcp-client.ts';
import * as iproute from '../io/iproute.ts';
import { StateStore } from '../io/state-store.ts';

export class AttachError extends LeaseholdError {
  readonly code = 'ATTACH';
}

export interface AgentSettings {
  runDir: string;
  /** App label for containers without --app or a leasehold.app label. */
  defaultApp: string;
  dockerSocket?: string;
}

export interface AttachRequest {
  /** Container name, id or id prefix; or, with `netns`, unused. */
  container?: string;
  netns?: string;
  bridge: string;
  bridgeNetns?: string;
  ifname: string;
  mac?: string;
  macScheme: MacScheme;
  workerIp?: string;
  app?: string;
  ipv6: 'slaac' | 'off';
  waitIpv6: boolean;
  timeoutMs: number;
  /** resolv.conf to keep for a netns target (containers use Docker's). */
  resolvConf?: string;
}

interface ResolvedTarget {
  identity: TargetIdentity;
  name: string;
  /** Container's init PID (docker only). */
  pid?: number;
  labels: Record<string, string>;
  resolvConfPath?: string;
}

/** How many MACs to try before giving up on a clash (each one is checked). */
const MAC_ATTEMPTS = 16;

/**
 * The agent's operations. Each attach is a list of steps, each with its
 * undo; a failure undoes what this attach made (and nothing else) and then
 * reports one clear error.
 */
export class Agent {
  readonly store: StateStore;
  private dockerEngine?: DockerEngine;
  /** Restart back-off per attachment, for the supervisor (watch). */
  private readonly backoff = new Map<string, RestartBackoff>();

  /** `docker`: a client to share (the watch daemon's, already loaded), else one made on first use. */
  constructor(
    private readonly settings: AgentSettings,
    private readonly log: Logger,
    docker?: DockerEngine,
  ) {
    this.store = new StateStore(settings.runDir);
    this.dockerEngine = docker;
  }

  get docker(): DockerEngine {
    this.dockerEngine ??= new DockerEngine(this.settings.dockerSocket);
    return this.dockerEngine;
  }

  async init(): Promise<void> {
    await this.store.init();
  }

  // ---- attach ---------------------------------------------------------------

  async attach(req: AttachRequest): Promise<InspectJson> {
    const target = await this.resolveTarget(req);
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
  private async currentState(a: Attachment, req: AttachRequest): Promise<InspectJson> {
    if (!clientAlive(a.client)) await this.restartClient(a);
    const lease = await this.waitForLease(a, req.timeoutMs);
    return await this.inspectAttachment(a, lease);
  }

  private async attachNew(target: ResolvedTarget, key: string, req: AttachRequest): Promise<InspectJson> {
    const undo: { what: string; run: () => Promise<unknown> }[] = [];
    // The target comes back under the same client-id: an old release still
    // being repeated would now take its new lease away.
    await this.store.removePendingRelease(key);
    try {
      if (req.bridgeNetns && !(await iproute.netnsExists(req.bridgeNetns))) {
        throw new AttachError(`bridge netns ${req.bridgeNetns} does not exist`);
      }
      // The container's netns gets a name (ip netns attach), so iproute2 can
      // reach it, and it outlives the container long enough for a release.
      const netns = containerNetnsName(target.identity);
      const ownsNetns = target.identity.kind === 'docker';
      const hostVeth = hostVethName(target.identity);
      // Independent steps in parallel: each is a process to start, and the
      // attach's latency is mostly their number in a row. (A netns target's
      // existence was checked by resolveTarget.)
      let naming: Promise<void> | undefined;
      if (ownsNetns) {
        // A container attached already (by another agent, or one whose state
        // was lost) has its interface, and its netns name belongs to that
        // attachment: checked through /proc before the name is touched.
        if ((await iproute.linksOfProcess(target.pid!)).includes(req.ifname)) {
          throw new AttachError(`${req.ifname} already exists in the container`);
        }
        const named = (async () => {
          await iproute.deleteNetns(netns); // a name left by a crashed agent points at a dead netns
          await iproute.attachNetns(netns, target.pid!);
        })();
        naming = named;
        undo.push({
          what: `netns ${netns}`,
          run: async () => {
            await named.catch(() => undefined);
            await iproute.deleteNetns(netns);
          },
        });
      }
      // Fails when the bridge does not exist: awaited after the bridge check, which says so.
      const macsTaken = this.macsTaken(req);
      macsTaken.catch(() => undefined);
      const [bridge, ifnameTaken] = await Promise.all([
        iproute.bridgeFacts(req.bridgeNetns, req.bridge),
        naming ? naming.then(() => false) : iproute.linkExists(netns, req.ifname),
      ]);
      if (!bridge || bridge.kind !== 'bridge') {
        throw new AttachError(
          `${bridge ? `${req.bridge} is not a bridge` : `no bridge ${req.bridge}`}${req.bridgeNetns ? ` in netns ${req.bridgeNetns}` : ''}`,
        );
      }
      const app = req.app ?? target.labels[APP_LABEL] ?? this.settings.defaultApp;
      const appProblem = checkAppLabel(app);
      if (appProblem) throw new AttachError(appProblem);
      const workerIp = req.workerIp ?? bridge.ipv4;
      if (!workerIp) {
        throw new AttachError(`bridge ${req.bridge} has no IPv4 address for the MAC scheme; give --worker-ip`);
      }
      if (ifnameTaken) throw new AttachError(`${req.ifname} already exists in netns ${netns}`);
      const mac = this.chooseMac(target.identity, req, workerIp, await macsTaken);

      try {
        await iproute.createVethPair({
          bridgeNs: req.bridgeNetns,
          bridge: req.bridge,
          host: hostVeth,
          targetNs: netns,
          ifname: req.ifname,
          mac,
          mtu: bridge.mtu,
        });
      } catch (err) {
        // The peer's name was checked above, so an existing link is the host end.
        if (err instanceof CommandError && /File exists/.test(err.stderr)) {
          throw new AttachError(`link ${hostVeth} already exists (left by another attach of ${target.name}?); run agent gc`);
        }
        throw err;
      }
      undo.push({ what: `veth ${hostVeth}`, run: () => iproute.deleteLink(req.bridgeNetns, hostVeth) });

      // SLAAC needs IPv6 on, RAs accepted and EUI-64 addresses (RFC 4862
      // §5.5; addr_gen_mode 0), set before the link comes up so the first
      // Router Solicitation goes out with them. Docker turns IPv6 off in a
      // --net none container; these are per-interface, so only ours changes.
      // The link itself is brought up by the DHCP client's hook (deconfig).
      const dev = `net.ipv6.conf.${req.ifname}`;
      await Promise.all([
        iproute.sysctlIn(
          netns,
          req.ipv6 === 'slaac'
            ? { [`${dev}.disable_ipv6`]: 0, [`${dev}.accept_ra`]: 1, [`${dev}.autoconf`]: 1, [`${dev}.addr_gen_mode`]: 0, [`${dev}.use_tempaddr`]: 0 }
            : { [`${dev}.disable_ipv6`]: 1 },
        ),
        iproute.setLinkUp(netns, 'lo'),
      ]);

      const hostname = dhcpHostname(target.identity);
      const attachment: Attachment = {
        version: 1,
        key,
        kind: target.identity.kind,
        targetId: target.identity.id,
        name: target.name,
        netns,
        ownsNetns,
        bridge: req.bridge,
        bridgeNetns: req.bridgeNetns,
        hostVeth,
        ifname: req.ifname,
        mac,
        app,
        hostname,
        fqdn: clientFqdn(target.identity, app),
        clientIdHex: clientIdHex(target.identity),
        ipv6: req.ipv6,
        resolvConfPath: target.resolvConfPath ?? req.resolvConf,
        client: { pid: 0, startTicks: 0, restarts: 0 },
        createdAt: new Date().toISOString(),
      };
      // The record goes to disk before the client starts: a crash in between
      // leaves a record gc can act on, never an untracked process.
      await this.store.write(attachment);
      undo.push({ what: 'state record', run: () => this.store.remove(key) });
      if (attachment.resolvConfPath) {
        const path = attachment.resolvConfPath;
        await this.store.backupResolvConf(key, path);
        undo.push({ what: 'resolv.conf', run: () => this.store.restoreResolvConf(key, path) });
      }
      attachment.client = startClient(attachment, { leaseFile: this.store.leasePath(key), logFile: this.store.logPath(key) });
      undo.push({ what: 'DHCP client', run: () => stopClient(attachment.client) });
      await this.store.write(attachment);

      const lease = await this.waitForLease(attachment, req.timeoutMs);
      if (req.waitIpv6 && req.ipv6 === 'slaac') await this.waitForIpv6(attachment, req.timeoutMs);
      this.log.info('attached', { container: target.name, mac, ip: lease.ip, veth: hostVeth });
      return await this.inspectAttachment(attachment, lease);
    } catch (err) {
      for (const step of undo.reverse()) {
        try {
          await step.run();
        } catch (undoErr) {
          this.log.warn('undo-failed', { step: step.what, error: reasonOf(undoErr) });
        }
      }
      if (err instanceof LeaseholdError) throw err;
      throw new AttachError(`attach ${target.name}: ${reasonOf(err)}`, { cause: err });
    }
  }

  private async resolveTarget(req: AttachRequest): Promise<ResolvedTarget> {
    if (req.netns) {
      if (!(await iproute.netnsExists(req.netns))) throw new AttachError(`netns ${req.netns} does not exist`);
      return { identity: { kind: 'netns', id: req.netns }, name: req.netns, labels: {} };
    }
    const c = await this.docker.inspect(req.container!);
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
    const [inUse, { attachments }] = await Promise.all([iproute.macsInUse(req.bridgeNetns, req.bridge), this.store.list()]);
    for (const a of attachments) inUse.add(a.mac);
    return inUse;
  }

  /** --mac, or the scheme's MAC, checked against what is taken. */
  private chooseMac(target: TargetIdentity, req: AttachRequest, workerIp: string, inUse: Set<string>): string {
    if (req.mac) {
      const problem = checkUserMac(req.mac);
      if (problem) throw new AttachError(`--mac: ${problem}`);
      const mac = normalizeMac(req.mac);
      if (inUse.has(mac)) throw new AttachError(`--mac ${mac} is already in use on ${req.bridge}`);
      return mac;
    }
    for (let attempt = 0; attempt < MAC_ATTEMPTS; attempt++) {
      const mac = generateMac({ workerIpv4: workerIp, scheme: req.macScheme, targetId: target.id, attempt, randomBytes: randomBytes(3) });
      if (!inUse.has(mac)) return mac;
    }
    throw new AttachError(`no free MAC after ${MAC_ATTEMPTS} tries on ${req.bridge}`);
  }

  private async waitForLease(a: Attachment, timeoutMs: number): Promise<RecordedLease> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lease = await this.store.readLease(a.key);
      if (lease) return lease;
      if (!clientAlive(a.client)) {
        throw new AttachError(`the DHCP client of ${a.name} exited: ${await this.clientLogTail(a)}`);
      }
      if (Date.now() > deadline) {
        throw new AttachError(`no DHCP lease for ${a.name} within ${Math.round(timeoutMs / 1000)} s (is a DHCP server on ${a.bridge}?)`);
      }
      await sleep(5);
    }
  }

  private async waitForIpv6(a: Attachment, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v6 = await iproute.globalIpv6(a.netns, a.ifname);
      if (v6 && !v6.tentative) return;
      if (Date.now() > deadline) throw new AttachError(`no SLAAC address for ${a.name} within ${Math.round(timeoutMs / 1000)} s (router advertisements on ${a.bridge}?)`);
      await sleep(50);
    }
  }

  private async clientLogTail(a: Attachment): Promise<string> {
    const text = await readFile(this.store.logPath(a.key), 'utf8').catch(() => '');
    return text.trim().split('\n').slice(-1)[0] || 'no output';
  }

  // ---- detach / release -----------------------------------------------------

  async detach(ref: { container?: string; netns?: string }): Promise<InspectJson> {
    const a = await this.findAttachment(ref);
    if (!a) throw new AttachError(`not attached: ${ref.netns ?? ref.container}`);
    const unlock = await this.store.lock(a.key);
    try {
      const current = await this.store.read(a.key);
      if (!current) throw new AttachError(`not attached: ${ref.netns ?? ref.container}`);
      const before = await this.inspectAttachment(current);
      await this.release(current, 'detach');
      return before;
    } finally {
      await unlock();
    }
  }

  /**
   * Undo an attachment: SIGTERM the client first (udhcpc -R sends
   * DHCPRELEASE while the veth still carries it), then remove the link, the
   * netns name and the record. Idempotent: each part checks before acting.
   */
  private async release(a: Attachment, reason: string): Promise<void> {
    const lease = await this.store.readLease(a.key);
    const how = await stopClient(a.client);
    if (lease?.serverId) {
      // Keep repeating the release until the lease would end anyway: the
      // client's own was lost if the server was down (pending-release.ts).
      const now = Date.now();
      const sent = how === 'released' ? 1 : 0;
      await this.store.writePendingRelease({
        version: 1, key: a.key, name: a.name, mac: a.mac, clientIdHex: a.clientIdHex, ip: lease.ip,
        serverId: lease.serverId, bridgeNetns: a.bridgeNetns, expiresAtMs: (lease.boundAt + lease.leaseSeconds) * 1000,
        attempts: sent, nextAtMs: sent ? now + releaseRepeatDelayMs(sent) : now,
      });
    }
    await iproute.deleteLink(a.bridgeNetns, a.hostVeth);
    // The worker's neighbour entries for this MAC point at nothing now, and
    // chooseMac would read them as a clash: a stable MAC would not come back.
    await iproute.forgetNeighbours(a.bridgeNetns, a.mac);
    if (a.ownsNetns) await iproute.deleteNetns(a.netns);
    if (a.resolvConfPath) await this.store.restoreResolvConf(a.key, a.resolvConfPath);
    await this.store.remove(a.key);
    this.backoff.delete(a.key);
    this.log.info('released', { container: a.name, reason, client: how });
  }

  private async restartClient(a: Attachment): Promise<void> {
    const lease = await this.store.readLease(a.key);
    a.client = {
      ...startClient(a, { leaseFile: this.store.leasePath(a.key), logFile: this.store.logPath(a.key), requestIp: lease?.ip }),
      restarts: a.client.restarts + 1,
    };
    await this.store.write(a);
    this.log.warn('client-restarted', { container: a.name, pid: a.client.pid, restarts: a.client.restarts, ip: lease?.ip });
  }

  // ---- inspect --------------------------------------------------------------

  async inspect(ref: { container?: string; netns?: string }): Promise<InspectJson> {
    const a = await this.findAttachment(ref);
    if (!a) throw new AttachError(`not attached: ${ref.netns ?? ref.container}`);
    return await this.inspectAttachment(a);
  }

  async inspectAll(): Promise<InspectJson[]> {
    const { attachments } = await this.store.list();
    return await Promise.all(attachments.map((a) => this.inspectAttachment(a)));
  }

  private async inspectAttachment(a: Attachment, lease?: RecordedLease): Promise<InspectJson> {
    lease ??= await this.store.readLease(a.key);
    const v6 =
      a.ipv6 === 'slaac' && (await iproute.netnsExists(a.netns))
        ? await iproute.globalIpv6(a.netns, a.ifname).catch(() => undefined)
        : undefined;
    return toInspectJson(a, { lease, globalIpv6: v6 && !v6.tentative ? v6 : undefined, clientAlive: clientAlive(a.client) });
  }

  /** By netns name, container name, or id prefix — from our records first, so a destroyed container can still be detached. */
  private async findAttachment(ref: { container?: string; netns?: string }): Promise<Attachment | undefined> {
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
      const c = await this.docker.inspect(wanted);
      return docker.find((a) => a.targetId === c.id);
    } catch {
      return undefined;
    }
  }

  // ---- garbage collection / supervision ------------------------------------

  /**
   * One reconcile pass (the seed's dhcp-garbagecollection): release what has
   * no container, restart clients that died (with back-off), and attach
   * labelled containers that have no attachment when `autoAttach` is given.
   */
  async reconcile(
    opts: { autoAttach?: Omit<AttachRequest, 'container' | 'bridge'>; worker?: string } = {},
  ): Promise<ReconcileAction[]> {
    const { attachments, broken } = await this.store.list();
    for (const b of broken) this.log.error('broken-state-record', b);
    let running: Set<string> | undefined;
    let labelled: { id: string; bridge: string }[] = [];
    const needDocker = attachments.some((a) => a.kind === 'docker') || opts.autoAttach;
    if (needDocker) {
      try {
        running = await this.docker.runningIds();
        if (opts.autoAttach) labelled = await this.docker.labelled(opts.worker);
      } catch (err) {
        // Without Docker we cannot tell a dead container from a live one:
        // leave container attachments alone rather than release live ones.
        this.log.warn('docker-unreachable', { error: reasonOf(err) });
      }
    }
    // One `ip link` per bridge namespace, not one per attachment: with 200
    // attachments that is the difference between ~1.4 s of CPU per pass
    // (spawning ip 200 times) and a few milliseconds.
    const linksByNs = new Map<string, Promise<Set<string>>>();
    const linksIn = (ns: string | undefined) => {
      const key = ns ?? '';
      // A bridge netns that is gone has no links: its attachments are released.
      if (!linksByNs.has(key)) linksByNs.set(key, iproute.linkNames(ns).catch(() => new Set<string>()));
      return linksByNs.get(key)!;
    };
    const observed = await Promise.all(
      attachments.map(async (a) => ({
        attachment: a,
        targetAlive:
          a.kind === 'docker'
            ? running === undefined || (running.has(a.targetId) && (await iproute.netnsExists(a.netns)))
            : await iproute.netnsExists(a.netns),
        clientAlive: clientAlive(a.client),
        vethPresent: (await linksIn(a.bridgeNetns)).has(a.hostVeth),
      })),
    );
    for (const o of observed) {
      // A client that has stayed up for a minute since its last restart is healthy again.
      const b = this.backoff.get(o.attachment.key);
      if (b && o.clientAlive && Date.now() - b.lastAttemptMs > 60_000) this.backoff.delete(o.attachment.key);
    }
    const actions = planReconcile({ observed, labelled, backoff: this.backoff, nowMs: Date.now() });
    for (const action of actions) {
      try {
        await this.apply(action, attachments, opts.autoAttach);
      } catch (err) {
        this.log.error('reconcile-failed', { action: action.kind, error: reasonOf(err) });
      }
    }
    await this.repeatReleases();
    return actions;
  }

  /** One pass over the releases still being repeated (pending-release.ts): one sender per bridge netns. */
  private async repeatReleases(): Promise<void> {
    const due = new Map<string, PendingRelease[]>();
    for (const p of await this.store.listPendingReleases()) {
      const step = releaseStep(p, Date.now(), (await this.store.read(p.key)) !== undefined);
      if (step.kind === 'drop') await this.store.removePendingRelease(p.key);
      if (step.kind !== 'send') continue;
      const ns = p.bridgeNetns ?? '';
      due.set(ns, [...(due.get(ns) ?? []), p]);
    }
    for (const [ns, candidates] of due) {
      // Every key stays locked from the check to the send: an attach of the
      // same target in between would get a lease under the same client-id,
      // and this release would take it away.
      const unlocks = await Promise.all(candidates.map((p) => this.store.lock(p.key)));
      try {
        const releases: PendingRelease[] = [];
        for (const p of candidates) {
          if ((await this.store.read(p.key)) === undefined) releases.push(p);
          else await this.store.removePendingRelease(p.key);
        }
        try {
          await sendReleases(ns || undefined, releases.map((p) => ({ serverId: p.serverId, packet: buildRelease(p, randomBytes(4).readUInt32BE(0)) })));
          if (releases.length) this.log.info('releases-repeated', { bridgeNetns: ns || undefined, containers: releases.map((p) => p.name) });
        } catch (err) {
          this.log.warn('release-repeat-failed', { bridgeNetns: ns || undefined, error: reasonOf(err) });
        }
        for (const p of releases) await this.store.writePendingRelease(afterSend(p, Date.now()));
      } finally {
        for (const unlock of unlocks) await unlock();
      }
    }
  }

  private async apply(
    action: ReconcileAction,
    attachments: Attachment[],
    autoAttach: Omit<AttachRequest, 'container' | 'bridge'> | undefined,
  ): Promise<void> {
    if (action.kind === 'wait') return;
    if (action.kind === 'attach') {
      if (autoAttach) await this.attach({ ...autoAttach, container: action.containerId, bridge: action.bridge });
      return;
    }
    const a = attachments.find((x) => x.key === action.key)!;
    const unlock = await this.store.lock(a.key);
    try {
      const current = await this.store.read(a.key);
      if (!current) return; // released meanwhile
      if (action.kind === 'release') {
        await this.release(current, action.reason);
      } else if (!clientAlive(current.client)) {
        const b = this.backoff.get(a.key);
        this.backoff.set(a.key, { failures: (b?.failures ?? -1) + 1, lastAttemptMs: Date.now() });
        await this.restartClient(current);
      }
    } finally {
      await unlock();
    }
  }

  /** Release one container's attachment (a Docker die/destroy event). */
  async releaseContainer(containerId: string, reason: string): Promise<boolean> {
    const key = stateKey({ kind: 'docker', id: containerId });
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
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
