import test, { type ExecutionContext } from 'ava';
import { BROADCAST_MAC, startDhcpCapture } from '../harness/capture.ts';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import { addressesOf, leaseFor, renewUntilExtended, sweepAround, useSegment, useServer, waitForLease } from '../harness/fixture.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// Lease, options, renewal and release with two real clients (busybox udhcpc,
// ISC dhclient) against the server selected by LEASEHOLD_TEST_SERVER.

const PREFIX = 'lt-d4l';
sweepAround(test, PREFIX);

const SERVER = '198.18.20.1';
const LEASE_SECONDS = 20;
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  subnets: [{
    cidr: '198.18.20.0/24',
    interface: 'eth0',
    pools: [{ start: '198.18.20.100', end: '198.18.20.199' }],
    leaseTime: LEASE_SECONDS,
    renewTime: 4,
    rebindTime: 8,
    options: {
      routers: ['198.18.20.254'],
      dnsServers: ['198.18.20.53', '198.18.20.54'],
      domainName: 'lab.leasehold.test',
      domainSearch: ['lab.leasehold.test', 'leasehold.test'],
      mtu: 1400,
    },
  }],
};

function inPool(ip: string): boolean {
  const last = Number(ip.split('.')[3]);
  return ip.startsWith('198.18.20.') && last >= 100 && last <= 199;
}

async function lanWithServer(t: ExecutionContext) {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const server = await useServer(serverHost, CONFIG);
  return { segment, serverHost, server };
}

test('udhcpc gets a lease carrying the configured options', async (t) => {
  const { segment, server } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const clientId = `01${host.mac.replaceAll(':', '')}`;
  const client = await startUdhcpc(host, { hostname: 'web-1', clientId });
  const startedAt = Date.now();

  const bound = await client.waitFor('bound');

  t.true(inPool(bound.ip), `${bound.ip} is in the pool`);
  t.is(bound.subnet, '255.255.255.0');
  t.is(bound.router, '198.18.20.254');
  t.is(bound.dns, '198.18.20.53 198.18.20.54');
  t.is(bound.domain, 'lab.leasehold.test');
  t.is(bound.search, 'lab.leasehold.test leasehold.test');
  t.is(bound.mtu, '1400');
  t.is(bound.lease, String(LEASE_SECONDS));
  t.is(bound.serverid, SERVER);
  t.deepEqual(await addressesOf(host), [`${bound.ip}/24`]);

  const lease = await leaseFor(server, bound.ip);
  t.is(lease.state, 'bound');
  t.is(lease.hwAddress, host.mac);
  t.is(lease.clientId, clientId);
  t.is(lease.hostname, 'web-1');
  const expectedExpiry = startedAt + LEASE_SECONDS * 1000;
  t.true(Math.abs(lease.expiresAt - expectedExpiry) < 3000, `expiresAt ${new Date(lease.expiresAt).toISOString()}`);
});

test('dhclient gets a lease carrying the configured options', async (t) => {
  const { segment, server } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const client = await startDhclient(host, { hostname: 'db-1' });

  const bound = await client.waitFor('BOUND');

  t.true(inPool(bound.new_ip_address), `${bound.new_ip_address} is in the pool`);
  t.is(bound.new_subnet_mask, '255.255.255.0');
  t.is(bound.new_routers, '198.18.20.254');
  t.is(bound.new_domain_name_servers, '198.18.20.53 198.18.20.54');
  t.is(bound.new_domain_name, 'lab.leasehold.test');
  // dhclient prints search domains fully qualified.
  t.is(bound.new_domain_search, 'lab.leasehold.test. leasehold.test.');
  t.is(bound.new_interface_mtu, '1400');
  t.is(bound.new_dhcp_lease_time, String(LEASE_SECONDS));
  t.is(bound.new_dhcp_renewal_time, '4');
  t.is(bound.new_dhcp_rebinding_time, '8');
  t.is(bound.new_dhcp_server_identifier, SERVER);
  t.deepEqual(await addressesOf(host), [`${bound.new_ip_address}/24`]);

  const lease = await leaseFor(server, bound.new_ip_address);
  t.is(lease.state, 'bound');
  t.is(lease.hwAddress, host.mac);
  t.is(lease.clientId, undefined);
  t.is(lease.hostname, 'db-1');
});

test('udhcpc renews by unicast and the server extends the lease', async (t) => {
  const { segment, serverHost, server } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const capture = await startDhcpCapture(serverHost);
  const client = await startUdhcpc(host);
  const { ip } = await client.waitFor('bound');
  const before = (await leaseFor(server, ip)).expiresAt;

  const extended = await renewUntilExtended(client, server, ip, before);

  t.is(extended.state, 'bound');
  // RFC 2131 §4.3.2 RENEWING: ciaddr set, no server id / requested IP, sent unicast.
  const request = await capture.waitFor('a unicast renewal REQUEST', (p) => p.messageType === 3 && p.ciaddr === ip);
  t.is(request.ipSrc, ip);
  t.is(request.ipDst, SERVER);
  t.not(request.ethDst, BROADCAST_MAC);
  t.is(request.requestedIp, '');
  const ack = await capture.waitFor('the ACK to the renewal', (p) => p.messageType === 5 && p.ciaddr === ip);
  t.is(ack.ipDst, ip);
  t.not(ack.ethDst, BROADCAST_MAC);
});

test('dhclient renews at T1 by unicast and the server extends the lease', async (t) => {
  const { segment, serverHost, server } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const capture = await startDhcpCapture(serverHost);
  const client = await startDhclient(host);
  const bound = await client.waitFor('BOUND');
  const ip = bound.new_ip_address;
  const before = (await leaseFor(server, ip)).expiresAt;

  // T1 is 4 s; dhclient renews between 0.75 and 1 × T1.
  const renewed = await client.waitFor('RENEW', 10_000);

  t.is(renewed.new_ip_address, ip);
  t.true(Number(renewed.new_expiry) > Number(bound.new_expiry));
  t.true((await leaseFor(server, ip)).expiresAt > before);
  const request = await capture.waitFor('a unicast renewal REQUEST', (p) => p.messageType === 3 && p.ciaddr === ip);
  t.is(request.ipDst, SERVER);
  t.not(request.ethDst, BROADCAST_MAC);
});

test('udhcpc release ends the lease on the server', async (t) => {
  const { segment, server } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const client = await startUdhcpc(host);
  const { ip } = await client.waitFor('bound');

  client.release();

  await client.waitFor('deconfig');
  await waitForLease(server, ip, 'no longer bound', (lease) => lease?.state !== 'bound');
  t.deepEqual(await addressesOf(host), []);
});

test('dhclient -r ends the lease on the server', async (t) => {
  const { segment, server } = await lanWithServer(t);
  const host = await segment.addHost('cli');
  const client = await startDhclient(host);
  const ip = (await client.waitFor('BOUND')).new_ip_address;

  await client.release();

  await client.waitFor('RELEASE');
  await waitForLease(server, ip, 'no longer bound', (lease) => lease?.state !== 'bound');
  t.deepEqual(await addressesOf(host), []);
});
