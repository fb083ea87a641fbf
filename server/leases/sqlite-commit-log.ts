import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { CommitLog } from './commit-log.ts';
import type { CommitOutcome, ConditionalLeaseChange, LeaseChange } from './lease-store.ts';
import { unconditional } from './lease-expectation.ts';
import { prepareGroupApplier } from './sqlite-schema.ts';

/** Where a store's commit log lives, next to its database (SQLite itself uses -wal and -shm). */
export function commitLogPath(dbPath: string): string {
  return `${dbPath}.commit-log`;
}

/** What replay found at open, for logs and tests. */
export interface ReplayReport {
  /** Records applied to SQLite because it had lost them (a crash). */
  replayed: number;
  /** Records that SQLite already had. */
  skipped: number;
}

/**
 * SQLite made durable by a commit log instead of its own COMMIT fsync.
 *
 * Each group runs in one SQLite transaction with synchronous=NORMAL (WAL:
 * a COMMIT writes the WAL but does not sync it): its statements first, so a
 * constraint failure rejects the group with nothing written anywhere; then
 * the group is appended to the log and fdatasync'd; then COMMIT. The commit
 * promises resolve after that, so a lease is on disk (in the log) before its
 * ACK. SQLite stays current in memory and in the OS cache; the log covers
 * what a power loss can take from it. The same transaction sets
 * `commit_log_state.applied_seq` to the record's sequence number, so SQLite
 * says exactly which records it holds.
 *
 * At open, records after `applied_seq` are applied (replay); then SQLite is
 * synced and the log written from offset 0 again. When the log is full, the
 * same happens: one synced SQLite commit (a sync barrier), then offset 0.
 */
export class SqliteCommitLog {
  readonly #db: Database.Database;
  readonly #log: CommitLog;
  readonly #apply: GroupApplier;
  readonly #setApplied: Database.Statement<[number]>;
  readonly #transaction: (changes: readonly ConditionalLeaseChange[], at: number) => CommitOutcome[];
  #nextSeq: number;
  /** Whether the group being written got as far as the log. */
  #logReached = false;
  /** Set when a group failed after its record may have reached the log: SQLite and the log may disagree. */
  #broken: Error | undefined;
  readonly replay: ReplayReport;

  constructor(db: Database.Database, logPath: string, logBytes?: number) {
    this.#db = db;
    this.#apply = prepareGroupApplier(db);
    this.#setApplied = db.prepare<[number]>('UPDATE commit_log_state SET applied_seq = ? WHERE id = 1');
    const run = db.transaction((changes: readonly ConditionalLeaseChange[], at: number) => {
      const outcomes = this.#apply(changes, at);
      // The log holds what was written, not what was asked: a change that
      // lost its expectation wrote nothing, and a replay must not judge again.
      const written = changes.filter((_, i) => outcomes[i].kind === 'committed').map(effectOf);
      this.#setApplied.run(this.#nextSeq);
      this.#logReached = true;
      this.#log.append(CommitLog.encode(this.#nextSeq, JSON.stringify(written)));
      return outcomes;
    });
    this.#transaction = (changes, at) => run.immediate(changes, at);
    this.#log = new CommitLog(logPath, logBytes);
    try {
      const { report, lastSeq } = replayInto(db, this.#log, this.#apply, this.#setApplied);
      this.replay = report;
      this.#nextSeq = lastSeq + 1;
      syncBarrier(db);
      db.pragma('synchronous = NORMAL');
      this.#log.restart();
    } catch (err) {
      this.#log.close();
      throw err;
    }
  }

  /** Writes one group (see the class comment); throws if it is not durable. */
  write(changes: readonly ConditionalLeaseChange[], at: number): CommitOutcome[] {
    if (this.#broken) throw this.#broken;
    // Sized for every change written: the record of those that are is no larger.
    const record = CommitLog.encode(this.#nextSeq, JSON.stringify(changes.map(effectOf)));
    if (record.length > this.#log.size) throw new RangeError(`a group of ${record.length} bytes is larger than the commit log (${this.#log.size} bytes)`);
    if (!this.#log.fits(record.length)) {
      // Everything in the log must be durable in SQLite before it is overwritten.
      syncBarrier(this.#db);
      this.#log.restart();
    }
    this.#logReached = false;
    let outcomes: CommitOutcome[];
    try {
      outcomes = this.#transaction(changes, at);
    } catch (err) {
      if (this.#logReached) {
        // The record may be on disk (and would be replayed) although SQLite did not take it.
        this.#nextSeq += 1;
        this.#broken = new Error(`the commit log and the database disagree after a failed write; restart the server to replay the log (${String(err)})`);
      }
      throw err;
    }
    this.#nextSeq += 1;
    return outcomes;
  }

  /** Syncs SQLite (so the log is not needed at the next open) and closes the log. */
  close(): void {
    try {
      if (!this.#broken) syncBarrier(this.#db);
    } finally {
      this.#log.close();
    }
  }
}

/**
 * Applies the records SQLite does not hold yet, in one transaction that
 * holds the write lock, so a second process opening the store (the CLI)
 * while the server writes sees `applied_seq` and the log consistently.
 */
function replayInto(
  db: Database.Database,
  log: CommitLog,
  apply: GroupApplier,
  setApplied: Database.Statement<[number]>,
): { report: ReplayReport; lastSeq: number } {
  return db.transaction(() => {
    const applied = db.prepare('SELECT applied_seq FROM commit_log_state WHERE id = 1').pluck().get() as number;
    const { records } = log.recover();
    let lastSeq = applied;
    const report: ReplayReport = { replayed: 0, skipped: 0 };
    for (const record of records) {
      if (record.seq <= applied) {
        report.skipped += 1;
      } else {
        // Each record holds effects already judged when written: applied as they are.
        apply((JSON.parse(record.payload.toString('utf8')) as LeaseChange[]).map(unconditional), 0);
        report.replayed += 1;
      }
      lastSeq = Math.max(lastSeq, record.seq);
    }
    if (report.replayed > 0) setApplied.run(lastSeq);
    return { report, lastSeq };
  }).immediate();
}

/**
 * One COMMIT with synchronous=FULL: it fsyncs the WAL, which makes every
 * earlier COMMIT (written with NORMAL, not synced) durable too.
 */
function syncBarrier(db: Database.Database): void {
  const mode = db.pragma('synchronous', { simple: true }) as number;
  db.pragma('synchronous = FULL');
  try {
    db.prepare('UPDATE commit_log_state SET applied_seq = applied_seq WHERE id = 1').run();
  } finally {
    db.pragma(`synchronous = ${mode}`);
  }
}

/**
 * Applies what a commit log left behind, for a store opened without one
 * (SQLite's own COMMIT fsync): nothing acknowledged through the log is lost
 * when the server is switched back.
 */
export function replayLeftoverLog(db: Database.Database, logPath: string): void {
  if (!existsSync(logPath)) return;
  const log = new CommitLog(logPath, 4096);
  try {
    const apply = prepareGroupApplier(db);
    const setApplied = db.prepare<[number]>('UPDATE commit_log_state SET applied_seq = ? WHERE id = 1');
    if (replayInto(db, log, apply, setApplied).report.replayed > 0) syncBarrier(db);
  } finally {
    log.close();
  }
}

type GroupApplier = (changes: readonly ConditionalLeaseChange[], at: number) => CommitOutcome[];

/** What a change writes, without the expectations it was judged by. */
function effectOf(change: ConditionalLeaseChange): LeaseChange {
  return { ...change, put: change.put?.map((w) => w.lease) };
}
