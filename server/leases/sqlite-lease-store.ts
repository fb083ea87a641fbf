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
import { commitLogPath, replayLeftoverLog, SqliteCommitLog, type ReplayReport } from './sqlite-commit-log.ts';

/**
 * How long a commit may wait for others to share its sync, under load (ms).
 * Short enough that REQUEST→ACK stays well under 2 ms at 4,000 DORA/s; an
 * idle server does not wait (GroupCommitter).
 */
export const DEFAULT_COMMIT_WAIT_MS = 0.6;

export interface SqliteLeaseStoreOptions {
  /** Most `commit` calls folded into one transaction (default 512). */
  maxBatch?: number;
  /** The clock conditional writes are judged by (default: the system's). */
  clock?: Clock;
  /** Told of every group written or failed (metrics, health). */
  observer?: CommitObserver;
  /**
   * `false` (the default): SQLite's own COMMIT fsync (synchronous=FULL).
   * Or durability through the commit log at `<path>.commit-log` (`bytes` is
   * its preallocated size): measured in the DHCPv4 bench, it cost more CPU
   * per DORA and more latency than SQLite's fsync on the project's VM (each
   * group still runs its SQLite transaction, now plus a log write), so it is
   * not the default. Either way a log left by an earlier run is replayed at
   * open.
   */
  commitLog?: false | { bytes?: number };
  /** The gather window of the group committer (default DEFAULT_COMMIT_WAIT_MS; 0 = never wait). */
  maxCommitWaitMs?: number;
}

/**
 * Opens (creating if needed) the SQLite lease store at `path`. Any problem —
 * missing directory, a directory, not a database, not writable, a newer
 * schema — throws `StoreError` with one line naming the path, so the server
 * fails at start rather than at its first ACK.
 */
export function openSqliteLeaseStore(path: string, opts: SqliteLeaseStoreOptions = {}): SqliteLeaseStore {
  let db: Database.Database | undefined;
  let log: SqliteCommitLog | undefined;
  try {
    db = openDatabase(path);
    migrate(db);
    if (opts.commitLog === undefined || opts.commitLog === false) replayLeftoverLog(db, commitLogPath(path));
    else log = new SqliteCommitLog(db, commitLogPath(path), opts.commitLog.bytes);
  } catch (err) {
    db?.close();
    throw new StoreError(path, `cannot open: ${describeOpenFailure(path, err)}`, { cause: err });
  }
  return new SqliteLeaseStore(path, db, { ...opts, log });
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
 * The store. Writes run on the event loop's thread: a group blocks it for
 * one sync (the commit log's fdatasync, or SQLite's COMMIT fsync), and
 * packets queue in the socket buffer meanwhile, so the next group is larger
 * (the store batches itself under load, and the gather window adds to that).
 * A writer thread was tried and measured: on two cores its hand-offs cost
 * more CPU per lease than the blocking saved (make bench, see
 * test/bench/README.md).
 */
export class SqliteLeaseStore implements ConditionalLeaseStore {
  readonly #db: Database.Database;
  readonly #committer: GroupCommitter;
  readonly #selectAll: Database.Statement<[], LeaseRow>;
  readonly #selectQueue: Database.Statement<[], { change: string }>;
  readonly #selectReservations: Database.Statement<[], ReservationRow>;
  readonly #log: SqliteCommitLog | undefined;

  /** Use `openSqliteLeaseStore`. */
  constructor(
    readonly path: string,
    db: Database.Database,
    opts: Omit<SqliteLeaseStoreOptions, 'commitLog'> & { log?: SqliteCommitLog } = {},
  ) {
    this.#db = db;
    this.#log = opts.log;
    this.#selectAll = db.prepare<[], LeaseRow>('SELECT * FROM leases');
    this.#selectQueue = db.prepare<[], { change: string }>('SELECT change FROM dns_queue ORDER BY seq');
    this.#selectReservations = db.prepare<[], ReservationRow>('SELECT * FROM reservations');
    const log = opts.log;
    const now = () => (opts.clock ?? Date).now();
    const write = log ? (changes: readonly ConditionalLeaseChange[]) => log.write(changes, now()) : prepareGroupWriter(db, now);
    this.#committer = new GroupCommitter(path, write, opts.maxBatch, opts.observer, { maxWaitMs: opts.maxCommitWaitMs ?? DEFAULT_COMMIT_WAIT_MS });
  }

  /** What the commit log replayed at open (undefined without one). */
  get replay(): ReplayReport | undefined {
    return this.#log?.replay;
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
    try {
      await this.#committer.close();
      this.#log?.close();
    } finally {
      this.#db.close();
    }
  }

  stats(): LeaseStoreStats {
    return this.#committer.stats();
  }
}
