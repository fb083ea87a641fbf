import test, { type ExecutionContext } from 'ava';
import { BROADCAST_MAC, startDhcpCapture } from '../harness/capture.ts';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import { leaseFor, renewUntilExtended, sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import type { Host } from '../harness/netns.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// REBINDING (RFC 2131 §4.4.5): when unicast renewals get no answer, the
// client broadcasts its REQUEST after T2 and any server may extend the lease.

const PREFIX = 'lt-d4b';
sweepAround(test, PREFIX);

const SERVER = '198.18.21.1';
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  subnets: [{
    cidr: '198.18.21.0/24',
    interface: 'eth0',
    pools: [{ start: '198.18.21.100', end: '198.18.21.199' }],
    leaseTime: 16,
    renewTime: 3,
    rebindTime: 6,
    options: { routers: ['198.18.21.254'] },
  }],
};

async function lanWithServer(t: ExecutionContext) {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const server = await useServer(serverHost, CONFIG);
  const capture = await startDhcpCapture(serverHost);
  return { segment, server, capture };
}

/**
 * Drops the client's unicast DHCP traffic to the server with a netfilter
 * rule inside the client's own namespace. Both clients broadcast on packet
 * sockets, which netfilter never sees, so rebinding still gets through. (A
 * blackhole route is not enough: udhcpc binds its renew socket to the
 * device, and the kernel then treats an unroutable destination as on-link.)
 */
async function blockUnicastToServer(host: Host): Promise<void> {
  await host.segment.exec(host.netns, ['nft',
    `add table ip harness; add chain ip harness output { type filter hook output priority 0 ; }; add rule ip harness output ip daddr ${SERVER} udp dport 67 drop`]);
}

test('udhcpc rebinds by broadcast when unicast renewals go unanswered', async (t) => {
  const { segment, server, capture } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const client = await startUdhcpc(host);
  const { ip } = await client.waitFor('bound');
  const before = (await leaseFor(server, ip)).expiresAt;
  await blockUnicastToServer(host);

  // SIGUSR1 takes the same path as the half-lease timer (busybox ignores T1
  // and T2): a unicast renewal, and when that cannot be sent, REBINDING.
  const lease = await renewUntilExtended(client, server, ip, before);

  t.is(lease.state, 'bound');
  const rebind = await capture.waitFor('a broadcast REBINDING request', (p) => p.messageType === 3 && p.ciaddr === ip);
  t.is(rebind.ethDst, BROADCAST_MAC);
  t.is(rebind.serverId, '');
  t.is(rebind.requestedIp, '');
  t.false(capture.packets().some((p) => p.messageType === 3 && p.ipDst === SERVER), 'no unicast REQUEST reached the server');
});

test('dhclient rebinds at T2 when unicast renewals go unanswered', async (t) => {
  const { segment, server, capture } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const client = await startDhclient(host);
  const bound = await client.waitFor('BOUND');
  const ip = bound.new_ip_address;
  const before = (await leaseFor(server, ip)).expiresAt;
  await blockUnicastToServer(host);

  // dhclient 4.4 broadcasts once T2 has passed but stays in its RENEWING
  // state, so the hook may say RENEW: the capture shows what happened.
  const rebound = await client.waitFor(['RENEW', 'REBIND'], 20_000);

  t.is(rebound.new_ip_address, ip);
  t.true((await leaseFor(server, ip)).expiresAt > before);
  const rebind = await capture.waitFor('a broadcast REBINDING request', (p) => p.messageType === 3 && p.ciaddr === ip);
  t.is(rebind.ethDst, BROADCAST_MAC);
  t.is(rebind.serverId, '');
  t.is(rebind.requestedIp, '');
});
