import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import type { Lease } from '../../server/leases/lease.ts';
import { openSqliteLeaseStore } from '../../server/leases/sqlite-lease-store.ts';
import { StoreError } from '../../server/leases/store-error.ts';
import { SCHEMA_VERSION } from '../../server/leases/sqlite-schema.ts';
import type { StoredReservation } from '../../server/leases/reservation.ts';

const storeModule = new URL('../../server/leases/sqlite-lease-store.ts', import.meta.url).href;
const repoRoot = new URL('../..', import.meta.url).pathname;

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'lt-lease-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function lease(i: number, overrides: Partial<Lease> = {}): Lease {
  return {
    ip: `198.18.${1 + (i >> 8)}.${i & 0xff}`,
    clientKey: `hw:02:00:00:00:00:${(i & 0xff).toString(16).padStart(2, '0')}`,
    hwAddress: `02:00:00:00:00:${(i & 0xff).toString(16).padStart(2, '0')}`,
    subnetId: 'lab',
    state: 'bound',
    grantedAt: 1_700_000_000_000 + i,
    expiresAt: 1_700_003_600_000 + i,
    ...overrides,
  };
}

/** Runs ES module code in a fresh Node with tsx, so it can import the store. */
function runNode(code: string, env: Record<string, string>, opts: SpawnSyncOptions = {}) {
  return spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    env: { ...process.env, ...env, LT_STORE_MODULE: storeModule },
    encoding: 'utf8',
    timeout: 60_000,
    ...opts,
  });
}

function openError(t: ExecutionContext, path: string): StoreError {
  const err = t.throws(() => openSqliteLeaseStore(path), { instanceOf: StoreError });
  t.is(err.code, 'E_STORE');
  t.false(err.message.includes('\n'), 'one line');
  t.true(err.message.startsWith(`lease store ${path}: cannot open: `), err.message);
  return err;
}

test('leases survive close and reopen', async (t) => {
  const path = join(tempDir(t), 'leases.db');
  const first = openSqliteLeaseStore(path);
  await first.commit({ put: [lease(1), lease(2, { hostname: 'a', clientId: '01ff' })] });
  await first.commit({ remove: [lease(1).ip] });
  await first.close();
  const second = openSqliteLeaseStore(path);
  t.deepEqual(second.loadAll(), [lease(2, { hostname: 'a', clientId: '01ff' })]);
  await second.close();
});

test('the database is in WAL mode with a schema version and a client_key index', async (t) => {
  const path = join(tempDir(t), 'leases.db');
  await openSqliteLeaseStore(path).close();
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  t.is(db.pragma('journal_mode', { simple: true }), 'wal');
  t.is(db.prepare('SELECT version FROM schema_version').pluck().get(), SCHEMA_VERSION);
  const indexes = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leases'").pluck().all();
  t.true(indexes.some((sql) => /\(client_key\)/.test(String(sql))));
});

test('a commit resolves only once its lease is visible to another connection', async (t) => {
  const path = join(tempDir(t), 'leases.db');
  const store = openSqliteLeaseStore(path);
  const reader = new Database(path, { readonly: true });
  t.teardown(() => reader.close());
  const count = reader.prepare('SELECT count(*) FROM leases WHERE ip = ?').pluck();
  const seen = await Promise.all(
    Array.from({ length: 50 }, (_, i) => store.commit({ put: [lease(i)] }).then(() => count.get(lease(i).ip))),
  );
  t.deepEqual(seen, Array(50).fill(1));
  await store.close();
});

test('a failing group rejects every commit in it and writes none of them', async (t) => {
  const path = join(tempDir(t), 'leases.db');
  const store = openSqliteLeaseStore(path);
  const results = await Promise.allSettled([
    store.commit({ put: [lease(1)] }),
    store.commit({ put: [lease(2, { state: 'bogus' as Lease['state'] })] }),
    store.commit({ put: [lease(3)] }),
  ]);
  for (const r of results) {
    t.is(r.status, 'rejected');
    const reason = (r as PromiseRejectedResult).reason as StoreError;
    t.true(reason instanceof StoreError);
    t.is(reason.code, 'E_STORE');
    t.regex(reason.message, new RegExp(`^lease store ${path}: commit failed: CHECK constraint failed`));
    t.truthy(reason.cause);
  }
  t.deepEqual(store.loadAll(), []);
  await store.commit({ put: [lease(4)] });
  t.deepEqual(store.loadAll(), [lease(4)]);
  await store.close();
});

test('a lease whose commit resolved survives SIGKILL right after', (t) => {
  const path = join(tempDir(t), 'leases.db');
  const child = runNode(
    `
    const { openSqliteLeaseStore } = await import(process.env.LT_STORE_MODULE);
    const store = openSqliteLeaseStore(process.env.LT_DB, { maxBatch: 64 });
    const lease = (i) => ({
      ip: '198.18.' + (1 + (i >> 8)) + '.' + (i & 255), clientKey: 'hw:' + i, hwAddress: '02:00:00:00:00:01',
      subnetId: 'lab', state: 'bound', grantedAt: i, expiresAt: i + 3600000,
    });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => store.commit({ put: [lease(i)] })));
    await store.commit({ remove: [lease(0).ip] });
    process.stdout.write('committed ' + store.stats().commits + '\\n');
    process.kill(process.pid, 'SIGKILL');
    `,
    { LT_DB: path },
  );
  t.is(child.signal, 'SIGKILL', String(child.stderr));
  t.regex(String(child.stdout), /^committed \d+\n$/);
  t.true(Number(/\d+/.exec(String(child.stdout))?.[0]) > 1, 'several groups were written');
  const store = openSqliteLeaseStore(path);
  const ips = new Set(store.loadAll().map((l) => l.ip));
  t.is(ips.size, 999);
  t.false(ips.has(lease(0).ip));
  t.true(ips.has(lease(999).ip));
  return store.close();
});

test('open: a path in a missing directory', (t) => {
  const dir = join(tempDir(t), 'missing');
  const err = openError(t, join(dir, 'leases.db'));
  t.regex(err.message, new RegExp(`cannot open: directory ${dir} does not exist$`));
});

test('open: a directory', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'leases.db'));
  t.regex(openError(t, join(dir, 'leases.db')).message, /cannot open: is a directory$/);
});

test('open: a file that is not an SQLite database', (t) => {
  const path = join(tempDir(t), 'leases.db');
  writeFileSync(path, 'interfaces:\n  - name: eth0\n'.repeat(100));
  t.regex(openError(t, path).message, /cannot open: not an SQLite database$/);
});

test('open: a schema newer than this server', async (t) => {
  const path = join(tempDir(t), 'leases.db');
  await openSqliteLeaseStore(path).close();
  const db = new Database(path);
  db.prepare('UPDATE schema_version SET version = 99').run();
  db.close();
  t.regex(openError(t, path).message, /schema version 99 is newer than this server supports \(3\)$/);
});

test('open: a read-only file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'leases.db');
  const store = openSqliteLeaseStore(path);
  await store.commit({ put: [lease(1)] });
  await store.close();
  chmodSync(path, 0o444);
  // Root writes any file regardless of its mode, so try as nobody.
  const asRoot = process.getuid?.() === 0;
  const nobody = 65534;
  if (asRoot) {
    chownSync(dir, nobody, nobody);
    chownSync(path, nobody, nobody);
  }
  const child = runNode(
    `
    const { openSqliteLeaseStore } = await import(process.env.LT_STORE_MODULE);
    try { openSqliteLeaseStore(process.env.LT_DB); console.log(JSON.stringify({ opened: true })); }
    catch (err) { console.log(JSON.stringify({ name: err.name, code: err.code, message: err.message })); }
    `,
    { LT_DB: path },
    asRoot ? { uid: nobody, gid: nobody } : {},
  );
  t.is(child.status, 0, String(child.stderr));
  t.deepEqual(JSON.parse(String(child.stdout)), {
    name: 'StoreError',
    code: 'E_STORE',
    message: `lease store ${path}: cannot open: read-only (the lease store must be writable)`,
  });
});

const RESERVED: StoredReservation[] = [
  { subnetId: 'lab', ip: '198.18.0.20', hwAddress: '02:42:c6:12:00:0b', hostname: 'printer' },
  { subnetId: 'lab', ip: '198.18.0.9', clientId: '0102a0' },
  { subnetId: 'edge', ip: '198.19.0.5', hwAddress: '02:00:00:00:00:05' },
];

test('reservations survive close and reopen, in subnet and address order; unreserve removes one', async (t) => {
  const path = join(tempDir(t), 'leases.db');
  const first = openSqliteLeaseStore(path);
  await first.commit({ reserve: RESERVED });
  await first.commit({ unreserve: [{ subnetId: 'edge', ip: '198.19.0.5' }] });
  await first.close();
  const second = openSqliteLeaseStore(path);
  t.deepEqual(second.loadReservations(), [RESERVED[1], RESERVED[0]]);
  await second.close();
});

test('the store refuses two reservations of one client in a subnet, and one naming its client twice', async (t) => {
  const store = openSqliteLeaseStore(join(tempDir(t), 'leases.db'));
  t.teardown(() => store.close());
  await store.commit({ reserve: [RESERVED[0]] });
  await t.throwsAsync(store.commit({ reserve: [{ ...RESERVED[0], ip: '198.18.0.21' }] }), { instanceOf: StoreError, message: /UNIQUE/ });
  await t.throwsAsync(store.commit({ reserve: [{ subnetId: 'lab', ip: '198.18.0.30', hwAddress: '02:00:00:00:00:30', clientId: '01ff' }] }), { message: /CHECK/ });
  t.deepEqual(store.loadReservations(), [RESERVED[0]]);
});

test('a version 1 store is migrated: its leases and DNS queue kept, a reservations table added', async (t) => {
  const path = join(tempDir(t), 'leases.db');
  // What the version 1 server created, as it created it.
  const v1 = new Database(path);
  v1.pragma('journal_mode = WAL');
  v1.exec(`
    CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, opened_at INTEGER NOT NULL);
    CREATE TABLE leases (ip TEXT PRIMARY KEY, client_key TEXT NOT NULL, hw_address TEXT NOT NULL, client_id TEXT, hostname TEXT,
      subnet_id TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('bound', 'declined', 'released', 'expired')),
      granted_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, fqdn TEXT, ipv6 TEXT) WITHOUT ROWID;
    CREATE INDEX leases_client_key ON leases (client_key);
    CREATE TABLE dns_queue (seq INTEGER PRIMARY KEY, change TEXT NOT NULL);
    INSERT INTO schema_version VALUES (1, 1, 0);
  `);
  const l = lease(7);
  v1.prepare('INSERT INTO leases (ip, client_key, hw_address, subnet_id, state, granted_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(l.ip, l.clientKey, l.hwAddress, l.subnetId, l.state, l.grantedAt, l.expiresAt);
  v1.prepare('INSERT INTO dns_queue VALUES (?, ?)').run(3, JSON.stringify({ seq: 3, action: 'add', fqdn: 'a.lab.leasehold.test' }));
  v1.close();

  const store = openSqliteLeaseStore(path);
  t.deepEqual(store.loadAll(), [l]);
  t.deepEqual(store.loadDnsQueue().map((c) => c.seq), [3]);
  t.deepEqual(store.loadReservations(), []);
  await store.commit({ reserve: [RESERVED[0]] });
  await store.close();
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  t.is(db.prepare('SELECT version FROM schema_version').pluck().get(), SCHEMA_VERSION);
  t.is(db.prepare('SELECT count(*) FROM reservations').pluck().get(), 1);
});

test('the commit observer hears each group: its size and time, or its failure', async (t) => {
  const heard: string[] = [];
  const path = join(tempDir(t), 'leases.db');
  const store = openSqliteLeaseStore(path, {
    observer: { written: (size, seconds) => heard.push(`written ${size} ${seconds >= 0}`), failed: (size, err) => heard.push(`failed ${size} ${err.message.includes('UNIQUE')}`) },
  });
  t.teardown(() => store.close());
  await Promise.all([store.commit({ put: [lease(1)] }), store.commit({ put: [lease(2)] })]);
  await store.commit({ reserve: [RESERVED[0]] });
  await store.commit({ reserve: [{ ...RESERVED[0], ip: '198.18.0.99' }] }).catch(() => undefined);
  t.deepEqual(heard, ['written 2 true', 'written 1 true', 'failed 1 true']);
});
