import test from 'ava';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import { addressesOf, leaseFor, renewUntilExtended, sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import type { TestSubnet } from '../harness/servers.ts';

// A /31 point-to-point link (RFC 3021): the server holds one of its two
// addresses and a real client gets the other, whichever end that is, with
// the server against LEASEHOLD_TEST_SERVER.

const PREFIX = 'lt-d4p';
sweepAround(test, PREFIX);

const LEASE_SECONDS = 30;

function p2p(cidr: string, clientIp: string): TestSubnet {
  return { cidr, interface: 'eth0', pools: [{ start: clientIp, end: clientIp }], leaseTime: LEASE_SECONDS };
}

test('udhcpc on a /31 gets the all-ones address and renews by unicast over the link', async (t) => {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: '198.18.27.0/31' });
  const server = await useServer(serverHost, { interface: 'eth0', subnets: [p2p('198.18.27.0/31', '198.18.27.1')] });
  const host = await segment.addHost('cli');
  const client = await startUdhcpc(host);

  const bound = await client.waitFor('bound');

  t.is(bound.ip, '198.18.27.1');
  t.is(bound.subnet, '255.255.255.254');
  t.is(bound.serverid, '198.18.27.0');
  t.deepEqual(await addressesOf(host), ['198.18.27.1/31']);
  if (server.kind === 'leasehold') {
    // A /31 has no directed broadcast (RFC 3021 §2.2): option 28 is the limited one, not a host's address.
    t.is(bound.broadcast, '255.255.255.255');
  }
  const before = (await leaseFor(server, '198.18.27.1')).expiresAt;
  const renewed = await renewUntilExtended(client, server, '198.18.27.1', before);
  t.is(renewed.state, 'bound');
  t.is(renewed.hwAddress, host.mac);
});

test('dhclient on a /31 gets the all-zeros address when the server holds the other', async (t) => {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: '198.18.27.3/31' });
  const server = await useServer(serverHost, { interface: 'eth0', subnets: [p2p('198.18.27.2/31', '198.18.27.2')] });
  const host = await segment.addHost('cli');
  const client = await startDhclient(host);

  const bound = await client.waitFor('BOUND');

  t.is(bound.new_ip_address, '198.18.27.2');
  t.is(bound.new_subnet_mask, '255.255.255.254');
  t.is(bound.new_dhcp_server_identifier, '198.18.27.3');
  t.deepEqual(await addressesOf(host), ['198.18.27.2/31']);
  if (server.kind === 'leasehold') {
    // Without option 28 dhclient would derive network | ~mask, 198.18.27.3: the server's own address.
    t.is(bound.new_broadcast_address, '255.255.255.255');
  }
  const lease = await leaseFor(server, '198.18.27.2');
  t.is(lease.state, 'bound');
  t.is(lease.hwAddress, host.mac);
});
