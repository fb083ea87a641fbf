// The Docker driver's adoption (agent/app/docker-endpoints.ts) over a fake
// sandbox probe and a stand-in agent: it waits for a process of the
// container in the sandbox, takes the id from its cgroup, attaches with the
// network's settings, and a Leave during the wait stops it before any
// attach; a Leave after it releases that container. No root.
import test from 'ava';
import { createLogger } from '../../lib/core/logger.ts';
import { systemAgentClock, type AgentClock } from '../../agent/core/agent-clock.ts';
import type { AttachRequest } from '../../agent/core/requests.ts';
import type { Agent } from '../../agent/app/agent.ts';
import { DockerEndpoints, type SandboxProbe } from '../../agent/app/docker-endpoints.ts';
import type { DriverRecords } from '../../agent/plugin/docker-driver.ts';
import type { DriverEndpoint, DriverNetwork } from '../../agent/plugin/driver-protocol.ts';

const ID = 'd5f5ff69ba58236b5f53a52bf13f51018aab9f92317f5f99c645aedb302141d1';
const NETWORK: DriverNetwork = { networkId: 'aa'.repeat(32), bridge: 'br0', bridgeNetns: 'lh-w1', app: 'web', macScheme: 'stable', ipv6: 'off' };
const ENDPOINT: DriverEndpoint = { networkId: NETWORK.networkId, endpointId: 'bb'.repeat(32), sandboxKey: '/var/run/docker/netns/1234' };
const SETTINGS = {
  attach: { ifname: 'eth0', macScheme: 'random' as const, ipv6: 'slaac' as const, waitIpv6: false, timeoutMs: 1000, defaultApp: 'app' },
  dockerRoot: '/nonexistent-docker-root',
  sandboxTimeoutMs: 300,
};

function setup(owners: ({ pid: number; cgroup: string } | undefined)[], startedAfterLooks = 0, sandboxes = new Set([ENDPOINT.sandboxKey!])) {
  const attached: { req: AttachRequest; pid: number; resolvConf?: string }[] = [];
  const released: string[] = [];
  /** What happened, in order: attach, started looks, sysctls set again. */
  const events: string[] = [];
  const agent = {
    reapplyInterfaceSysctls: async (id: string) => void events.push(`reapply ${id}`),
    attachSandbox: async (req: AttachRequest, pid: number, resolvConf: string | undefined) => {
      attached.push({ req, pid, resolvConf });
      events.push('attach');
      return { NetworkSettings: { IPAddress: '198.18.1.2', HWAddr: '12:00:0b:00:00:01' } };
    },
    releaseContainer: async (id: string) => {
      released.push(id);
      return true;
    },
  } as unknown as Agent;
  const endpoints = new Map<string, DriverEndpoint>();
  const records = {
    endpoint: async (id: string) => endpoints.get(id),
    writeEndpoint: async (e: DriverEndpoint) => void endpoints.set(e.endpointId, e),
    allEndpoints: async () => [...endpoints.values()],
  } as unknown as DriverRecords;
  let looks = 0;
  let startedLooks = 0;
  const probe: SandboxProbe = {
    owner: async () => owners[Math.min(looks++, owners.length - 1)],
    mounted: async (key) => sandboxes.has(key),
    started: async () => {
      const started = startedLooks++ >= startedAfterLooks;
      events.push(started ? 'started' : 'in runc init');
      return started;
    },
  };
  const clock: AgentClock = systemAgentClock;
  const lines: string[] = [];
  const lifecycle = new DockerEndpoints(agent, records, probe, clock, SETTINGS, createLogger({ level: 'info', write: (l) => void lines.push(l) }));
  return { lifecycle, attached, released, endpoints, lines, events };
}

test('adoption waits for the container\'s process (not one outside its cgroup yet), then attaches with the network\'s settings', async (t) => {
  const { lifecycle, attached, endpoints } = setup([undefined, { pid: 41, cgroup: '0::/init.scope\n' }, { pid: 42, cgroup: `0::/docker/${ID}\n` }]);
  lifecycle.adopt(NETWORK, ENDPOINT);
  await lifecycle.settle();
  t.is(attached.length, 1);
  t.is(attached[0]!.pid, 42);
  t.is(attached[0]!.resolvConf, undefined, 'no resolv.conf where Docker keeps none');
  t.like(attached[0]!.req, { container: ID, bridge: 'br0', bridgeNetns: 'lh-w1', app: 'web', macScheme: 'stable', ipv6: 'off', ifname: 'eth0' });
  t.is(endpoints.get(ENDPOINT.endpointId)?.containerId, ID);
});

test('a Leave while the sandbox is still awaited stops the adoption: nothing attached, nothing to release', async (t) => {
  const { lifecycle, attached, released } = setup([undefined]);
  lifecycle.adopt(NETWORK, ENDPOINT);
  await lifecycle.release(ENDPOINT, 'docker leave');
  t.deepEqual(attached, []);
  t.deepEqual(released, []);
});

test('a Leave after the adoption releases that container', async (t) => {
  const { lifecycle, released } = setup([{ pid: 42, cgroup: `0::/system.slice/docker-${ID}.scope\n` }]);
  lifecycle.adopt(NETWORK, ENDPOINT);
  await lifecycle.settle();
  await lifecycle.release(ENDPOINT, 'docker leave');
  t.deepEqual(released, [ID]);
});

test('no container in the sandbox within the timeout: logged, nothing attached', async (t) => {
  const { lifecycle, attached, lines } = setup([undefined]);
  lifecycle.adopt(NETWORK, ENDPOINT);
  await lifecycle.settle();
  t.deepEqual(attached, []);
  t.true(lines.some((l) => l.includes('driver-adopt-failed') && l.includes('no container in sandbox /var/run/docker/netns/1234')), lines.join('\n'));
});

test('a SLAAC network: once the container runs its program (Docker\'s hooks done), its interface IPv6 settings are set again; without IPv6, nothing more', async (t) => {
  const owner = { pid: 42, cgroup: `0::/docker/${ID}\n` };
  const slaac = setup([owner], 2);
  slaac.lifecycle.adopt({ ...NETWORK, ipv6: 'slaac' }, ENDPOINT);
  await slaac.lifecycle.settle();
  t.deepEqual(slaac.events, ['attach', 'in runc init', 'in runc init', 'started', `reapply ${ID}`]);
  const off = setup([owner], 2);
  off.lifecycle.adopt(NETWORK, ENDPOINT);
  await off.lifecycle.settle();
  t.deepEqual(off.events, ['attach']);
});

test('joined containers: those adopted whose sandbox still exists (a start in progress), not one whose sandbox Docker removed, not one left', async (t) => {
  const sandboxes = new Set([ENDPOINT.sandboxKey!]);
  const { lifecycle, endpoints } = setup([{ pid: 42, cgroup: `0::/docker/${ID}\n` }], 0, sandboxes);
  t.deepEqual(await lifecycle.joinedContainers(), new Set(), 'nothing joined yet');
  lifecycle.adopt(NETWORK, ENDPOINT);
  await lifecycle.settle();
  t.deepEqual(await lifecycle.joinedContainers(), new Set([ID]));
  // Stopped while the driver was down: no Leave came, the record still says joined, the sandbox is gone.
  sandboxes.clear();
  t.deepEqual(await lifecycle.joinedContainers(), new Set());
  sandboxes.add(ENDPOINT.sandboxKey!);
  // A Leave (as the driver records it): no sandbox, no container.
  endpoints.set(ENDPOINT.endpointId, { networkId: ENDPOINT.networkId, endpointId: ENDPOINT.endpointId });
  t.deepEqual(await lifecycle.joinedContainers(), new Set());
});
