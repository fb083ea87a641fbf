// The Docker network driver's request handling (agent/plugin/), with the
// bodies Docker 20.10 sent a probe driver on this machine: each call's
// answer, the refusals and their text, the records kept, and that the
// adoption is started (not awaited) by Join and undone by Leave and
// DeleteEndpoint. No root, no Docker.
import test from 'ava';
import { createLogger } from '../../lib/core/logger.ts';
import type { BridgeFacts } from '../../agent/core/host-network.ts';
import { DockerDriver, type DriverRecords, type EndpointLifecycle } from '../../agent/plugin/docker-driver.ts';
import { containerIdFromCgroup, parseCreateNetwork, type DriverEndpoint, type DriverNetwork } from '../../agent/plugin/driver-protocol.ts';

const NET = 'fe8c52c32d17d4b1e17e4091c1678241f21c154a02d5888af9833dc878560dfb';
const EP = '86124fb10d550f7e1d11d7dbb9b748af37416b456184f88ba735fc3164b831ea';
const CONTAINER = 'd5f5ff69ba58236b5f53a52bf13f51018aab9f92317f5f99c645aedb302141d1';
const CREATE_NETWORK = {
  NetworkID: NET,
  Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': { 'leasehold.app': 'compose', 'leasehold.bridge': 'br0' } },
  IPv4Data: [{ AddressSpace: 'null', Pool: '0.0.0.0/0' }],
  IPv6Data: [],
};
const ENDPOINT_OPTIONS = { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] };
const CREATE_ENDPOINT = { NetworkID: NET, EndpointID: EP, Interface: { Address: '', AddressIPv6: '', MacAddress: '' }, Options: ENDPOINT_OPTIONS };
const JOIN = { NetworkID: NET, EndpointID: EP, SandboxKey: '/var/run/docker/netns/e1187ed1f2bd', Options: ENDPOINT_OPTIONS };

function setup(bridges: Record<string, BridgeFacts> = { br0: { kind: 'bridge', mtu: 1500, ipv4: '198.18.0.11' } }) {
  const networks = new Map<string, DriverNetwork>();
  const endpoints = new Map<string, DriverEndpoint>();
  const records: DriverRecords = {
    network: async (id) => networks.get(id),
    writeNetwork: async (n) => void networks.set(n.networkId, n),
    removeNetwork: async (id) => void networks.delete(id),
    endpoint: async (id) => endpoints.get(id),
    writeEndpoint: async (e) => void endpoints.set(e.endpointId, e),
    removeEndpoint: async (id) => void endpoints.delete(id),
    allEndpoints: async () => [...endpoints.values()],
  };
  const calls: string[] = [];
  const lifecycle: EndpointLifecycle = {
    adopt: (n, e) => void calls.push(`adopt ${e.endpointId.slice(0, 4)} on ${n.bridge} from ${e.sandboxKey}`),
    release: async (e, reason) => void calls.push(`release ${e.endpointId.slice(0, 4)}: ${reason}`),
  };
  const network = {
    netnsExists: async (name: string) => name === 'lh-w1',
    bridgeFacts: async (_ns: string | undefined, name: string) => bridges[name],
  };
  const driver = new DockerDriver(records, network, lifecycle, createLogger({ level: 'error', write: () => undefined }));
  return { driver, networks, endpoints, calls };
}

test('the whole life of one container: answers, records, adoption started by Join and released by Leave', async (t) => {
  const { driver, networks, endpoints, calls } = setup();
  t.deepEqual(await driver.handle('/Plugin.Activate', {}), { status: 200, body: { Implements: ['NetworkDriver'] } });
  t.deepEqual(await driver.handle('/NetworkDriver.GetCapabilities', {}), { status: 200, body: { Scope: 'local', ConnectivityScope: 'local' } });
  t.deepEqual(await driver.handle('/NetworkDriver.CreateNetwork', CREATE_NETWORK), { status: 200, body: {} });
  t.deepEqual(networks.get(NET), { networkId: NET, bridge: 'br0', bridgeNetns: undefined, app: 'compose', macScheme: 'stable', ipv6: 'slaac', workerIp: undefined });
  t.deepEqual(await driver.handle('/NetworkDriver.CreateEndpoint', CREATE_ENDPOINT), { status: 200, body: {} }, 'no Interface: Docker sets no address');
  t.deepEqual(await driver.handle('/NetworkDriver.CreateEndpoint', CREATE_ENDPOINT), { status: 200, body: {} }, 'the same endpoint again');
  t.deepEqual(await driver.handle('/NetworkDriver.Join', JOIN), { status: 200, body: { DisableGatewayService: true } }, 'no interface, no gateway, no docker_gwbridge');
  t.deepEqual(calls, [`adopt 8612 on br0 from ${JOIN.SandboxKey}`]);
  t.is(endpoints.get(EP)?.sandboxKey, JOIN.SandboxKey);
  endpoints.set(EP, { ...endpoints.get(EP)!, containerId: CONTAINER });
  t.deepEqual(await driver.handle('/NetworkDriver.EndpointOperInfo', { NetworkID: NET, EndpointID: EP }), { status: 200, body: { Value: { container: CONTAINER.slice(0, 12) } } });
  t.deepEqual((await driver.handle('/NetworkDriver.ProgramExternalConnectivity', { NetworkID: NET, EndpointID: EP })).status, 404);
  t.deepEqual(await driver.handle('/NetworkDriver.Leave', { NetworkID: NET, EndpointID: EP }), { status: 200, body: {} });
  t.deepEqual(calls.slice(1), ['release 8612: docker leave']);
  t.deepEqual(endpoints.get(EP), { networkId: NET, endpointId: EP }, 'left: no sandbox, no container');
  t.deepEqual(await driver.handle('/NetworkDriver.DeleteEndpoint', { NetworkID: NET, EndpointID: EP }), { status: 200, body: {} });
  t.false(endpoints.has(EP));
  t.deepEqual(await driver.handle('/NetworkDriver.DeleteNetwork', { NetworkID: NET }), { status: 200, body: {} });
  t.false(networks.has(NET));
});

test('unknown endpoints succeed on Leave, DeleteEndpoint, EndpointOperInfo and DeleteNetwork (dockerd cleans up an earlier run at start)', async (t) => {
  const { driver, calls } = setup();
  for (const path of ['/NetworkDriver.Leave', '/NetworkDriver.DeleteEndpoint']) t.deepEqual(await driver.handle(path, { NetworkID: NET, EndpointID: EP }), { status: 200, body: {} }, path);
  t.deepEqual(await driver.handle('/NetworkDriver.EndpointOperInfo', { NetworkID: NET, EndpointID: EP }), { status: 200, body: { Value: {} } });
  t.deepEqual(await driver.handle('/NetworkDriver.DeleteNetwork', { NetworkID: NET }), { status: 200, body: {} });
  t.deepEqual(calls, []);
});

test('everything else is 404, which Docker reads as "not implemented"', async (t) => {
  const { driver } = setup();
  for (const path of ['/NetworkDriver.AllocateNetwork', '/NetworkDriver.DiscoverNew', '/IpamDriver.RequestAddress', '/nope']) {
    t.is((await driver.handle(path, {})).status, 404, path);
  }
});

const refusals: [string, string, unknown, string][] = [
  ['default IPAM', '/NetworkDriver.CreateNetwork', { ...CREATE_NETWORK, IPv4Data: [{ AddressSpace: 'LocalDefault', Gateway: '198.18.200.1/24', Pool: '198.18.200.0/24' }] },
    'leasehold: the network needs --ipam-driver null (DHCP gives the addresses); got IPAM address space LocalDefault, pool 198.18.200.0/24'],
  ['an unknown option', '/NetworkDriver.CreateNetwork', { ...CREATE_NETWORK, Options: { 'com.docker.network.generic': { 'leasehold.bridge': 'br0', 'leasehold.brige': 'x' } } },
    'leasehold: unknown option leasehold.brige (known: leasehold.bridge, leasehold.bridge-netns, leasehold.app, leasehold.mac-scheme, leasehold.ipv6, leasehold.worker-ip)'],
  ['no bridge option', '/NetworkDriver.CreateNetwork', { ...CREATE_NETWORK, Options: {} }, 'leasehold: option leasehold.bridge is required (-o leasehold.bridge=<Linux bridge>)'],
  ['no such bridge', '/NetworkDriver.CreateNetwork', { ...CREATE_NETWORK, Options: { 'com.docker.network.generic': { 'leasehold.bridge': 'br9' } } }, 'leasehold: option leasehold.bridge: no bridge br9'],
  ['not a bridge', '/NetworkDriver.CreateNetwork', { ...CREATE_NETWORK, Options: { 'com.docker.network.generic': { 'leasehold.bridge': 'eth0' } } }, 'leasehold: option leasehold.bridge: eth0 is not a bridge (it is a veth link)'],
  ['a bridge netns that does not exist', '/NetworkDriver.CreateNetwork', { ...CREATE_NETWORK, Options: { 'com.docker.network.generic': { 'leasehold.bridge': 'br0', 'leasehold.bridge-netns': 'lh-w9' } } },
    'leasehold: option leasehold.bridge-netns: netns lh-w9 does not exist'],
  ['a bad mac scheme', '/NetworkDriver.CreateNetwork', { ...CREATE_NETWORK, Options: { 'com.docker.network.generic': { 'leasehold.bridge': 'br0', 'leasehold.mac-scheme': 'fixed' } } },
    'leasehold: option leasehold.mac-scheme: "fixed" is not one of random, stable'],
  ['an endpoint of an unknown network', '/NetworkDriver.CreateEndpoint', CREATE_ENDPOINT, 'leasehold: network fe8c52c32d17 is not known to this agent (was it created while another agent served this driver?)'],
  ['a Join without SandboxKey', '/NetworkDriver.Join', { NetworkID: NET, EndpointID: EP }, 'leasehold: Join: SandboxKey missing or not an absolute path'],
  ['a body that is no object', '/NetworkDriver.CreateNetwork', [], 'leasehold: CreateNetwork: the request body is not a JSON object'],
];
for (const [what, path, body, err] of refusals) {
  test(`refused as {"Err": …} with HTTP 200: ${what}`, async (t) => {
    const { driver, networks } = setup({ br0: { kind: 'bridge', mtu: 1500, ipv4: undefined }, eth0: { kind: 'veth', mtu: 1500, ipv4: undefined } });
    t.deepEqual(await driver.handle(path, body), { status: 200, body: { Err: err } });
    t.is(networks.size, 0, 'nothing recorded');
  });
}

test('an address Docker would give is refused; a user MAC is kept for the adoption', async (t) => {
  const { driver, endpoints } = setup();
  await driver.handle('/NetworkDriver.CreateNetwork', CREATE_NETWORK);
  const withIp = await driver.handle('/NetworkDriver.CreateEndpoint', { ...CREATE_ENDPOINT, Interface: { Address: '198.18.1.5/16' } });
  t.deepEqual(withIp.body, { Err: 'leasehold: the network gives addresses by DHCP: no --ip / --ip6 (and use --ipam-driver null)' });
  await driver.handle('/NetworkDriver.CreateEndpoint', { ...CREATE_ENDPOINT, Interface: { MacAddress: '02:00:00:00:00:07' } });
  t.is(endpoints.get(EP)?.mac, '02:00:00:00:00:07');
});

test('options: every one, and the defaults', (t) => {
  const n = parseCreateNetwork({
    ...CREATE_NETWORK,
    Options: { 'com.docker.network.generic': { 'leasehold.bridge': 'br0', 'leasehold.bridge-netns': 'lh-w1', 'leasehold.app': 'web', 'leasehold.mac-scheme': 'random', 'leasehold.ipv6': 'off', 'leasehold.worker-ip': '198.18.0.12' } },
  });
  t.deepEqual(n, { networkId: NET, bridge: 'br0', bridgeNetns: 'lh-w1', app: 'web', macScheme: 'random', ipv6: 'off', workerIp: '198.18.0.12' });
});

test('container id from /proc/<pid>/cgroup: cgroupfs, systemd scope, v1 lines; none otherwise', (t) => {
  t.is(containerIdFromCgroup(`0::/docker/${CONTAINER}\n`), CONTAINER);
  t.is(containerIdFromCgroup(`0::/system.slice/docker-${CONTAINER}.scope\n`), CONTAINER);
  t.is(containerIdFromCgroup(`12:pids:/docker/${CONTAINER}\n11:cpu:/docker/${CONTAINER}\n`), CONTAINER);
  t.is(containerIdFromCgroup('0::/user.slice/user-0.slice/session-1.scope\n'), undefined);
  t.is(containerIdFromCgroup(`0::/docker/${CONTAINER.slice(0, 12)}\n`), undefined, 'a short id is no id');
  t.is(containerIdFromCgroup(''), undefined);
});
