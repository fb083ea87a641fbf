// The PostgreSQL lease store against a real PostgreSQL (Debian's, a
// throwaway cluster on a Unix socket, test/harness/postgres.ts): the
// lease-store contract every store passes, and what only a database
// server has — crash recovery, a second server turned away, two writers
// racing for the same addresses, an outage survived without a restart,
// the checks made before serving.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createLogger } from '../../lib/core/logger.ts';
import { leaseIsReusable, type Lease, type LeaseState } from '../../server/leases/lease.ts';
import { countLeases, type LeaseCounts } from '../../server/leases/lease-counts.ts';
import type { CommitOutcome, ConditionalLeaseChange } from '../../server/leases/lease-store.ts';
import type { PostgresLeaseStoreConfig } from '../../server/leases/lease-store-config.ts';
import { PgDatabase } from '../../server/leases/pg/pg-connection.ts';
import { openPgLeaseStore, type PgLeaseStore, type PgLeaseStoreOptions } from '../../server/leases/pg/pg-lease-store.ts';
import { MIGRATIONS, targetSchema, type Migration } from '../../server/leases/pg/pg-migrations.ts';
import { initSchema, readSchemaVersion, upgradeSchema } from '../../server/leases/pg/pg-schema-admin.ts';
import { StoreError } from '../../server/leases/store-error.ts';
import { lease, leaseStoreContract } from '../harness/lease-store-contract.ts';
import { usePostgres, type TestDatabase } from '../harness/postgres.ts';

/** The schema version this server writes. */
const OURS = targetSchema().version;

const PREFIX = 'lt-pgs';
const cluster = usePostgres(test, PREFIX);

/** A fresh database with the schema, dropped after the test. */
async function freshDatabase(t: ExecutionContext, opts: { schema?: boolean; migrations?: readonly Migration[] } = {}): Promise<TestDatabase> {
  const db = await cluster().createDatabase();
  t.teardown(() => db.drop());
  if (opts.schema ?? true) {
    // As `db init` does it: connected as the database's own role, which then owns the tables.
    const admin = await PgDatabase.open(db.config());
    try {
      await initSchema(admin, { migrations: opts.migrations });
    } finally {
      await admin.close();
    }
  }
  return db;
}

async function openStore(t: ExecutionContext, config: PostgresLeaseStoreConfig, opts: Partial<PgLeaseStoreOptions> = {}): Promise<PgLeaseStore> {
  const store = await openPgLeaseStore(config, { serverName: 'lt-a', soleServer: true, ...opts });
  t.teardown(() => store.close());
  return store;
}

const configs = new WeakMap<object, PostgresLeaseStoreConfig>();
leaseStoreContract(test.serial as unknown as typeof test, {
  name: 'postgresql',
  open: async (t, { maxBatch }) => {
    const db = await freshDatabase(t);
    const config = db.config(maxBatch === undefined ? {} : { maxBatch });
    const store = await openStore(t, config);
    configs.set(store, config);
    return store;
  },
  reopen: async (t, closed) => {
    const store = await openStore(t, configs.get(closed)!);
    configs.set(store, configs.get(closed)!);
    return store;
  },
  checksRows: true,
});

test.serial('lh_reusable says what leaseIsReusable says', async (t) => {
  const db = await freshDatabase(t);
  const now = 1_700_000_000_000;
  const cases: Array<[LeaseState, number]> = [];
  for (const state of ['bound', 'declined', 'released', 'expired'] as const) {
    for (const expiresAt of [now - 1, now, now + 1]) cases.push([state, expiresAt]);
  }
  const rows = await db.sql<{ r: boolean }>(
    'SELECT lh_reusable(s, e, $3) AS r FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS c(s, e, n) ORDER BY n',
    [cases.map((c) => c[0]), cases.map((c) => c[1]), now],
  );
  t.deepEqual(
    rows.map((r) => r.r),
    cases.map(([state, expiresAt]) => leaseIsReusable({ state, expiresAt }, now)),
  );
});

test.serial('a resolved commit is visible to another session at once, and survives a crash of the server', async (t) => {
  const db = await freshDatabase(t);
  const config = db.config({ maxBatch: 64 });
  const store = await openPgLeaseStore(config, { serverName: 'lt-a', soleServer: true });
  const leases = Array.from({ length: 300 }, (_, i) => lease(i));
  const seen = await Promise.all(
    leases.map(async (l) => {
      await store.commit({ put: [l] });
      const [{ n }] = await db.sql<{ n: number }>('SELECT count(*)::int AS n FROM leases WHERE ip = $1', [l.ip]);
      return n;
    }),
  );
  t.true(seen.every((n) => n === 1), 'each lease was there when its commit resolved');
  t.true(store.stats().commits > 1, 'several groups');
  // Immediate shutdown: no checkpoint, the store's session is cut; the next start replays the WAL.
  await cluster().crash();
  await cluster().start();
  await store.close();
  const after = await openStore(t, config);
  t.is(after.loadAll().length, 300);
  t.deepEqual(after.loadAll().find((l) => l.ip === lease(299).ip), lease(299));
});

test.serial('a second server on the same database is turned away until the first is gone', async (t) => {
  const db = await freshDatabase(t);
  const first = await openPgLeaseStore(db.config(), { serverName: 'lt-a', soleServer: true });
  const err = await t.throwsAsync(openPgLeaseStore(db.config(), { serverName: 'lt-b', soleServer: true }), { instanceOf: StoreError });
  t.is(
    err?.message,
    `lease store ${db.url()}: another leasehold-server serves from this database; a database serves one server until servers are set up for high availability`,
  );
  // A reader (leasehold-server leases) is no server: it may look.
  const reader = await openStore(t, db.config(), { soleServer: false });
  t.deepEqual(reader.loadAll(), []);
  await first.close();
  const second = await openStore(t, db.config(), { serverName: 'lt-b' });
  await second.commit({ put: [lease(1)] });
  t.deepEqual(second.loadAll(), [lease(1)]);
});

test.serial("countLeases: every server's rows counted by subnet in SQL as countLeases() counts a table", async (t) => {
  const db = await freshDatabase(t);
  const [a, b] = [await openStore(t, db.config(), { serverName: 'lt-a', soleServer: false }), await openStore(t, db.config(), { serverName: 'lt-b', soleServer: false })];
  // An hour either side of now: the database's clock and ours need not agree to the millisecond.
  const now = Date.now();
  const [live, lapsed] = [now + 3_600_000, now - 3_600_000];
  const mine = [lease(1, { expiresAt: live }), lease(2, { state: 'declined', expiresAt: live }), lease(3, { expiresAt: lapsed })];
  const theirs = [lease(4, { expiresAt: live }), lease(5, { state: 'released', expiresAt: live }), lease(6, { subnetId: 'dmz', expiresAt: live }), lease(7, { state: 'declined', expiresAt: lapsed })];
  await a.commit({ put: mine });
  await b.commit({ put: theirs });
  const bySubnet = (c: LeaseCounts[]) => [...c].sort((x, y) => x.subnetId.localeCompare(y.subnetId));
  const counted = bySubnet(await a.countLeases());
  t.deepEqual(counted, bySubnet(countLeases([...mine, ...theirs], now)));
  t.deepEqual(counted, [
    { subnetId: 'dmz', assigned: 1, declined: 0, records: 1 },
    { subnetId: 'lab', assigned: 2, declined: 1, records: 6 },
  ]);
  t.deepEqual(bySubnet(await b.countLeases()), counted, 'the same figures from either server');
});

test.serial('an unconditional second binding of one client fails alone; the rest of its group commits', async (t) => {
  const db = await freshDatabase(t);
  const store = await openStore(t, db.config());
  const client = { clientKey: 'hw:02:00:00:00:00:aa', hwAddress: '02:00:00:00:00:aa' };
  await store.commit({ put: [lease(1, client)] });
  const results = await Promise.allSettled([
    store.commit({ put: [lease(2)] }),
    // SQLite would keep both; the database allows one binding per client and subnet.
    store.commit({ put: [lease(3, client)] }),
    store.commit({ put: [lease(4)] }),
  ]);
  t.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  const reason = (results[1] as PromiseRejectedResult).reason as StoreError;
  t.regex(reason.message, /^lease store .+: commit failed: duplicate key value violates unique constraint "leases_one_binding_per_client": Key \(subnet_id, client_key\)=\(lab, hw:02:00:00:00:00:aa\) already exists\. \(SQLSTATE 23505\)$/);
  const ips = (await db.sql<{ ip: string }>('SELECT host(ip) AS ip FROM leases ORDER BY ip')).map((r) => r.ip);
  t.deepEqual(ips, [lease(1).ip, lease(2).ip, lease(4).ip]);
  t.deepEqual(store.loadAll().map((l) => l.ip).sort(), [lease(1).ip, lease(2).ip, lease(4).ip].sort());
});

test.serial('two writers racing for the same addresses and clients: no address or client bound twice, no error', async (t) => {
  const db = await freshDatabase(t);
  // Two servers' stores (not sole: the conditions, not a lock, keep them apart).
  const stores = [await openStore(t, db.config(), { serverName: 'lt-a', soleServer: false }), await openStore(t, db.config(), { serverName: 'lt-b', soleServer: false })];
  const future = Date.now() + 3_600_000;
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const committed: Lease[] = [];
  const lost: CommitOutcome[] = [];
  await Promise.all(
    stores.map(async (store) => {
      for (let round = 0; round < 60; round++) {
        const binds = Array.from({ length: 20 }, () => {
          const client = random(400);
          const hw = `02:00:00:01:${(client >> 8).toString(16).padStart(2, '0')}:${(client & 0xff).toString(16).padStart(2, '0')}`;
          return lease(random(200), { clientKey: `hw:${hw}`, hwAddress: hw, expiresAt: future });
        });
        const outcomes = await Promise.all(binds.map((l) => store.commitConditional({ put: [{ lease: l, expect: { kind: 'bind' } }] })));
        outcomes.forEach((o, i) => (o.kind === 'committed' ? committed.push(binds[i]) : lost.push(o)));
      }
    }),
  );
  t.true(committed.length > 0 && lost.length > 0, `${committed.length} committed, ${lost.length} lost: the writers did collide`);
  const twice = await db.sql("SELECT subnet_id, client_key FROM leases WHERE state = 'bound' GROUP BY 1, 2 HAVING count(*) > 1");
  t.deepEqual(twice, [], 'no client bound twice');
  // Every bind that committed is what the table holds at its address: nobody overwrote a live binding.
  const rows = new Map((await db.sql<{ ip: string; client_key: string }>('SELECT host(ip) AS ip, client_key FROM leases')).map((r) => [r.ip, r.client_key]));
  t.deepEqual(committed.filter((l) => rows.get(l.ip) !== l.clientKey), []);
  // And every loss came with the row that beat it.
  t.true(lost.every((o) => o.kind === 'lost' && o.current.length > 0));
});

test.serial('an outage fails the commits made during it, and the store carries on when the database is back', async (t) => {
  const db = await freshDatabase(t);
  const lines: string[] = [];
  const store = await openStore(t, db.config({ connectTimeoutMs: 1000 }), { logger: createLogger({ level: 'debug', pretty: false, write: (l) => lines.push(l) }) });
  await store.commit({ put: [lease(1)] });
  await cluster().stop();
  try {
    const err = await t.throwsAsync(store.commit({ put: [lease(2)] }), { instanceOf: StoreError });
    t.regex(err?.message ?? '', /^lease store .+: commit failed: .+/);
    t.false(err?.message.includes('\n'), 'one line');
  } finally {
    await cluster().start();
  }
  await store.commit({ put: [lease(3)] });
  const ips = (await db.sql<{ ip: string }>('SELECT host(ip) AS ip FROM leases ORDER BY ip')).map((r) => r.ip);
  t.deepEqual(ips, [lease(1).ip, lease(3).ip]);
  t.deepEqual(store.loadAll().map((l) => l.ip).sort(), [lease(1).ip, lease(3).ip].sort(), 'the failed change is not in the copy either');
  // The sole-server lock was lost with its session, and taken again before the write.
  const locks = await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted");
  t.is(locks[0].n, 1);
  t.true(lines.some((l) => l.includes('lease-store-connection-lost')));
});

test.serial('refusals at open: unreachable, wrong password, a password file others can read, fsync off', async (t) => {
  const db = await freshDatabase(t);
  const missing = join(cluster().dir, 'nowhere');
  const unreachable = await t.throwsAsync(openPgLeaseStore(db.config({ host: missing, connectTimeoutMs: 500 }), { serverName: 'lt-a' }), { instanceOf: StoreError });
  t.is(unreachable?.message, `lease store postgresql://${db.user}@/${db.name}?host=${missing}&port=5432: cannot connect: connect ENOENT ${missing}/.s.PGSQL.5432`);

  const wrong = join(cluster().dir, 'wrong.password');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
  const denied = await t.throwsAsync(openPgLeaseStore(db.config({ passwordFile: wrong }), { serverName: 'lt-a' }), { instanceOf: StoreError });
  t.is(denied?.message, `lease store ${db.url()}: cannot connect: password authentication failed for user "${db.user}" (SQLSTATE 28P01)`);

  chmodSync(wrong, 0o644);
  const readable = await t.throwsAsync(openPgLeaseStore(db.config({ passwordFile: wrong }), { serverName: 'lt-a' }), { instanceOf: StoreError });
  t.is(readable?.message, `lease store ${db.url()}: leaseStore.passwordFile ${wrong}: every user may read it (mode 0644); chmod 600 it`);

  await cluster().sql('ALTER SYSTEM SET fsync = off');
  await cluster().sql('SELECT pg_reload_conf()');
  try {
    await pollUntilSetting(db, 'fsync', 'off');
    const unsafe = await t.throwsAsync(openPgLeaseStore(db.config(), { serverName: 'lt-a' }), { instanceOf: StoreError });
    t.is(
      unsafe?.message,
      `lease store ${db.url()}: the database runs with fsync=off, so a lease it acknowledged could be lost in a crash; fix the server, or set leaseStore.allowUnsafeDurability: true`,
    );
    const allowed = await openStore(t, db.config({ allowUnsafeDurability: true }));
    t.deepEqual(allowed.loadAll(), []);
  } finally {
    await cluster().sql('ALTER SYSTEM RESET fsync');
    await cluster().sql('SELECT pg_reload_conf()');
  }
});

async function pollUntilSetting(db: TestDatabase, name: string, value: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [{ v }] = await db.sql<{ v: string }>('SELECT current_setting($1) AS v', [name]);
    if (v === value) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} never became ${value}`);
}

test.serial('our sessions commit synchronously whatever the role or database says', async (t) => {
  const db = await freshDatabase(t);
  await db.sql(`ALTER ROLE ${db.user} SET synchronous_commit = off`);
  await db.sql(`ALTER DATABASE ${db.name} SET synchronous_commit = off`);
  // The store checks its own session's setting at open and refuses anything but on.
  const store = await openStore(t, db.config());
  await store.commit({ put: [lease(1)] });
  t.is(store.loadAll().length, 1);
});

test.serial('the schema check names the command to run', async (t) => {
  const empty = await freshDatabase(t, { schema: false });
  const none = await t.throwsAsync(openPgLeaseStore(empty.config(), { serverName: 'lt-a', configPath: '/etc/leasehold/server.yaml' }), { instanceOf: StoreError });
  t.is(none?.message, `lease store ${empty.url()}: no Leasehold schema; run: leasehold-server db init --config /etc/leasehold/server.yaml`);

  const NEXT: Migration = { version: OURS + 1, description: 'a test column', compatibleFrom: 1, sql: 'ALTER TABLE servers ADD COLUMN note text' };
  const older = await freshDatabase(t);
  const stale = await t.throwsAsync(openPgLeaseStore(older.config(), { serverName: 'lt-a', migrations: [...MIGRATIONS, NEXT] }), { instanceOf: StoreError });
  t.is(stale?.message, `lease store ${older.url()}: schema ${OURS} is older than this server's ${OURS + 1}; run: leasehold-server db upgrade --config FILE`);

  // Newer, but this server's schema may run under it (compatible_from ≤ ours): start, with a warning.
  const lines: string[] = [];
  const newerOk = await freshDatabase(t);
  await newerOk.sql(`UPDATE schema_version SET version = ${OURS + 1}, compatible_from = 1`);
  const store = await openStore(t, newerOk.config(), { logger: createLogger({ level: 'info', pretty: false, write: (l) => lines.push(l) }) });
  t.deepEqual(store.loadAll(), []);
  t.true(lines.some((l) => JSON.parse(l).event === 'lease-store-schema-newer'));

  const newer = await freshDatabase(t);
  await newer.sql(`UPDATE schema_version SET version = ${OURS + 2}, compatible_from = ${OURS + 2}`);
  const unknown = await t.throwsAsync(openPgLeaseStore(newer.config(), { serverName: 'lt-a' }), { instanceOf: StoreError });
  t.is(unknown?.message, `lease store ${newer.url()}: schema ${OURS + 2} is newer than this server understands (≤ ${OURS}); upgrade leasehold-server`);
});

test.serial('db init refuses twice and refuses a database of something else; upgrade applies what is missing, once', async (t) => {
  const db = await freshDatabase(t, { schema: false });
  const admin = await PgDatabase.open(db.config());
  t.teardown(() => admin.close());
  t.deepEqual(await initSchema(admin), { version: OURS, compatibleFrom: targetSchema().compatibleFrom });
  const again = await t.throwsAsync(initSchema(admin), { instanceOf: StoreError });
  t.is(again?.message, `lease store ${db.url()}: already initialised (schema ${OURS}); to bring it up to date run: leasehold-server db upgrade --config FILE`);
  t.deepEqual(await upgradeSchema(admin), { from: OURS, to: OURS }, 'nothing to do');

  const NEXT: Migration = { version: OURS + 1, description: 'a test column', compatibleFrom: 1, sql: 'ALTER TABLE servers ADD COLUMN note text' };
  t.deepEqual(await upgradeSchema(admin, { migrations: [...MIGRATIONS, NEXT] }), { from: OURS, to: OURS + 1 });
  t.deepEqual(await readSchemaVersion(admin), { version: OURS + 1, compatibleFrom: targetSchema().compatibleFrom });
  t.deepEqual(
    (await db.sql<{ version: number }>('SELECT version FROM schema_migrations ORDER BY 1')).map((r) => r.version),
    [...MIGRATIONS, NEXT].map((m) => m.version),
  );
  t.deepEqual(await upgradeSchema(admin, { migrations: [...MIGRATIONS, NEXT] }), { from: OURS + 1, to: OURS + 1 });
  const tooNew = await t.throwsAsync(upgradeSchema(admin), { instanceOf: StoreError });
  t.regex(tooNew?.message ?? '', new RegExp(`schema ${OURS + 1} is newer than this server's ${OURS}: nothing to upgrade here; upgrade leasehold-server$`));

  // Each real migration applies on the one before it (a database made by an older release).
  const old = await freshDatabase(t, { schema: false });
  const oldAdmin = await PgDatabase.open(old.config());
  t.teardown(() => oldAdmin.close());
  t.deepEqual(await initSchema(oldAdmin, { migrations: MIGRATIONS.slice(0, 1) }), { version: 1, compatibleFrom: 1 });
  t.deepEqual(await upgradeSchema(oldAdmin), { from: 1, to: OURS });

  const other = await freshDatabase(t, { schema: false });
  await other.sql('CREATE TABLE invoices (id int)');
  const otherAdmin = await PgDatabase.open(other.config());
  t.teardown(() => otherAdmin.close());
  const refused = await t.throwsAsync(initSchema(otherAdmin), { instanceOf: StoreError });
  t.is(refused?.message, `lease store ${other.url()}: the database already holds 1 other table(s) (invoices); Leasehold needs a database of its own`);
});

test.serial('every write stamps the row; a delete leaves a tombstone; one notification per group', async (t) => {
  const db = await freshDatabase(t);
  const store = await openStore(t, db.config());
  await store.commit({ put: [lease(1)] });
  await store.commit({ put: [lease(1, { state: 'released' })] });
  const [row] = await db.sql<{ version: number; granted_by: string; stamped: boolean }>(
    'SELECT version, granted_by, written_xid IS NOT NULL AS stamped FROM leases',
  );
  t.deepEqual(row, { version: 2, granted_by: 'lt-a', stamped: true });
  await store.commit({ remove: [lease(1).ip] });
  t.deepEqual(await db.sql('SELECT host(ip) AS ip FROM lease_tombstones'), [{ ip: lease(1).ip }]);
});

test.serial('conditional commits and the sequence: a number the writer gave is never handed out again', async (t) => {
  const db = await freshDatabase(t);
  const store = await openStore(t, db.config());
  const change: ConditionalLeaseChange = {
    enqueue: [{ seq: 41, action: 'add', fqdn: 'a.lab.leasehold.test', ipv4: '198.18.1.1', dhcid: 'AAEB', ttl: 60, createdAt: 1 }],
  };
  await store.commitConditional(change);
  const [{ next }] = await db.sql<{ next: number }>("SELECT nextval('dns_queue_seq')::int AS next");
  t.is(next, 42);
});
