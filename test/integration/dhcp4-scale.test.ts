import test from 'ava';
import { startUdhcpc } from '../harness/clients.ts';
import { addressesOf, sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import { mapLimit } from '../harness/map-limit.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// Two hundred clients, each in its own namespace on one bridge, must never
// share an address: not in what they were given, not in what they
// configured, not in the server's lease table.

const PREFIX = 'lt-d4s';
sweepAround(test, PREFIX);

const CLIENTS = 200;
const CONCURRENCY = 25;
const SERVER = '198.18.24.1';
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  subnets: [{
    cidr: '198.18.24.0/24',
    interface: 'eth0',
    // 241 addresses for 200 clients: enough, but not so many that clashes would go unnoticed.
    pools: [{ start: '198.18.24.10', end: '198.18.24.250' }],
    leaseTime: 600,
  }],
};

test(`${CLIENTS} clients never share an address`, async (t) => {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const server = await useServer(serverHost, CONFIG);
  const hosts = await segment.addHosts(Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}` })));

  const granted = await mapLimit(hosts, CONCURRENCY, async (host) => {
    const client = await startUdhcpc(host, { oneShot: true, discoverTries: 5 });
    const bound = await client.waitFor('bound', 30_000);
    const exit = await client.process.exited;
    if (exit.code !== 0) throw new Error(`udhcpc in ${host.netns} exited with ${JSON.stringify(exit)}`);
    return bound.ip;
  });

  t.is(new Set(granted).size, CLIENTS, 'every client was granted a different address');
  const configured = await mapLimit(hosts, CONCURRENCY, addressesOf);
  t.deepEqual(configured, granted.map((ip) => [`${ip}/24`]), 'each client configured what it was granted');
  const bound = (await server.leases()).filter((lease) => lease.state === 'bound');
  t.is(bound.length, CLIENTS);
  t.is(new Set(bound.map((lease) => lease.ip)).size, CLIENTS);
  const leaseOwner = new Map(bound.map((lease) => [lease.ip, lease.hwAddress]));
  t.deepEqual(granted.map((ip) => leaseOwner.get(ip)), hosts.map((host) => host.mac), 'the server holds each address for its client');
});
