// leasehold-server with a PostgreSQL lease store, as an operator meets it:
// `db init | version | upgrade | migrate-from`, a server that will not
// start on a schema it does not know or a database it cannot reach (one
// line, exit 1), a second server on the same database turned away, a
// PostgreSQL restart under perfdhcp load (every ACK tshark saw is a
// committed row; the server carries on by itself), and a
// real SQLite store, made by a real server run, moved into PostgreSQL and
// served from there to the same client.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { targetSchema } from '../../server/leases/pg/pg-migrations.ts';
import { openSqliteLeaseStore } from '../../server/leases/sqlite-lease-store.ts';
import { Dhcp4MessageType } from '../../lib/dhcp4/option-defs.ts';
import { runPerfdhcp } from '../bench/dora.ts';
import { startDhcpCapture } from '../harness/capture.ts';
import { startUdhcpc } from '../harness/clients.ts';
import { addressesOf } from '../harness/fixture.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { pollUntil } from '../harness/poll.ts';
import { lease } from '../harness/lease-store-contract.ts';
import { createSegment, sweepStale, type Segment } from '../harness/netns.ts';
import { usePostgres, type TestDatabase } from '../harness/postgres.ts';
import { REPO_ROOT } from '../harness/run-command.ts';
import { CLI, cli, type CliResult } from '../harness/server-cli.ts';

/** The schema version this server writes. */
const OURS = targetSchema().version;

const PREFIX = 'lt-pgc';

test.before(() => sweepStale(PREFIX));
test.after.always(() => sweepStale(PREFIX));
const cluster = usePostgres(test, PREFIX);

/** The one line a failing command printed. */
function oneLine(t: ExecutionContext, r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  return lines[0];
}

async function withSegment(t: ExecutionContext, name: string): Promise<Segment> {
  const segment = await createSegment(`${PREFIX}-${name}`);
  t.teardown(() => segment.destroy());
  return segment;
}

async function database(t: ExecutionContext): Promise<TestDatabase> {
  const db = await cluster().createDatabase();
  t.teardown(() => db.drop());
  return db;
}

function serverConfig(leaseStore: object, subnet = { cidr: '198.18.0.0/24', start: '198.18.0.100', end: '198.18.0.150' }, logLevel = 'debug'): object {
  return {
    interfaces: [{ name: 'eth0' }],
    subnets: [
      {
        id: 'lan',
        subnet: subnet.cidr,
        interface: 'eth0',
        pools: [{ start: subnet.start, end: subnet.end }],
        leaseTime: 600,
        options: { routers: ['198.18.0.1'] },
      },
    ],
    leaseStore,
    log: { level: logLevel },
  };
}

async function writeConfig(dir: string, name: string, body: object): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(body));
  return path;
}

/** A config whose store is `db` (by URL: the form an operator writes most). */
const pgStore = (db: TestDatabase) => ({ type: 'postgresql', url: db.url(), passwordFile: db.passwordFile });

test.serial('db init, version and upgrade; a schema this server does not know stops it with one line', async (t) => {
  const db = await database(t);
  const path = await writeConfig(cluster().dir, `${db.name}.json`, serverConfig(pgStore(db)));

  const before = await cli(['db', 'version', '--config', path]);
  t.is(before.code, 1);
  t.is(oneLine(t, before), `leasehold-server: lease store ${db.url()}: no Leasehold schema; run: leasehold-server db init --config ${path}`);
  const serveBefore = await cli(['--config', path]);
  t.is(serveBefore.code, 1);
  t.is(oneLine(t, serveBefore), `leasehold-server: lease store ${db.url()}: no Leasehold schema; run: leasehold-server db init --config ${path}`);

  const init = await cli(['db', 'init', '--config', path]);
  t.is(init.code, 0, init.stderr);
  t.is(init.stdout, `lease store ${db.url()}: schema ${OURS} created\n`);
  const again = await cli(['db', 'init', '--config', path]);
  t.is(again.code, 1);
  t.is(oneLine(t, again), `leasehold-server: lease store ${db.url()}: already initialised (schema ${OURS}); to bring it up to date run: leasehold-server db upgrade --config ${path}`);

  const version = await cli(['db', 'version', '--config', path]);
  t.is(version.code, 0, version.stderr);
  t.is(version.stdout, `lease store ${db.url()}: schema ${OURS} (this leasehold-server writes ${OURS})\n`);
  const upgrade = await cli(['db', 'upgrade', '--config', path]);
  t.is(upgrade.code, 0, upgrade.stderr);
  t.is(upgrade.stdout, `lease store ${db.url()}: schema ${OURS}: up to date\n`);

  // A newer server's schema, one this server must not write to.
  await db.sql('UPDATE schema_version SET version = 9, compatible_from = 9');
  const newer = await cli(['db', 'version', '--config', path]);
  t.is(newer.code, 1);
  t.is(newer.stdout, `lease store ${db.url()}: schema 9 (this leasehold-server writes ${OURS}); schema 9 is newer than this server understands (≤ ${OURS}); upgrade leasehold-server\n`);
  const noDowngrade = await cli(['db', 'upgrade', '--config', path]);
  t.is(noDowngrade.code, 1);
  t.is(oneLine(t, noDowngrade), `leasehold-server: lease store ${db.url()}: schema 9 is newer than this server's ${OURS}: nothing to upgrade here; upgrade leasehold-server`);
  const serve = await cli(['--config', path]);
  t.is(serve.code, 1);
  t.is(oneLine(t, serve), `leasehold-server: lease store ${db.url()}: schema 9 is newer than this server understands (≤ ${OURS}); upgrade leasehold-server`);
});

test.serial('PostgreSQL unreachable at start: one line, exit 1, no password in it', async (t) => {
  const db = await database(t);
  const nowhere = join(cluster().dir, 'no-server-here');
  const store = { type: 'postgresql', host: nowhere, database: db.name, user: db.user, passwordFile: db.passwordFile, connectTimeoutMs: 1000 };
  const path = await writeConfig(cluster().dir, `${db.name}-nowhere.json`, serverConfig(store));
  const target = `postgresql://${db.user}@/${db.name}?host=${nowhere}&port=5432`;
  for (const args of [['--config', path], ['db', 'version', '--config', path], ['db', 'init', '--config', path], ['leases', '--config', path]]) {
    const r = await cli(args);
    t.is(r.code, 1, args.join(' '));
    t.is(oneLine(t, r), `leasehold-server: lease store ${target}: cannot connect: connect ENOENT ${nowhere}/.s.PGSQL.5432`);
  }
  const password = (await import('node:fs')).readFileSync(db.passwordFile, 'utf8').trim();
  const wrongDb = await writeConfig(cluster().dir, `${db.name}-wrongdb.json`, serverConfig({ ...pgStore(db), url: `postgresql://${db.user}@/nosuchdb?host=${cluster().socketDir}` }));
  const r = await cli(['--config', wrongDb]);
  t.is(r.code, 1);
  t.regex(oneLine(t, r), /^leasehold-server: lease store postgresql:\/\/.+: cannot connect: database "nosuchdb" does not exist \(SQLSTATE 3D000\)$/);
  t.false(r.stderr.includes(password));
  // --store is the SQLite file's: refused with a PostgreSQL store.
  const store2 = await cli(['leases', '--config', wrongDb, '--store', '/tmp/x.db']);
  t.is(store2.code, 1);
  t.is(oneLine(t, store2), 'leasehold-server: --store names an SQLite file, but leaseStore.type is postgresql');
});

test.serial('an SQLite store made by a real server moves into PostgreSQL and is served from there to the same client', async (t) => {
  const segment = await withSegment(t, 'mig');
  const srv = await segment.addHost('srv', { ipv4: '198.18.0.1/24' });
  const client = await segment.addHost('cli');
  const sqlitePath = join(segment.tmpDir, 'leases.db');
  const sqliteConfig = await writeConfig(segment.tmpDir, 'sqlite.json', serverConfig({ type: 'sqlite', path: sqlitePath }));

  // 1. Served from SQLite: the client gets an address.
  let server = segment.spawnIn(srv.netns, ['node', ...CLI, '--config', sqliteConfig], { cwd: REPO_ROOT });
  await server.waitForOutput(/"event":"ready"/, 30_000);
  let udhcpc = await startUdhcpc(client, { hostname: 'migrant' });
  const first = await udhcpc.waitFor('bound', 20_000);
  await udhcpc.stop();
  await server.stop();
  const fromSqlite = JSON.parse((await cli(['leases', '--config', sqliteConfig, '--json'])).stdout) as object[];
  t.is(fromSqlite.length, 1);

  // 2. Moved.
  const db = await database(t);
  const pgConfig = await writeConfig(segment.tmpDir, 'pg.json', serverConfig(pgStore(db)));
  t.is((await cli(['db', 'init', '--config', pgConfig])).code, 0);
  const migrated = await cli(['db', 'migrate-from', `sqlite:${sqlitePath}`, '--config', pgConfig]);
  t.is(migrated.code, 0, migrated.stderr);
  t.is(migrated.stdout, `migrated 1 lease(s), 0 queued DNS change(s) and 0 reservation(s) from sqlite:${sqlitePath} into ${db.url()}\n`);
  const twice = await cli(['db', 'migrate-from', `sqlite:${sqlitePath}`, '--config', pgConfig]);
  t.is(twice.code, 1);
  t.is(oneLine(t, twice), `leasehold-server: lease store ${db.url()}: the target already holds 1 lease(s), 0 queued DNS change(s) and 0 reservation(s); migrate into an empty database`);
  t.deepEqual(JSON.parse((await cli(['leases', '--config', pgConfig, '--json'])).stdout), fromSqlite, 'the same lease table');

  // 3. Served from PostgreSQL: the same client gets the same address back, and the database has it.
  server = segment.spawnIn(srv.netns, ['node', ...CLI, '--config', pgConfig], { cwd: REPO_ROOT });
  await server.waitForOutput(/"event":"ready"/, 30_000);
  // A second server on the same database is turned away (one database, one server, until HA).
  const second = await cli(['--config', pgConfig], srv.netns);
  t.is(second.code, 1);
  t.is(oneLine(t, second), `leasehold-server: lease store ${db.url()}: another leasehold-server serves from this database; a database serves one server until servers are set up for high availability`);
  // …while a reader may look.
  t.is((await cli(['leases', '--config', pgConfig])).code, 0);

  udhcpc = await startUdhcpc(client, { hostname: 'migrant' });
  const again = await udhcpc.waitFor('bound', 20_000);
  t.is(again.ip, first.ip);
  const rows = await db.sql<{ ip: string; state: string; version: number }>('SELECT host(ip) AS ip, state, version FROM leases');
  t.deepEqual(rows.map((r) => [r.ip, r.state]), [[first.ip, 'bound']]);
  t.true(rows[0].version >= 2, 'rewritten by the server on PostgreSQL');
  await udhcpc.stop();
  await server.stop();
});

test.serial('PostgreSQL stopped while serving: a real client gets no ACK, one line says so, and it gets its lease once the database is back', async (t) => {
  const segment = await withSegment(t, 'out');
  const srv = await segment.addHost('srv', { ipv4: '198.18.0.1/24' });
  const client = await segment.addHost('cli');
  const db = await database(t);
  const pgConfig = await writeConfig(segment.tmpDir, 'pg.json', serverConfig({ ...pgStore(db), connectTimeoutMs: 1000 }));
  t.is((await cli(['db', 'init', '--config', pgConfig])).code, 0);
  const server = segment.spawnIn(srv.netns, ['node', ...CLI, '--config', pgConfig], { cwd: REPO_ROOT });
  await server.waitForOutput(/"event":"ready"/, 30_000);

  await cluster().stop();
  let udhcpc;
  try {
    udhcpc = await startUdhcpc(client, { hostname: 'patient', discoverTries: 100 });
    // OFFERs need no commit; every REQUEST does, and fails, so no ACK comes.
    await server.waitForOutput(/"event":"lease-store-unavailable"/, 20_000);
    await t.throwsAsync(udhcpc.waitFor('bound', 8_000), undefined, 'no ACK while the database is down');
  } finally {
    await cluster().start();
  }
  // Nothing restarted but PostgreSQL: the server reconnects by itself and the client, still retrying, is bound.
  const bound = await udhcpc.waitFor('bound', 40_000);
  await server.waitForOutput(/"event":"lease-store-available"/, 10_000);
  const rows = await db.sql<{ ip: string; state: string }>('SELECT host(ip) AS ip, state FROM leases');
  t.deepEqual(rows, [{ ip: bound.ip, state: 'bound' }], 'the ACKed lease is in the database');
  await udhcpc.stop();
  await server.stop();

  const events = server.output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string; counters?: Record<string, number>; failedCommits?: number });
  const unavailable = events.filter((e) => e.event === 'lease-store-unavailable');
  const stopped = events.find((e) => e.event === 'stopped');
  const failures = stopped?.counters?.store_commit_failures ?? 0;
  t.true(failures >= 2, `${failures} commits failed: the client asked several times`);
  // Logged once per 10 s interval, not once per failed request.
  t.true(unavailable.length >= 1 && unavailable.length < failures, `${unavailable.length} line(s) for ${failures} failures`);
  t.is(stopped?.counters?.replies_ack, 1, 'the one ACK sent is the one after the database came back');
});

/**
 * perfdhcp (relaying from 198.18.0.250) at LOAD_RATE DORAs a second while
 * PostgreSQL is killed (immediate shutdown: no checkpoint, every session
 * cut mid-transaction) and started again; tshark on the server's interface
 * records every ACK. `ha`: one server of a cluster (shared store,
 * heartbeats, fencing) rather than the database's sole server.
 */
const LOAD_RATE = 40;
const LOAD_SECONDS = 14;

async function restartUnderLoad(t: ExecutionContext, variant: 'sole' | 'ha'): Promise<void> {
  const segment = await withSegment(t, `ld${variant[0]}`);
  const subnet = { cidr: '198.18.0.0/22', start: '198.18.0.10', end: '198.18.3.200' };
  const srv = await segment.addHost('srv', { ipv4: '198.18.0.1/22' });
  const relay = await segment.addHost('cli', { ipv4: '198.18.0.250/22' });
  const late = await segment.addHost('late');
  const db = await database(t);
  const store = { ...pgStore(db), connectTimeoutMs: 1000, ...(variant === 'ha' && { shared: true }) };
  const body = { ...serverConfig(store, subnet, 'info'), ...(variant === 'ha' && { ha: { serverName: 'solo', heartbeatIntervalMs: 300, fenceAfterMs: 1000, partnerDownAfterMs: 1600 } }) };
  const pgConfig = await writeConfig(segment.tmpDir, 'pg.json', body);
  t.is((await cli(['db', 'init', '--config', pgConfig])).code, 0);
  const capture = await startDhcpCapture(srv);
  const server = segment.spawnIn(srv.netns, ['node', ...CLI, '--config', pgConfig], { cwd: REPO_ROOT });
  await server.waitForOutput(/"event":"ready"/, 30_000);
  const acks = () => capture.packets().filter((p) => p.messageType === Dhcp4MessageType.Ack);

  const load = runPerfdhcp(relay.netns, LOAD_RATE, LOAD_SECONDS, { clients: 400 });
  await pollUntil('ACKs under load', () => acks().length >= 40, { timeoutMs: 10_000 });
  const ackedBefore = acks().length;
  await cluster().crash();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await cluster().start();
  const perf = await load;
  t.true(server.running, 'the server was not restarted');
  t.true(acks().length > ackedBefore, `ACKs after the restart (${ackedBefore} before it, ${acks().length} in all)`);

  // A new client, after the load: served by the same process.
  const udhcpc = await startUdhcpc(late, { oneShot: true, discoverTries: 20 });
  const bound = await udhcpc.waitFor('bound', 30_000);
  await server.stop();
  const stopped = server.output.split('\n').find((l) => l.includes('"event":"stopped"'));
  const counters = (JSON.parse(stopped ?? '{}') as { counters?: Record<string, number> }).counters ?? {};
  // Every ACK the server counted is on the wire before it is checked against the table.
  await pollUntil(`${counters.replies_ack} ACKs captured`, () => acks().length === counters.replies_ack, { timeoutMs: 15_000, describe: () => `${acks().length} captured` });

  const rows = await db.sql<{ ip: string; hw_address: string; state: string }>('SELECT host(ip) AS ip, hw_address, state FROM leases');
  const byIp = new Map(rows.map((r) => [r.ip, r]));
  const uncommitted = acks().filter((a) => byIp.get(a.yiaddr)?.hw_address !== a.chaddr || byIp.get(a.yiaddr)?.state !== 'bound');
  t.deepEqual(uncommitted, [], 'every ACK seen on the wire is a bound row of the table, for the client it was sent to');
  t.like(byIp.get(bound.ip), { hw_address: late.mac, state: 'bound' });
  t.true((counters.store_commit_failures ?? 0) >= 1, `${counters.store_commit_failures} commits failed: the restart hit the load`);
  t.log(
    `${variant}: ACKs ${ackedBefore} before the restart, ${acks().length} in all; commits failed ${counters.store_commit_failures}; ` +
      `perfdhcp REQUEST-ACK ${perf.raStats.received}/${perf.raStats.sent}`,
  );
}

test.serial('PostgreSQL restarted (immediate) under perfdhcp load: every ACK on the wire is a committed row; the server serves again by itself', (t) =>
  restartUnderLoad(t, 'sole'),
);

test.serial('…and the same for a server of a cluster (shared store, heartbeats, fencing)', (t) => restartUnderLoad(t, 'ha'));

const HA_CLIENTS = Number(process.env.LEASEHOLD_TEST_HA_CLIENTS ?? 500);

test.serial(`two servers on one database, ${HA_CLIENTS} concurrent udhcpc clients: no address bound twice, no client bound twice`, async (t) => {
  const segment = await withSegment(t, 'ha');
  // 753 addresses for 500 clients: both servers hand out from the same pool, in the same order.
  const subnet = { cidr: '198.18.0.0/22', start: '198.18.0.10', end: '198.18.2.250' };
  const hosts = [await segment.addHost('srv1', { ipv4: '198.18.0.1/22' }), await segment.addHost('srv2', { ipv4: '198.18.0.3/22' })];
  const db = await database(t);
  const config = await writeConfig(segment.tmpDir, 'shared.json', serverConfig({ ...pgStore(db), shared: true }, subnet, 'info'));
  t.is((await cli(['db', 'init', '--config', config])).code, 0);
  // Two processes, each with its own server identifier (its interface address), no server-to-server protocol.
  const servers = hosts.map((h) => segment.spawnIn(h.netns, ['node', ...CLI, '--config', config], { cwd: REPO_ROOT, label: `leasehold@${h.name}` }));
  await Promise.all(servers.map((s) => s.waitForOutput(/"event":"ready"/, 30_000)));

  const clients = await segment.addHosts(Array.from({ length: HA_CLIENTS }, (_, i) => ({ name: `c${i}` })));
  // Every client at once (the limit only keeps process start-up from timing out on 2 cores): both servers offer, the database decides.
  const granted = await mapLimit(clients, 100, async (host) => {
    const client = await startUdhcpc(host, { oneShot: true, discoverTries: 30 });
    const bound = await client.waitFor('bound', 120_000);
    const exit = await client.process.exited;
    if (exit.code !== 0) throw new Error(`udhcpc in ${host.netns} exited with ${JSON.stringify(exit)}`);
    return bound.ip;
  });
  t.is(new Set(granted).size, HA_CLIENTS, 'every client was granted a different address');
  const configured = await mapLimit(clients, 50, addressesOf);
  t.deepEqual(configured, granted.map((ip) => [`${ip}/22`]), 'each client configured what it was granted');

  const rows = await db.sql<{ ip: string; hw_address: string; granted_by: string }>("SELECT host(ip) AS ip, hw_address, granted_by FROM leases WHERE state = 'bound'");
  t.is(rows.length, HA_CLIENTS);
  const owner = new Map(rows.map((r) => [r.ip, r.hw_address]));
  t.deepEqual(granted.map((ip) => owner.get(ip)), clients.map((h) => h.mac), 'the database holds each address for the client that was ACKed it');
  t.deepEqual(await db.sql("SELECT subnet_id, client_key FROM leases WHERE state = 'bound' GROUP BY 1, 2 HAVING count(*) > 1"), [], 'no client bound twice');

  await Promise.all(servers.map((s) => s.stop()));
  const acks = servers.map((s) => {
    const stopped = s.output.split('\n').find((l) => l.includes('"event":"stopped"'));
    return (JSON.parse(stopped ?? '{}') as { counters?: Record<string, number> }).counters ?? {};
  });
  const byServer = new Map<string, number>();
  for (const r of rows) byServer.set(r.granted_by, (byServer.get(r.granted_by) ?? 0) + 1);
  t.log(`ACKs ${acks.map((c) => c.replies_ack ?? 0).join(' + ')}, NAKs ${acks.map((c) => c.replies_nak ?? 0).join(' + ')}; bindings by server ${JSON.stringify([...byServer.values()])}`);
  t.true(acks.every((c) => (c.replies_ack ?? 0) > 0), 'both servers served');
});

test.serial('migrate-from moves the DNS queue and stored reservations, and refuses what is not a store', async (t) => {
  const dir = cluster().dir;
  const sqlitePath = join(dir, 'queue.db');
  const store = openSqliteLeaseStore(sqlitePath);
  const dns = (seq: number) => ({ seq, action: 'add' as const, fqdn: `h${seq}.lab.leasehold.test`, ipv4: lease(seq).ip, dhcid: 'AAEB', ttl: 60, createdAt: 1 });
  await store.commit({
    put: [lease(1), lease(2, { hostname: 'two', clientId: '01aa', clientKey: 'id:01aa' })],
    enqueue: [dns(7), dns(9)],
    // Reservations made through the control API, kept in the store (schema 2).
    reserve: [
      { subnetId: 'lab', ip: '198.18.0.20', hwAddress: '02:00:00:00:00:20', hostname: 'fixed' },
      { subnetId: 'lab', ip: '198.18.0.21', clientId: '01020000000021' },
    ],
  });
  await store.close();

  const db = await database(t);
  const pgConfig = await writeConfig(dir, `${db.name}-q.json`, serverConfig(pgStore(db)));
  t.is((await cli(['db', 'init', '--config', pgConfig])).code, 0);
  const migrated = await cli(['db', 'migrate-from', `sqlite:${sqlitePath}`, '--config', pgConfig]);
  t.is(migrated.code, 0, migrated.stderr);
  t.regex(migrated.stdout, /^migrated 2 lease\(s\), 2 queued DNS change\(s\) and 2 reservation\(s\) from /);
  t.deepEqual(
    await db.sql("SELECT seq::int, fqdn, claimed_by FROM dns_queue ORDER BY seq"),
    [{ seq: 7, fqdn: 'h7.lab.leasehold.test', claimed_by: null }, { seq: 9, fqdn: 'h9.lab.leasehold.test', claimed_by: null }],
  );
  t.deepEqual(await db.sql("SELECT nextval('dns_queue_seq')::int AS n"), [{ n: 10 }], 'the sequence carries on after the highest');
  t.deepEqual(await db.sql('SELECT subnet_id, host(ip) AS ip, hw_address, client_id, client_key, hostname FROM reservations ORDER BY ip'), [
    { subnet_id: 'lab', ip: '198.18.0.20', hw_address: '02:00:00:00:00:20', client_id: null, client_key: 'hw:02:00:00:00:00:20', hostname: 'fixed' },
    { subnet_id: 'lab', ip: '198.18.0.21', hw_address: null, client_id: '01020000000021', client_key: 'id:01020000000021', hostname: null },
  ]);
  t.deepEqual(
    await db.sql('SELECT host(ip) AS ip, hostname, client_key FROM leases ORDER BY ip'),
    [
      { ip: lease(1).ip, hostname: null, client_key: lease(1).clientKey },
      { ip: lease(2).ip, hostname: 'two', client_key: 'id:01aa' },
    ],
  );

  for (const [source, problem] of [
    [`sqlite:${join(dir, 'missing.db')}`, `lease store ${join(dir, 'missing.db')}: no such file`],
    [`sqlite:${pgConfig}`, `lease store ${pgConfig}: not an SQLite database`],
    [`postgresql:${sqlitePath}`, `db migrate-from: the source is sqlite:PATH, got "postgresql:${sqlitePath}"`],
  ]) {
    const r = await cli(['db', 'migrate-from', source, '--config', pgConfig]);
    t.is(r.code, 2, source);
    t.is(oneLine(t, r), `leasehold-server: ${problem}`);
  }
  const sqliteTarget = await writeConfig(dir, 'sqlite-target.json', serverConfig({ type: 'sqlite', path: join(dir, 'x.db') }));
  const wrongTarget = await cli(['db', 'migrate-from', `sqlite:${sqlitePath}`, '--config', sqliteTarget]);
  t.is(wrongTarget.code, 2);
  t.is(oneLine(t, wrongTarget), "leasehold-server: db migrate-from: the config's leaseStore is the target and must be type postgresql, not sqlite");
});
