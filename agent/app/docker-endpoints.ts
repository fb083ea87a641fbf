import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { AgentClock } from '../core/agent-clock.ts';
import type { AutoAttachSettings } from '../core/requests.ts';
import type { DriverRecords, EndpointLifecycle } from '../plugin/docker-driver.ts';
import { containerIdFromCgroup, type DriverEndpoint, type DriverNetwork } from '../plugin/driver-protocol.ts';
import type { Agent } from './agent.ts';

/**
 * Adoption: after the driver's Join, the container is wired in exactly as
 * `agent attach` wires it — once its sandbox exists. Wait for a process in
 * the SandboxKey's netns, take the container id from its cgroup, then run
 * the attach steps (stable MAC and client-id from that id, supervised
 * udhcpc, resolv.conf from DHCP). Nothing here calls the Docker API, so an
 * engine that is still restoring its containers cannot hang it.
 */

export interface SandboxProbe {
  owner(sandboxKey: string): Promise<{ pid: number; cgroup: string } | undefined>;
  /** Whether the sandbox's netns is still mounted: Docker removes it when the container stops, Leave or not. */
  mounted(sandboxKey: string): Promise<boolean>;
  /** Whether the sandbox's process runs the container's program (Docker's hooks are done). */
  started(pid: number): Promise<boolean>;
}

export interface AdoptionSettings {
  attach: AutoAttachSettings;
  /** Docker's data root: the container's resolv.conf is <root>/containers/<id>/resolv.conf. */
  dockerRoot: string;
  /** How long a sandbox may take to appear. */
  sandboxTimeoutMs: number;
}

const POLL_MS = 50;

export class DockerEndpoints implements EndpointLifecycle {
  private readonly inFlight = new Map<string, { abort: AbortController; done: Promise<void> }>();

  constructor(
    private readonly agent: Agent,
    private readonly records: DriverRecords,
    private readonly probe: SandboxProbe,
    private readonly clock: AgentClock,
    private readonly settings: AdoptionSettings,
    private readonly log: Logger,
  ) {}

  adopt(network: DriverNetwork, endpoint: DriverEndpoint): void {
    const abort = new AbortController();
    const done = this.run(network, endpoint, abort.signal)
      .catch((err) => this.log.error('driver-adopt-failed', { endpoint: endpoint.endpointId.slice(0, 12), error: reasonOf(err) }))
      .finally(() => this.inFlight.delete(endpoint.endpointId));
    this.inFlight.set(endpoint.endpointId, { abort, done });
  }

  async release(endpoint: DriverEndpoint, reason: string): Promise<void> {
    const running = this.inFlight.get(endpoint.endpointId);
    if (running) {
      running.abort.abort();
      await running.done;
    }
    const current = (await this.records.endpoint(endpoint.endpointId)) ?? endpoint;
    if (current.containerId) await this.agent.releaseContainer(current.containerId, reason);
  }

  /**
   * Containers joined to one of our networks whose sandbox still exists:
   * they are running, or being started. Docker lists a container that is
   * started again (`docker restart`, `docker start`) as `exited` until its
   * start returns, which is after Join and so after the adoption; the
   * reconcile must not take that for a dead container (supervisor.ts). A
   * container that stopped while the driver was down (no Leave came) has
   * no sandbox any more and is not counted.
   */
  async joinedContainers(): Promise<Set<string>> {
    const joined = new Set<string>();
    for (const e of await this.records.allEndpoints()) {
      if (e.containerId && e.sandboxKey && (await this.probe.mounted(e.sandboxKey))) joined.add(e.containerId);
    }
    return joined;
  }

  /** Every adoption in flight, finished (for a clean stop). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()].map((f) => f.done));
  }

  private async run(network: DriverNetwork, endpoint: DriverEndpoint, signal: AbortSignal): Promise<void> {
    const deadline = this.clock.now() + this.settings.sandboxTimeoutMs;
    let found: { pid: number; containerId: string } | undefined;
    while (!found) {
      if (signal.aborted) return;
      const owner = await this.probe.owner(endpoint.sandboxKey!);
      // The first process may not be in the container's cgroup yet (runc moves it there): look again.
      const containerId = owner && containerIdFromCgroup(owner.cgroup);
      if (owner && containerId) found = { pid: owner.pid, containerId };
      else if (this.clock.now() > deadline) throw new Error(`no container in sandbox ${endpoint.sandboxKey} within ${Math.round(this.settings.sandboxTimeoutMs / 1000)} s`);
      else await this.clock.sleep(POLL_MS);
    }
    await this.records.writeEndpoint({ ...endpoint, containerId: found.containerId });
    if (signal.aborted) return;
    const resolvConf = join(this.settings.dockerRoot, 'containers', found.containerId, 'resolv.conf');
    const json = await this.agent.attachSandbox(
      {
        ...this.settings.attach,
        container: found.containerId,
        bridge: network.bridge,
        bridgeNetns: network.bridgeNetns,
        macScheme: network.macScheme,
        ipv6: network.ipv6,
        workerIp: network.workerIp ?? this.settings.attach.workerIp,
        app: network.app ?? this.settings.attach.app,
        mac: endpoint.mac,
      },
      found.pid,
      existsSync(resolvConf) ? resolvConf : undefined,
    );
    this.log.info('driver-adopted', { endpoint: endpoint.endpointId.slice(0, 12), container: found.containerId.slice(0, 12), ip: json.NetworkSettings.IPAddress, mac: json.NetworkSettings.HWAddr });
    if (network.ipv6 === 'slaac') await this.keepIpv6(found, deadline, signal);
  }

  /**
   * Docker configures the sandbox in its OCI hook, while runc's init waits,
   * and the adoption runs then too: for a network without Docker's own IPv6
   * (always, with the null IPAM driver) it turns IPv6 off for every
   * interface of the sandbox, ours included, sometimes after we turned it
   * on. So once the container's program runs (the hooks are done) the
   * interface's IPv6 settings are set again; turning IPv6 on starts SLAAC
   * on the link that is up by then (RFC 4862 §5.3: a Router Solicitation).
   */
  private async keepIpv6(found: { pid: number; containerId: string }, deadline: number, signal: AbortSignal): Promise<void> {
    while (!(await this.probe.started(found.pid))) {
      if (signal.aborted) return;
      if (this.clock.now() > deadline) break;
      await this.clock.sleep(POLL_MS);
    }
    if (!signal.aborted) await this.agent.reapplyInterfaceSysctls(found.containerId);
  }
}
