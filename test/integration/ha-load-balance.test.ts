import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import { boundRows, HA_NAMES as NAMES, expectServedAtRebind, macsOwnedBy, ownerOfRow, startHaServers, stoppedCounters, waitAlone } from '../harness/ha-lab.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { createSegment, sweepStale, type Host, type Segment } from '../harness/netns.ts';
import { usePostgres, type TestDatabase } from '../harness/postgres.ts';
import { cli } from '../harness/server-cli.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';

// Two servers on one PostgreSQL, splitting the clients by RFC 3074 buckets:
// real namespaces, real udhcpc, PostgreSQL reached over TCP inside the
// segment (a relay in the database host's namespace to the cluster's Unix
// socket), so a netfilter rule in one server's namespace can cut it off.

const PREFIX = 'lt-hal';
test.before(() => sweepStale(PREFIX));
test.after.always(() => sweepStale(PREFIX));
const cluster = usePostgres(test, PREFIX);

const DB_ADDRESS = '198.18.0.4';
const SUBNET = { cidr: '198.18.0.0/22', start: '198.18.0.10', end: '198.18.2.250' };
/** Short timers so a failover is seconds (the README recommends 3600/1800/2700). */
const HA_TIMERS = { heartbeatIntervalMs: 300, fenceAfterMs: 1000, partnerDownAfterMs: 1600 };
const CLIENTS = Number(process.env.LEASEHOLD_TEST_HA_CLIENTS ?? 200);

interface Rig {
  segment: Segment;
  db: TestDatabase;
  hosts: Host[];
  servers: TrackedProcess[];
  configs: string[];
}

/** A TCP relay to the cluster's Unix socket, run by node (the test runtime) in the database host's namespace. */
const RELAY = `
const net = require('node:net');
const [socket, address] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(socket);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  c.on('close', () => u.destroy()); u.on('close', () => c.destroy());
}).listen(5432, address, () => console.log('relay-ready'));
`;

async function rig(t: ExecutionContext, name: string, subnetTimes: { leaseTime: number; renewTime?: number; rebindTime?: number }, haExtra: object = {}): Promise<Rig> {
  const segment = await createSegment(`${PREFIX}-${name}`);
  t.teardown(() => segment.destroy());
  const db = await cluster().createDatabase();
  t.teardown(() => db.drop());
  const dbHost = await segment.addHost('db', { ipv4: `${DB_ADDRESS}/22` });
  const relay = segment.spawnIn(dbHost.netns, ['node', '-e', RELAY, join(cluster().socketDir, `.s.PGSQL.${cluster().port}`), DB_ADDRESS], { label: 'pg-relay' });
  await relay.waitForOutput(/relay-ready/, 10_000);

  const local = join(segment.tmpDir, 'init.json');
  const body = (leaseStore: object, ha?: object) => ({
    interfaces: [{ name: 'eth0' }],
    subnets: [{ id: 'lan', subnet: SUBNET.cidr, interface: 'eth0', pools: [{ start: SUBNET.start, end: SUBNET.end }], ...subnetTimes, options: { routers: ['198.18.3.254'] } }],
    leaseStore,
    ...(ha && { ha }),
    log: { level: 'info' },
  });
  await writeFile(local, JSON.stringify(body({ type: 'postgresql', url: db.url(), passwordFile: db.passwordFile })));
  const init = await cli(['db', 'init', '--config', local]);
  t.is(init.code, 0, init.stderr);

  const hosts = [await segment.addHost('srv1', { ipv4: '198.18.0.1/22' }), await segment.addHost('srv2', { ipv4: '198.18.0.3/22' })];
  const configs = await Promise.all(
    NAMES.map(async (serverName) => {
      const path = join(segment.tmpDir, `${serverName}.json`);
      const store = {
        type: 'postgresql', host: DB_ADDRESS, port: 5432, database: db.name, user: db.user, passwordFile: db.passwordFile,
        shared: true, connectTimeoutMs: 1000, statementTimeoutMs: 1000, lockTimeoutMs: 500,
      };
      await writeFile(path, JSON.stringify(body(store, { serverName, ...HA_TIMERS, ...haExtra })));
      return path;
    }),
  );
  const servers = await startHaServers(segment, hosts, configs);
  return { segment, db, hosts, servers, configs };
}

test.serial(`two servers, ${CLIENTS} clients (udhcpc and ISC dhclient): distinct addresses, each granted by its bucket's owner`, async (t) => {
  // Service delay off: every answer must come from the bucket's owner.
  const { segment, db, servers } = await rig(t, 'lb', { leaseTime: 600 }, { loadBalanceMaxSecs: 0 });
  const clients = await segment.addHosts(Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}` })));
  // Every other client is dhclient: it sends no option 61, so its bucket is
  // its chaddr's, where udhcpc's is its client id's (01 + MAC). dhclient
  // runs on our own config file and hook script (clients.ts), never
  // dhclient-script, and stays running until the table is checked.
  const running: Array<{ stop(): Promise<void> }> = [];
  t.teardown(() => Promise.all(running.map((c) => c.stop())));
  const granted = await mapLimit(clients, 100, async (host, i) => {
    if (i % 2 === 1) {
      const client = await startDhclient(host);
      running.push(client);
      return (await client.waitFor('BOUND', 120_000)).new_ip_address;
    }
    const client = await startUdhcpc(host, { oneShot: true, discoverTries: 30 });
    const bound = await client.waitFor('bound', 120_000);
    await client.process.exited;
    return bound.ip;
  });
  t.is(new Set(granted).size, CLIENTS, 'every client a different address');
  const rows = await boundRows(db);
  t.is(rows.length, CLIENTS);
  const byIp = new Map(rows.map((r) => [r.ip, r]));
  t.deepEqual(granted.map((ip) => byIp.get(ip)?.hw_address), clients.map((c) => c.mac), 'the table holds each address for the client that was ACKed it');
  const wrong = rows.filter((r) => r.granted_by !== ownerOfRow(r));
  t.deepEqual(wrong, [], 'each lease granted by the owner of its client\'s bucket');
  const split = NAMES.map((n) => rows.filter((r) => r.granted_by === n).length);
  t.log(`bindings by server: ${split.join(' + ')}`);
  t.true(split.every((n) => n > 0), 'both servers answered');
  const dhclients = rows.filter((r) => r.client_id === null).length;
  t.is(dhclients, Math.floor(CLIENTS / 2), 'the dhclient half bound without a client id');
  await Promise.all(servers.map((s) => s.stop()));
  const counters = servers.map(stoppedCounters);
  t.true(counters.every((c) => (c.replies_ack ?? 0) > 0));
});

test.serial('SIGKILL of one server: its client keeps its address and is served by the survivor at REBIND', async (t) => {
  const { segment, db, servers } = await rig(t, 'kl', { leaseTime: 30, renewTime: 4, rebindTime: 8 });
  const [host] = await segment.addHosts([{ name: 'k0', mac: macsOwnedBy('ha-1', 1, 0x21)[0] }]);
  const client = await startUdhcpc(host, {});
  t.teardown(() => client.stop());
  const bound = await client.waitFor('bound', 30_000);
  const before = await db.sql<{ granted_by: string }>('SELECT granted_by FROM leases WHERE host(ip) = $1', [bound.ip]);
  t.deepEqual(before, [{ granted_by: 'ha-1' }]);

  await servers[0].kill9();
  await waitAlone(servers[1], 'ha-2', 5_000);
  // busybox udhcpc takes no T1/T2 from the server: at half the lease (15 s) a unicast
  // RENEW to the dead server, unanswered; then a broadcast REBIND, which the survivor ACKs.
  await expectServedAtRebind(t, client, bound, db, 'ha-2');
  await servers[1].stop();
});
