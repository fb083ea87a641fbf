import test, { type ExecutionContext } from 'ava';
import { startDhcpCapture } from '../harness/capture.ts';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import { leaseFor, renewUntilExtended, sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import { startRelay } from '../harness/relay.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// A relay agent (RFC 2131 §4.1, RFC 1542): the server picks the subnet from
// giaddr, not from the link the packet arrived on.
//
//   [srv 198.18.25.1] ── lt-d4y segment ── [relay .25.254 | .26.1] ── lt-d4y-b segment ── [cli]

const PREFIX = 'lt-d4y';
sweepAround(test, PREFIX);

const SERVER = '198.18.25.1';
const RELAY_UP = '198.18.25.254';
const RELAY_DOWN = '198.18.26.1';
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  subnets: [
    {
      cidr: '198.18.25.0/24',
      interface: 'eth0',
      pools: [{ start: '198.18.25.100', end: '198.18.25.110' }],
      leaseTime: 600,
      options: { routers: [RELAY_UP] },
    },
    {
      cidr: '198.18.26.0/24',
      pools: [{ start: '198.18.26.100', end: '198.18.26.199' }],
      leaseTime: 600,
      options: { routers: [RELAY_DOWN], dnsServers: ['198.18.26.53'] },
    },
  ],
};

function inRelayedSubnet(ip: string): boolean {
  return ip.startsWith('198.18.26.');
}

async function relayedLan(t: ExecutionContext, relay: { appendAgentInfo?: boolean } = {}) {
  const serverSide = await useSegment(t, PREFIX);
  const clientSide = await useSegment(t, `${PREFIX}-b`);
  const serverHost = await serverSide.addHost('srv', { ipv4: `${SERVER}/24` });
  // Replies to giaddr and to relayed clients' addresses go back through the relay.
  await serverSide.ip(serverHost.netns, 'route', 'add', '198.18.26.0/24', 'via', RELAY_UP);
  const relayUp = await serverSide.addHost('relay', { ipv4: `${RELAY_UP}/24` });
  const relayDown = await clientSide.addHost('relay', { join: relayUp, ifname: 'eth1', ipv4: `${RELAY_DOWN}/24` });
  const server = await useServer(serverHost, CONFIG);
  const capture = await startDhcpCapture(serverHost);
  await startRelay(relayDown, { serverIp: SERVER, upstreamIf: relayUp.ifname, downstreamIf: relayDown.ifname, ...relay });
  return { clientSide, server, capture };
}

test('udhcpc behind a relay gets an address of the relayed subnet and renews through it', async (t) => {
  const { clientSide, server, capture } = await relayedLan(t);
  const host = await clientSide.addHost('cli');
  const client = await startUdhcpc(host);

  const bound = await client.waitFor('bound');

  t.true(inRelayedSubnet(bound.ip), bound.ip);
  t.is(bound.router, RELAY_DOWN);
  t.is(bound.dns, '198.18.26.53');
  t.is(bound.serverid, SERVER);
  const discover = await capture.waitFor('a relayed DISCOVER', (p) => p.messageType === 1);
  t.is(discover.giaddr, RELAY_DOWN);
  t.is(discover.ipSrc, RELAY_UP);
  const lease = await leaseFor(server, bound.ip);
  t.is(lease.hwAddress, host.mac);

  // Renewals go unicast to the server, routed (not relayed) by the relay host.
  await renewUntilExtended(client, server, bound.ip, lease.expiresAt);
  const renewal = await capture.waitFor('a routed renewal', (p) => p.messageType === 3 && p.ciaddr === bound.ip);
  t.is(renewal.ipSrc, bound.ip);
  t.is(renewal.giaddr, '0.0.0.0');
});

test('dhclient behind a relay that adds option 82 gets an address of the relayed subnet; 82 is echoed', async (t) => {
  const { clientSide, server, capture } = await relayedLan(t, { appendAgentInfo: true });
  const host = await clientSide.addHost('cli');
  const client = await startDhclient(host);

  const bound = await client.waitFor('BOUND');

  t.true(inRelayedSubnet(bound.new_ip_address), bound.new_ip_address);
  t.is(bound.new_subnet_mask, '255.255.255.0');
  t.is(bound.new_routers, RELAY_DOWN);
  t.is((await leaseFor(server, bound.new_ip_address)).hwAddress, host.mac);
  // dhcrelay's circuit-id is its downstream interface name, "eth1".
  const circuit = Buffer.from('eth1').toString('hex');
  const request = await capture.waitFor('a relayed REQUEST with option 82', (p) => p.messageType === 3 && p.circuitId !== '');
  t.is(request.circuitId.replaceAll(':', ''), circuit);
  const ack = await capture.waitFor('the ACK', (p) => p.messageType === 5);
  t.is(ack.circuitId.replaceAll(':', ''), circuit, 'RFC 3046 §2.2: the server echoes option 82');
});
