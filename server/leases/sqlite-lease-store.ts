import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Lease, LeaseState } from './lease.ts';
import type { LeaseChange, LeaseStore, LeaseStoreStats } from './lease-store.ts';
import { GroupCommitter } from './group-committer.ts';
import { reasonOf } from '../errors.ts';
import { StoreError } from './store-error.ts';

/** Bump when the schema changes, and add the migration to `migrate`. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
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
    expires_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS leases_client_key ON leases (client_key);
`;

interface LeaseRow {
  ip: string;
  client_key: string;
  hw_address: string;
  client_id: string | null;
  hostname: string | null;
  subnet_id: string;
  state: LeaseState;
  granted_at: number;
  expires_at: number;
}

export interface SqliteLeaseStoreOptions {
  /** Most `commit` calls folded into one transaction (default 512). */
  maxBatch?: number;
}

/**
 * Opens (creating if needed) the SQLite lease store at `path`. Any problem —
 * missing directory, a directory, not a database, not writable, a newer
 * schema — throws `StoreError` with one line naming the path, so the server
 * fails at start rather than at its first ACK.
 */
export function openSqliteLeaseStore(path: string, opts: SqliteLeaseStoreOptions = {}): SqliteLeaseStore {
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    // WAL keeps readers off the writer's back; synchronous=FULL makes every
    // COMMIT fsync the WAL, which is what lets `commit` promise durability.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL is required`);
    db.pragma('synchronous = FULL');
    migrate(db);
  } catch (err) {
    db?.close();
    throw new StoreError(path, `cannot open: ${describeOpenFailure(path, err)}`, { cause: err });
  }
  return new SqliteLeaseStore(path, db, opts.maxBatch);
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    const row = db.prepare('SELECT version FROM schema_version WHERE id = 1').get() as { version: number } | undefined;
    if (row !== undefined && row.version > SCHEMA_VERSION) {
      throw new Error(`schema version ${row.version} is newer than this server supports (${SCHEMA_VERSION})`);
    }
    // Written on every open, not only on creation: a store we cannot write
    // must fail here, since an existing WAL database may otherwise open
    // read-only without complaint.
    db.prepare('INSERT OR REPLACE INTO schema_version (id, version, opened_at) VALUES (1, ?, ?)').run(
      SCHEMA_VERSION,
      Date.now(),
    );
  }).immediate();
}

/** SQLite's own words are terse ("unable to open database file"); say what is actually wrong where we can tell. */
function describeOpenFailure(path: string, err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'SQLITE_NOTADB') return 'not an SQLite database';
  if (code === 'SQLITE_READONLY') return 'read-only (the lease store must be writable)';
  const kind = statKind(path);
  if (kind === 'directory') return 'is a directory';
  if (kind === 'missing' && statKind(dirname(path)) !== 'directory') return `directory ${dirname(path)} does not exist`;
  return reasonOf(err);
}

function statKind(path: string): 'file' | 'directory' | 'missing' | 'other' {
  try {
    const st = statSync(path);
    return st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}

export class SqliteLeaseStore implements LeaseStore {
  readonly #db: Database.Database;
  readonly #committer: GroupCommitter;
  readonly #selectAll: Database.Statement<[], LeaseRow>;

  /** Use `openSqliteLeaseStore`. */
  constructor(
    readonly path: string,
    db: Database.Database,
    maxBatch?: number,
  ) {
    this.#db = db;
    this.#selectAll = db.prepare<[], LeaseRow>('SELECT * FROM leases');
    const put = db.prepare<[LeaseRow]>(
      `INSERT OR REPLACE INTO leases
         (ip, client_key, hw_address, client_id, hostname, subnet_id, state, granted_at, expires_at)
       VALUES (@ip, @client_key, @hw_address, @client_id, @hostname, @subnet_id, @state, @granted_at, @expires_at)`,
    );
    const remove = db.prepare<[string]>('DELETE FROM leases WHERE ip = ?');
    // One transaction per group; better-sqlite3 rolls it back if anything throws.
    const writeGroup = db.transaction((changes: readonly LeaseChange[]) => {
      for (const change of changes) {
        for (const lease of change.put ?? []) put.run(toRow(lease));
        for (const ip of change.remove ?? []) remove.run(ip);
      }
    });
    this.#committer = new GroupCommitter(path, (changes) => writeGroup.immediate(changes), maxBatch);
  }

  loadAll(): Lease[] {
    return this.#selectAll.all().map(fromRow);
  }

  commit(change: LeaseChange): Promise<void> {
    return this.#committer.submit(change);
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    this.#committer.close();
    this.#db.close();
  }

  stats(): LeaseStoreStats {
    return this.#committer.stats();
  }
}

function toRow(lease: Lease): LeaseRow {
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
  };
}

function fromRow(row: LeaseRow): Lease {
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
  return lease;
}
