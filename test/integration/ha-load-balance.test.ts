import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { loadBalanceHash } from '../../lib/dhcp4/load-balance-hash.ts';
import { sendCommand } from '../../server/cli/control-client.ts';
import { assignBuckets } from '../../server/cluster/membership.ts';
import { startUdhcpc } from '../harness/clients.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { pollUntil } from '../harness/poll.ts';
import { createSegment, sweepStale, type Host, type Segment } from '../harness/netns.ts';
import { usePostgres, type TestDatabase } from '../harness/postgres.ts';
import { REPO_ROOT } from '../harness/run-command.ts';
import { CLI, cli } from '../harness/server-cli.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';

// Two servers on one PostgreSQL, splitting the clients by RFC 3074 buckets:
// real namespaces, real udhcpc, PostgreSQL reached over TCP inside the
// segment (a relay in the database host's namespace to the cluster's Unix
// socket), so a netfilter rule in one server's namespace can cut it off.

const PREFIX = 'lt-hal';
test.before(() => sweepStale(PREFIX));
test.after.always(() => sweepStale(PREFIX));
const cluster = usePostgres(test, PREFIX);

const NAMES = ['ha-1', 'ha-2'] as const;
const DB_ADDRESS = '198.18.0.4';
const SUBNET = { cidr: '198.18.0.0/22', start: '198.18.0.10', end: '198.18.2.250' };
/** Short timers so a failover is seconds (the README recommends 3600/1800/2700). */
const HA_TIMERS = { heartbeatIntervalMs: 300, fenceAfterMs: 1000, partnerDownAfterMs: 1600 };
const CLIENTS = Number(process.env.LEASEHOLD_TEST_HA_CLIENTS ?? 200);

const OWNERS = assignBuckets([...NAMES]);
/** The server that owns a client's bucket when both are live (udhcpc sends option 61 = 01 + MAC). */
function ownerOfMac(mac: string): string {
  const key = Buffer.from(`01${mac.replaceAll(':', '')}`, 'hex');
  return NAMES[OWNERS[loadBalanceHash(key)]];
}
function ownerOfRow(row: { client_id: string | null; hw_address: string }): string {
  const key = Buffer.from(row.client_id ?? row.hw_address.replaceAll(':', ''), 'hex');
  return NAMES[OWNERS[loadBalanceHash(key)]];
}

/** Locally administered MACs whose bucket is `owner`'s. */
function macsOwnedBy(owner: string, count: number, tag: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const mac = `02:4c:${tag.toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}:01`;
    if (ownerOfMac(mac) === owner) out.push(mac);
  }
  return out;
}

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
      await writeFile(path, JSON.stringify({ ...body(store, { serverName, ...HA_TIMERS, ...haExtra }), control: { socket: controlSocket(segment, serverName) } }));
      return path;
    }),
  );
  const servers = hosts.map((h, i) => segment.spawnIn(h.netns, ['node', ...CLI, '--config', configs[i]], { cwd: REPO_ROOT, label: `leasehold@${NAMES[i]}` }));
  await Promise.all(servers.map((s) => s.waitForOutput(/"event":"ready"/, 30_000)));
  // Both see each other (each logs the live set when it changes).
  await Promise.all(servers.map((s) => s.waitForOutput(/"event":"ha-membership".*"live":\["ha-1","ha-2"\]/, 10_000)));
  return { segment, db, hosts, servers, configs };
}

/** Where a server's control API listens (a database store has no lease file to put it beside). */
const controlSocket = (segment: Segment, serverName: string) => join(segment.tmpDir, `${serverName}.sock`);

/** status-get's usage figures and lease count, and statistic-get-all's assigned-addresses, from one server. */
async function usageOf(segment: Segment, serverName: string): Promise<{ assigned: unknown; leases: unknown; statistic: unknown }> {
  const socket = controlSocket(segment, serverName);
  const status = (await sendCommand(socket, 'status-get'))?.arguments as { subnets: Array<Record<string, unknown>>; leases: number } | undefined;
  const stats = (await sendCommand(socket, 'statistic-get-all'))?.arguments as Record<string, Array<[number, string]>> | undefined;
  return { assigned: status?.subnets[0]?.['assigned-addresses'], leases: status?.leases, statistic: stats?.['subnet[lan].assigned-addresses']?.[0]?.[0] };
}

function stoppedCounters(server: TrackedProcess): Record<string, number> {
  const line = server.output.split('\n').find((l) => l.includes('"event":"stopped"'));
  return (JSON.parse(line ?? '{}') as { counters?: Record<string, number> }).counters ?? {};
}

type LeaseRow = { ip: string; hw_address: string; client_id: string | null; granted_by: string };
const boundRows = (db: TestDatabase) =>
  db.sql<LeaseRow>("SELECT host(ip) AS ip, hw_address, client_id, granted_by FROM leases WHERE state = 'bound' ORDER BY ip");

test.serial(`two servers, ${CLIENTS} udhcpc clients: distinct addresses, each granted by its bucket's owner`, async (t) => {
  // Service delay off: every answer must come from the bucket's owner.
  const { segment, db, servers } = await rig(t, 'lb', { leaseTime: 600 }, { loadBalanceMaxSecs: 0 });
  const clients = await segment.addHosts(Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}` })));
  const granted = await mapLimit(clients, 100, async (host) => {
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
  // Each server's figures are the table's, not its own share of it (counted in the database every few seconds).
  const want = { assigned: CLIENTS, leases: CLIENTS, statistic: CLIENTS };
  for (const name of NAMES) {
    await pollUntil(`${name}'s usage figures to count every server's leases`, async () => JSON.stringify(await usageOf(segment, name)) === JSON.stringify(want), {
      timeoutMs: 15_000,
      describe: async () => JSON.stringify(await usageOf(segment, name)),
    });
  }
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
  await servers[1].waitForOutput(/"event":"ha-membership".*"live":\["ha-2"\]/, 5_000);
  // T1 (4 s): unicast RENEW to the dead server, unanswered; T2 (8 s): broadcast REBIND, the survivor ACKs.
  const renewed = await client.waitFor('renew', 30_000);
  t.is(renewed.ip, bound.ip, 'same address after the failover');
  const after = await db.sql<{ granted_by: string; state: string }>('SELECT granted_by, state FROM leases WHERE host(ip) = $1', [bound.ip]);
  t.deepEqual(after, [{ granted_by: 'ha-2', state: 'bound' }]);
  await servers[1].stop();
});

test.serial('a server SIGKILLed and started again under its ha.serverName is accepted at once; a second live one is refused', async (t) => {
  // A peer is dead only after a minute here: the restart must not wait for its old heartbeat row to age.
  const { segment, db, hosts, servers, configs } = await rig(t, 'rs', { leaseTime: 600 }, { partnerDownAfterMs: 60_000 });
  const second = await cli(['--config', configs[0]], hosts[0].netns);
  t.is(second.code, 1, second.stderr);
  t.regex(second.stderr.trim(), /^leasehold-server: ha\.serverName ha-1 is in use by a running server \(last seen \d+\.\d s ago\)$/);

  await servers[0].kill9();
  const restarted = segment.spawnIn(hosts[0].netns, ['node', ...CLI, '--config', configs[0]], { cwd: REPO_ROOT, label: 'leasehold@ha-1-again' });
  t.teardown(() => restarted.stop());
  // Refused, it would exit with "is in use by a running server" (waitForOutput throws with its output).
  await restarted.waitForOutput(/"event":"ready"/, 30_000);
  await restarted.waitForOutput(/"event":"ha-membership".*"live":\["ha-1","ha-2"\]/, 10_000);
  // …and it serves its own buckets again.
  const [host] = await segment.addHosts([{ name: 'r0', mac: macsOwnedBy('ha-1', 1, 0x31)[0] }]);
  const client = await startUdhcpc(host, { oneShot: true, discoverTries: 30 });
  const bound = await client.waitFor('bound', 30_000);
  t.deepEqual(await db.sql('SELECT granted_by FROM leases WHERE host(ip) = $1', [bound.ip]), [{ granted_by: 'ha-1' }]);
  // The name is still refused to a second process while the restarted one lives.
  const third = await cli(['--config', configs[0]], hosts[0].netns);
  t.is(third.code, 1, third.stderr);
  t.regex(third.stderr, /ha\.serverName ha-1 is in use by a running server/);
  await Promise.all([restarted.stop(), servers[1].stop()]);
  t.true((stoppedCounters(restarted).replies_ack ?? 0) >= 1);
});
