import { copyFileSync, mkdtempSync, openSync, closeSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import type { Lease } from '../../server/leases/lease.ts';
import { openSqliteLeaseStore } from '../../server/leases/sqlite-lease-store.ts';
import { commitLogPath } from '../../server/leases/sqlite-commit-log.ts';
import { scanRecords } from '../../server/leases/commit-log-record.ts';

// The SQLite store's commit log: what SQLite can lose in a power cut (its
// commits are not synced) comes back from the log at the next open, exactly
// once, and a torn last record is cut.

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'lt-clog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function lease(i: number, overrides: Partial<Lease> = {}): Lease {
  const hw = `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  return { ip: `198.18.${1 + (i >> 8)}.${i & 0xff}`, clientKey: `hw:${hw}`, hwAddress: hw, subnetId: 'lab', state: 'bound', grantedAt: 1_700_000_000_000 + i, expiresAt: 1_700_003_600_000 + i, ...overrides };
}

const byIp = (a: Lease, b: Lease) => a.ip.localeCompare(b.ip, 'en', { numeric: true });
const LOG = { bytes: 64 * 1024 };

/** The database as it was when it held nothing: what a power cut can leave of unsynced SQLite commits. */
let emptyDatabases = 0;
function emptyDatabaseLike(dir: string): string {
  emptyDatabases += 1;
  const path = join(dir, `before-${emptyDatabases}.db`);
  openSqliteLeaseStore(path, { commitLog: false }).close();
  return path;
}

/** Puts the log of `from` next to the database `to`, as if SQLite had lost everything the log holds. */
function loseSqliteWrites(dir: string, from: string): string {
  const to = emptyDatabaseLike(dir);
  copyFileSync(commitLogPath(from), commitLogPath(to));
  return to;
}

test('records SQLite lost are replayed at open, in order, later changes winning', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'leases.db');
  const store = openSqliteLeaseStore(path, { commitLog: LOG });
  await store.commit({ put: [lease(1), lease(2)] });
  await store.commit({ put: [lease(3)], remove: [lease(1).ip] });
  await store.commit({ put: [lease(2, { state: 'released' })], enqueue: [{ seq: 4, action: 'add', fqdn: 'h.lab.leasehold.test', ipv4: lease(2).ip, dhcid: 'AA==', ttl: 60, createdAt: 1 }] });
  const expected = store.loadAll().sort(byIp);
  await store.close();

  const lost = loseSqliteWrites(dir, path);
  const reopened = openSqliteLeaseStore(lost, { commitLog: LOG });
  t.deepEqual(reopened.replay, { replayed: 3, skipped: 0 });
  t.deepEqual(reopened.loadAll().sort(byIp), expected);
  t.deepEqual(expected.map((l) => [l.ip, l.state]), [[lease(2).ip, 'released'], [lease(3).ip, 'bound']]);
  t.deepEqual(reopened.loadDnsQueue().map((c) => c.seq), [4]);
  await reopened.close();
});

test('replay is idempotent: a second open applies nothing, and re-applying applied records changes nothing', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'leases.db');
  const store = openSqliteLeaseStore(path, { commitLog: LOG });
  for (let i = 1; i <= 5; i += 1) await store.commit({ put: [lease(i)], remove: i > 2 ? [lease(i - 2).ip] : [] });
  const expected = store.loadAll().sort(byIp);
  await store.close();

  const lost = loseSqliteWrites(dir, path);
  const first = openSqliteLeaseStore(lost, { commitLog: LOG });
  t.is(first.replay?.replayed, 5);
  await first.close();
  const second = openSqliteLeaseStore(lost, { commitLog: LOG });
  t.deepEqual(second.replay, { replayed: 0, skipped: 5 });
  t.deepEqual(second.loadAll().sort(byIp), expected);
  await second.close();

  // SQLite may have kept part of what it lost (some pages reached the disk): replay the rest on top.
  const db = new Database(path);
  db.prepare('UPDATE commit_log_state SET applied_seq = 2').run();
  db.close();
  const partly = openSqliteLeaseStore(path, { commitLog: LOG });
  t.deepEqual(partly.replay, { replayed: 3, skipped: 2 });
  t.deepEqual(partly.loadAll().sort(byIp), expected);
  await partly.close();
});

test('a torn last record is cut: what came before is replayed, and later writes are not confused by it', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'leases.db');
  const store = openSqliteLeaseStore(path, { commitLog: LOG });
  await store.commit({ put: [lease(1)] });
  await store.commit({ put: [lease(2)] });
  await store.close();

  // Tear the second record: its last bytes never reached the disk.
  const fd = openSync(commitLogPath(path), 'r+');
  const buf = Buffer.alloc(LOG.bytes);
  readSync(fd, buf, 0, buf.length, 0);
  const [, second] = scanRecords(buf).records;
  writeSync(fd, Buffer.alloc(8), 0, 8, second!.end - 8);
  closeSync(fd);

  const lost = loseSqliteWrites(dir, path);
  const reopened = openSqliteLeaseStore(lost, { commitLog: LOG });
  t.deepEqual(reopened.replay, { replayed: 1, skipped: 0 });
  t.deepEqual(reopened.loadAll(), [lease(1)]);
  await reopened.commit({ put: [lease(3)] });
  await reopened.close();

  const again = loseSqliteWrites(dir, lost);
  const last = openSqliteLeaseStore(again, { commitLog: LOG });
  // The log was restarted after the replay: it holds the one write since then.
  t.deepEqual(last.replay, { replayed: 1, skipped: 0 });
  t.deepEqual(last.loadAll(), [lease(3)]);
  await last.close();
});

test('the log wraps when full (after syncing SQLite) and keeps its size; nothing is lost across the wrap', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'leases.db');
  const store = openSqliteLeaseStore(path, { commitLog: { bytes: 8192 } });
  for (let i = 1; i <= 200; i += 1) await store.commit({ put: [lease(i, { hostname: `host-${i}` })] });
  t.is(statSync(commitLogPath(path)).size, 8192);
  // Kill-like end: no close, so no final sync; reopen through a second handle.
  const reopened = openSqliteLeaseStore(path, { commitLog: { bytes: 8192 } });
  t.is(reopened.loadAll().length, 200);
  t.is(reopened.replay?.replayed, 0, 'SQLite held everything (same machine, no power cut)');
  t.true((reopened.replay?.skipped ?? 0) > 0 && (reopened.replay?.skipped ?? 0) < 200, 'only the records since the last wrap are in the log');
  await reopened.close();
  await store.close().catch(() => undefined);
});

test('a store opened without the log replays what a log left behind', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'leases.db');
  const store = openSqliteLeaseStore(path, { commitLog: LOG });
  await store.commit({ put: [lease(9)] });
  await store.close();
  const lost = loseSqliteWrites(dir, path);
  const plain = openSqliteLeaseStore(lost, { commitLog: false });
  t.deepEqual(plain.loadAll(), [lease(9)]);
  await plain.commit({ remove: [lease(9).ip] });
  await plain.close();
  // Back on the log: the old record is not replayed over the later removal.
  const logged = openSqliteLeaseStore(lost, { commitLog: LOG });
  t.deepEqual(logged.loadAll(), []);
  t.deepEqual(logged.replay, { replayed: 0, skipped: 1 });
  await logged.close();
});

test('a constraint failure rejects the group and writes no record', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'leases.db');
  const store = openSqliteLeaseStore(path, { commitLog: LOG });
  await store.commit({ put: [lease(1)] });
  await t.throwsAsync(store.commit({ put: [lease(2, { state: 'bogus' as Lease['state'] })] }), { message: /CHECK constraint failed/ });
  await store.commit({ put: [lease(3)] });
  await store.close();
  const lost = loseSqliteWrites(dir, path);
  const reopened = openSqliteLeaseStore(lost, { commitLog: LOG });
  t.deepEqual(reopened.replay, { replayed: 2, skipped: 0 });
  t.deepEqual(reopened.loadAll().sort(byIp), [lease(1), lease(3)]);
  await reopened.close();
});

test('a group larger than the whole log is refused, and the store goes on', async (t) => {
  const dir = tempDir(t);
  const store = openSqliteLeaseStore(join(dir, 'leases.db'), { commitLog: { bytes: 4096 } });
  const big = Array.from({ length: 40 }, (_, i) => lease(i, { hostname: 'h'.repeat(60) }));
  await t.throwsAsync(store.commit({ put: big }), { message: /larger than the commit log/ });
  t.deepEqual(store.loadAll(), []);
  await store.commit({ put: [lease(1)] });
  t.deepEqual(store.loadAll(), [lease(1)]);
  await store.close();
});
