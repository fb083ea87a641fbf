import { readFile } from 'node:fs/promises';
import test, { type ExecutionContext } from 'ava';
import { BROADCAST_MAC, startDhcpCapture } from '../harness/capture.ts';
import { dhclientLeaseFile, startDhclient, startUdhcpc } from '../harness/clients.ts';
import { leaseFor, sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// Server restarts and INIT-REBOOT (RFC 2131 §3.2, §4.3.2): a client that
// remembers its address keeps it across a server restart, even a crash, and
// a client that remembers an address from another network is told so (NAK).

const PREFIX = 'lt-d4r';
sweepAround(test, PREFIX);

const SERVER = '198.18.22.1';
const ELSEWHERE = { ip: '198.18.99.50', serverId: '198.18.99.1' };
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  subnets: [{
    cidr: '198.18.22.0/24',
    interface: 'eth0',
    pools: [{ start: '198.18.22.100', end: '198.18.22.199' }],
    // Long enough that nothing expires during a test.
    leaseTime: 600,
    options: { routers: ['198.18.22.254'] },
  }],
};

function inSubnet(ip: string): boolean {
  return ip.startsWith('198.18.22.');
}

async function lanWithServer(t: ExecutionContext) {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const server = await useServer(serverHost, CONFIG);
  return { segment, serverHost, server };
}

test('dhclient keeps its address through INIT-REBOOT after the server restarts', async (t) => {
  const { segment, serverHost, server } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const first = await startDhclient(host);
  const ip = (await first.waitFor('BOUND')).new_ip_address;
  await first.stop();
  t.is((await leaseFor(server, ip)).state, 'bound', 'stopping dhclient does not release');

  await server.restart();
  const capture = await startDhcpCapture(serverHost);
  const second = await startDhclient(host, { leaseFile: await readFile(first.leaseFile, 'utf8') });

  const rebooted = await second.waitFor(['REBOOT', 'BOUND']);
  t.is(rebooted.event, 'REBOOT');
  t.is(rebooted.new_ip_address, ip);
  // INIT-REBOOT: broadcast, ciaddr zero, the address in option 50, no server id.
  const request = await capture.waitFor('an INIT-REBOOT request', (p) => p.messageType === 3 && p.requestedIp === ip);
  t.is(request.ethDst, BROADCAST_MAC);
  t.is(request.ciaddr, '0.0.0.0');
  t.is(request.serverId, '');
  t.false(capture.packets().some((p) => p.messageType === 1), 'no DISCOVER was needed');
});

test('after a server crash a client gets its address back and no other client can take it', async (t) => {
  const { segment, server } = await lanWithServer(t);
  const owner = await segment.addHost('owner');
  const intruder = await segment.addHost('other');
  const first = await startUdhcpc(owner);
  const { ip } = await first.waitFor('bound');
  await first.stop();

  await server.kill9();
  await server.restart();

  const other = await startUdhcpc(intruder, { requestedIp: ip });
  const otherLease = await other.waitFor('bound');
  t.not(otherLease.ip, ip, 'the server remembered the lease through the crash');
  t.true(inSubnet(otherLease.ip));
  const again = await startUdhcpc(owner, { requestedIp: ip });
  t.is((await again.waitFor('bound')).ip, ip);
});

test('dhclient holding a lease from another network gets DHCPNAK, then a lease here', async (t) => {
  const { segment, serverHost } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const capture = await startDhcpCapture(serverHost);
  const stale = dhclientLeaseFile({
    ifname: host.ifname,
    ip: ELSEWHERE.ip,
    mask: '255.255.255.0',
    serverId: ELSEWHERE.serverId,
    expiresAt: new Date(Date.now() + 3_600_000),
  });
  const client = await startDhclient(host, { leaseFile: stale });

  const bound = await client.waitFor('BOUND', 20_000);

  t.true(inSubnet(bound.new_ip_address), bound.new_ip_address);
  const request = await capture.waitFor('the INIT-REBOOT request', (p) => p.messageType === 3 && p.requestedIp === ELSEWHERE.ip);
  t.is(request.ciaddr, '0.0.0.0');
  const nak = await capture.waitFor('a DHCPNAK', (p) => p.messageType === 6);
  t.is(nak.yiaddr, '0.0.0.0');
  t.regex(client.process.output, new RegExp(`DHCPNAK from ${SERVER.replaceAll('.', '\\.')}`));
});

test('udhcpc asking for an address of another network is offered one of this network', async (t) => {
  const { segment, serverHost } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const capture = await startDhcpCapture(serverHost);
  const client = await startUdhcpc(host, { requestedIp: ELSEWHERE.ip });

  const bound = await client.waitFor('bound');

  t.true(inSubnet(bound.ip), bound.ip);
  const discover = await capture.waitFor('the DISCOVER', (p) => p.messageType === 1);
  t.is(discover.requestedIp, ELSEWHERE.ip);
});
