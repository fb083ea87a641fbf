import test from 'ava';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import { leaseFor, sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// One server on two links: it must know which link a broadcast DISCOVER
// arrived on (there is no giaddr to tell), answer from that link's subnet and
// send the reply back out of that link. Reservations by MAC and client-id.
//
//   [cli-a] ── lt-d4i segment ── eth0 [srv] eth1 ── lt-d4i-b segment ── [cli-b]

const PREFIX = 'lt-d4i';
sweepAround(test, PREFIX);

const RESERVED_MAC = '02:00:c6:12:1f:07';
const RESERVED_CLIENT_ID = '01020000c6121f08';
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  extraInterfaces: ['eth1'],
  subnets: [
    {
      cidr: '198.18.30.0/24',
      interface: 'eth0',
      pools: [{ start: '198.18.30.100', end: '198.18.30.199' }],
      leaseTime: 600,
      options: { routers: ['198.18.30.1'] },
    },
    {
      cidr: '198.18.31.0/24',
      interface: 'eth1',
      pools: [{ start: '198.18.31.100', end: '198.18.31.199' }],
      leaseTime: 600,
      options: { routers: ['198.18.31.1'] },
      reservations: [
        { hwAddress: RESERVED_MAC, ip: '198.18.31.7' },
        { clientId: RESERVED_CLIENT_ID, ip: '198.18.31.8' },
      ],
    },
  ],
};

async function twoLinks(t: Parameters<typeof useSegment>[0]) {
  const a = await useSegment(t, PREFIX);
  const b = await useSegment(t, `${PREFIX}-b`);
  const srv = await a.addHost('srv', { ipv4: '198.18.30.1/24' });
  await b.addHost('srv', { join: srv, ifname: 'eth1', ipv4: '198.18.31.1/24' });
  const server = await useServer(srv, CONFIG);
  return { a, b, server };
}

test('a broadcast is answered from the subnet of the link it arrived on', async (t) => {
  const { a, b, server } = await twoLinks(t);
  const [onA, onB] = await Promise.all([startUdhcpc(await a.addHost('cli')), startDhclient(await b.addHost('cli'))]);
  const [boundA, boundB] = await Promise.all([onA.waitFor('bound'), onB.waitFor('BOUND')]);
  t.regex(boundA.ip, /^198\.18\.30\.1\d\d$/);
  t.is(boundA.router, '198.18.30.1');
  t.is(boundA.serverid, '198.18.30.1');
  t.regex(boundB.new_ip_address, /^198\.18\.31\.1\d\d$/);
  t.is(boundB.new_routers, '198.18.31.1');
  t.is(boundB.new_dhcp_server_identifier, '198.18.31.1', 'the server identifier is our address on that link');
  t.is((await leaseFor(server, boundA.ip)).state, 'bound');
  t.is((await leaseFor(server, boundB.new_ip_address)).state, 'bound');
});

test('reservations by MAC and by client-id are honoured on their link', async (t) => {
  const { b } = await twoLinks(t);
  const byMac = await startUdhcpc(await b.addHost('cm', { mac: RESERVED_MAC }));
  const byId = await startUdhcpc(await b.addHost('ci'), { clientId: RESERVED_CLIENT_ID });
  const other = await startUdhcpc(await b.addHost('co'));
  const [m, i, o] = await Promise.all([byMac.waitFor('bound'), byId.waitFor('bound'), other.waitFor('bound')]);
  t.is(m.ip, '198.18.31.7');
  t.is(i.ip, '198.18.31.8');
  t.not(o.ip, '198.18.31.7');
  t.not(o.ip, '198.18.31.8');
});
