import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import type { DnsChange } from './dns-change.ts';
import type { Lease } from './lease.ts';
import type { Clock } from '../../lib/core/clock.ts';
import type { CommitObserver, CommitOutcome, ConditionalLeaseChange, ConditionalLeaseStore, LeaseChange, LeaseStoreStats } from './lease-store.ts';
import { unconditional } from './lease-expectation.ts';
import { sortReservations, type StoredReservation } from './reservation.ts';
import { GroupCommitter } from './group-committer.ts';
import { reasonOf } from '../../lib/core/errors.ts';
import { StoreError } from './store-error.ts';
import { fromReservationRow, fromRow, migrate, openDatabase, prepareGroupWriter, type LeaseRow, type ReservationRow } from './sqlite-schema.ts';

export interface SqliteLeaseStoreOptions {
  /** Most `commit` calls folded into one transaction (default 512). */
  maxBatch?: number;
  /** The clock conditional writes are judged by (default: the system's). */
  clock?: Clock;
  /** Told of every group written or failed (metrics, health). */
  observer?: CommitObserver;
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
    db = openDatabase(path);
    migrate(db);
  } catch (err) {
    db?.close();
    throw new StoreError(path, `cannot open: ${describeOpenFailure(path, err)}`, { cause: err });
  }
  return new SqliteLeaseStore(path, db, opts);
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

/**
 * The store. Writes run on the event loop's thread: a COMMIT blocks it for
 * one fsync, and packets queue in the socket buffer meanwhile, so the next
 * group is larger (the store batches itself under load). A writer thread was
 * tried and measured: on two cores its hand-offs cost more CPU per lease
 * than the blocking saved (make bench, see test/bench/README.md).
 */
export class SqliteLeaseStore implements ConditionalLeaseStore {
  readonly #db: Database.Database;
  readonly #committer: GroupCommitter;
  readonly #selectAll: Database.Statement<[], LeaseRow>;
  readonly #selectQueue: Database.Statement<[], { change: string }>;
  readonly #selectReservations: Database.Statement<[], ReservationRow>;

  /** Use `openSqliteLeaseStore`. */
  constructor(
    readonly path: string,
    db: Database.Database,
    opts: SqliteLeaseStoreOptions = {},
  ) {
    this.#db = db;
    this.#selectAll = db.prepare<[], LeaseRow>('SELECT * FROM leases');
    this.#selectQueue = db.prepare<[], { change: string }>('SELECT change FROM dns_queue ORDER BY seq');
    this.#selectReservations = db.prepare<[], ReservationRow>('SELECT * FROM reservations');
    this.#committer = new GroupCommitter(path, prepareGroupWriter(db, () => (opts.clock ?? Date).now()), opts.maxBatch, opts.observer);
  }

  loadAll(): Lease[] {
    return this.#selectAll.all().map(fromRow);
  }

  loadDnsQueue(): DnsChange[] {
    return this.#selectQueue.all().map((row) => JSON.parse(row.change) as DnsChange);
  }

  loadReservations(): StoredReservation[] {
    return sortReservations(this.#selectReservations.all().map(fromReservationRow));
  }

  async commit(change: LeaseChange): Promise<void> {
    await this.#committer.submit(unconditional(change));
  }

  commitConditional(change: ConditionalLeaseChange): Promise<CommitOutcome> {
    return this.#committer.submit(change);
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    await this.#committer.close();
    this.#db.close();
  }

  stats(): LeaseStoreStats {
    return this.#committer.stats();
  }
}
