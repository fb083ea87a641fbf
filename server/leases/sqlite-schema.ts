import Database from 'better-sqlite3';
import { clientKeyFor, type Lease, type LeaseState } from './lease.ts';
import type { CommitOutcome, ConditionalLeaseChange } from './lease-store.ts';
import type { WriteGroup } from './group-committer.ts';
import { judgeChange, type LeaseRows } from './lease-expectation.ts';
import type { StoredReservation } from './reservation.ts';

/** Bump when the schema changes, and add the step to `MIGRATIONS`. */
export const SCHEMA_VERSION = 3;

/** Version 1: leases and the DNS queue. */
const SCHEMA_V1 = `
  CREATE TABLE IF NOT EXISTS schema_version (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    version   INTEGER NOT NULL,
    opened_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS leases (
    ip          TEXT PRIMARY KEY,
    client_key  TEXT NOT NULL,
    hw_address  TEXT NOT NULL,
    client_id   TEXT,
    hostname    TEXT,
    subnet_id   TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('bound', 'declined', 'released', 'expired')),
    granted_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    fqdn        TEXT,
    ipv6        TEXT
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS leases_client_key ON leases (client_key);
  CREATE TABLE IF NOT EXISTS dns_queue (
    seq     INTEGER PRIMARY KEY,
    change  TEXT NOT NULL
  );
`;

/**
 * Version 2: reservations made through the control API. One per address and
 * subnet, one per client and subnet (hw:<mac> or id:<hex>, as lease keys),
 * and each names its client exactly one way.
 */
const SCHEMA_V2 = `
  CREATE TABLE IF NOT EXISTS reservations (
    subnet_id   TEXT NOT NULL,
    ip          TEXT NOT NULL,
    hw_address  TEXT,
    client_id   TEXT,
    hostname    TEXT,
    client_key  TEXT NOT NULL,
    PRIMARY KEY (subnet_id, ip),
    CHECK ((hw_address IS NULL) <> (client_id IS NULL))
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX IF NOT EXISTS reservations_client ON reservations (subnet_id, client_key);
`;

/**
 * Version 3: how far the commit log has been applied. Every group written
 * through the log sets `applied_seq` to its record's sequence number in the
 * same transaction, so at start exactly the records after it are replayed.
 */
const SCHEMA_V3 = `
  CREATE TABLE IF NOT EXISTS commit_log_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    applied_seq INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO commit_log_state (id, applied_seq) VALUES (1, 0);
`;

/** `MIGRATIONS[v - 1]` takes a store at version v - 1 to version v; a new store runs them all. */
const MIGRATIONS: readonly string[] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3];

export interface ReservationRow {
  subnet_id: string;
  ip: string;
  hw_address: string | null;
  client_id: string | null;
  hostname: string | null;
  client_key: string;
}

export interface LeaseRow {
  ip: string;
  client_key: string;
  hw_address: string;
  client_id: string | null;
  hostname: string | null;
  subnet_id: string;
  state: LeaseState;
  granted_at: number;
  expires_at: number;
  fqdn: string | null;
  ipv6: string | null;
}

/**
 * Opens a connection the way every Leasehold connection must be: WAL keeps
 * readers off the writer's back, and synchronous=FULL makes every COMMIT
 * fsync the WAL, which is what lets `commit` promise durability.
 * (better-sqlite3 builds SQLite without HAVE_FDATASYNC, so this is a full
 * fsync. Running COMMIT with synchronous=NORMAL and then our own fdatasync
 * of the -wal file was measured on the project's VM, one lease per group:
 * 194-209 µs CPU per commit against 137-157 µs for SQLite's fsync, so the
 * fsync stays.)
 */
export function openDatabase(path: string): Database.Database {
  const db = new Database(path);
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL is required`);
    db.pragma('synchronous = FULL');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Brings the store to SCHEMA_VERSION, one step at a time, in one
 * transaction: a store at version 1 (leases and the DNS queue) gains the
 * reservations table and keeps everything it held. A newer store is refused.
 */
export function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA_V1);
    const row = db.prepare('SELECT version FROM schema_version WHERE id = 1').get() as { version: number } | undefined;
    if (row !== undefined && row.version > SCHEMA_VERSION) {
      throw new Error(`schema version ${row.version} is newer than this server supports (${SCHEMA_VERSION})`);
    }
    for (const step of MIGRATIONS.slice(row?.version ?? 1)) db.exec(step);
    // Written on every open, not only on creation: a store we cannot write
    // must fail here, since an existing WAL database may otherwise open
    // read-only without complaint.
    db.prepare('INSERT OR REPLACE INTO schema_version (id, version, opened_at) VALUES (1, ?, ?)').run(
      SCHEMA_VERSION,
      Date.now(),
    );
  }).immediate();
}

/**
 * One transaction per group; better-sqlite3 rolls it back if anything
 * throws. Each change is judged against the rows as the transaction sees
 * them (lease-expectation.ts), so a change lost to an earlier one of the
 * same group sees that one's writes.
 */
export function prepareGroupWriter(db: Database.Database, now: () => number): WriteGroup {
  const writeGroup = db.transaction(prepareGroupApplier(db));
  return (changes) => writeGroup.immediate(changes, now());
}

/** The statements of a group, judged change by change, to run inside a transaction the caller opens. */
export function prepareGroupApplier(db: Database.Database): (changes: readonly ConditionalLeaseChange[], at: number) => CommitOutcome[] {
  const put = db.prepare<[LeaseRow]>(
    `INSERT OR REPLACE INTO leases
       (ip, client_key, hw_address, client_id, hostname, subnet_id, state, granted_at, expires_at, fqdn, ipv6)
     VALUES (@ip, @client_key, @hw_address, @client_id, @hostname, @subnet_id, @state, @granted_at, @expires_at, @fqdn, @ipv6)`,
  );
  const remove = db.prepare<[string]>('DELETE FROM leases WHERE ip = ?');
  const enqueue = db.prepare<[number, string]>('INSERT OR REPLACE INTO dns_queue (seq, change) VALUES (?, ?)');
  const dequeue = db.prepare<[number]>('DELETE FROM dns_queue WHERE seq = ?');
  const selectAt = db.prepare<[string], LeaseRow>('SELECT * FROM leases WHERE ip = ?');
  const selectBindings = db.prepare<[string, string], LeaseRow>("SELECT * FROM leases WHERE client_key = ? AND subnet_id = ? AND state = 'bound'");
  const earlierOfName = db.prepare<[number, string], { seq: number }>("SELECT seq FROM dns_queue WHERE seq < ? AND json_extract(change, '$.fqdn') = ? LIMIT 1");
  const reserve = db.prepare<[ReservationRow]>(
    // Replaced by address only: OR REPLACE would also delete, silently, a
    // row of the same client at another address (the unique index).
    `INSERT INTO reservations (subnet_id, ip, hw_address, client_id, hostname, client_key)
     VALUES (@subnet_id, @ip, @hw_address, @client_id, @hostname, @client_key)
     ON CONFLICT (subnet_id, ip) DO UPDATE SET
       hw_address = excluded.hw_address, client_id = excluded.client_id, hostname = excluded.hostname, client_key = excluded.client_key`,
  );
  const unreserve = db.prepare<[string, string]>('DELETE FROM reservations WHERE subnet_id = ? AND ip = ?');
  const rows: LeaseRows = {
    leaseAt: (ip) => {
      const row = selectAt.get(ip);
      return row && fromRow(row);
    },
    bindingsOf: (subnetId, clientKey) => selectBindings.all(clientKey, subnetId).map(fromRow),
  };
  return (changes: readonly ConditionalLeaseChange[], at: number): CommitOutcome[] =>
    changes.map((change) => {
      const verdict = judgeChange(change, rows, at);
      if (!verdict.ok) return { kind: 'lost', current: verdict.current };
      for (const { lease } of change.put ?? []) put.run(toRow(lease));
      for (const ip of change.remove ?? []) remove.run(ip);
      const enqueued = (change.enqueue ?? []).map((dns) => {
        enqueue.run(dns.seq, JSON.stringify(dns));
        return { seq: dns.seq, headOfName: earlierOfName.get(dns.seq, dns.fqdn) === undefined };
      });
      for (const seq of change.dequeue ?? []) dequeue.run(seq);
      for (const r of change.reserve ?? []) reserve.run(toReservationRow(r));
      for (const r of change.unreserve ?? []) unreserve.run(r.subnetId, r.ip);
      return { kind: 'committed', enqueued };
    });
}

export function toRow(lease: Lease): LeaseRow {
  return {
    ip: lease.ip,
    client_key: lease.clientKey,
    hw_address: lease.hwAddress,
    client_id: lease.clientId ?? null,
    hostname: lease.hostname ?? null,
    subnet_id: lease.subnetId,
    state: lease.state,
    granted_at: lease.grantedAt,
    expires_at: lease.expiresAt,
    fqdn: lease.fqdn ?? null,
    ipv6: lease.ipv6 ?? null,
  };
}

export function fromRow(row: LeaseRow): Lease {
  const lease: Lease = {
    ip: row.ip,
    clientKey: row.client_key,
    hwAddress: row.hw_address,
    subnetId: row.subnet_id,
    state: row.state,
    grantedAt: row.granted_at,
    expiresAt: row.expires_at,
  };
  if (row.client_id !== null) lease.clientId = row.client_id;
  if (row.hostname !== null) lease.hostname = row.hostname;
  if (row.fqdn !== null) lease.fqdn = row.fqdn;
  if (row.ipv6 !== null) lease.ipv6 = row.ipv6;
  return lease;
}

export function toReservationRow(r: StoredReservation): ReservationRow {
  return {
    subnet_id: r.subnetId,
    ip: r.ip,
    hw_address: r.hwAddress ?? null,
    client_id: r.clientId ?? null,
    hostname: r.hostname ?? null,
    client_key: clientKeyFor(r.clientId, r.hwAddress ?? ''),
  };
}

export function fromReservationRow(row: ReservationRow): StoredReservation {
  const r: StoredReservation = { subnetId: row.subnet_id, ip: row.ip };
  if (row.hw_address !== null) r.hwAddress = row.hw_address;
  if (row.client_id !== null) r.clientId = row.client_id;
  if (row.hostname !== null) r.hostname = row.hostname;
  return r;
}
