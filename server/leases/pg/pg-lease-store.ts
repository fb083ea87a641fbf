import type { Logger } from '../../../lib/core/logger.ts';
import type { LeaseCounts } from '../lease-counts.ts';
import type { DnsChange } from '../dns-change.ts';
import type { Lease } from '../lease.ts';
import type { CommitObserver, CommitOutcome, ConditionalLeaseChange, ConditionalLeaseStore, LeaseChange, LeaseStoreStats } from '../lease-store.ts';
import type { StoredReservation } from '../reservation.ts';
import type { PostgresLeaseStoreConfig } from '../lease-store-config.ts';
import { GroupCommitter, type ChangeResult } from '../group-committer.ts';
import { unconditional } from '../lease-expectation.ts';
import { LeaseSnapshot } from '../lease-snapshot.ts';
import { StoreError } from '../store-error.ts';
import { PgDatabase, toPgError, type PgError, type PgSession } from './pg-connection.ts';
import { LOCK_CLASS_SOLE_SERVER, type Migration } from './pg-migrations.ts';
import { checkSchema } from './pg-schema-admin.ts';
import { keyedReservation } from './pg-import.ts';
import type { ClaimSettings, DnsClaimQueue, LeaderLock, SharedQueueStore } from '../dns-claims.ts';
import { pgDnsClaimQueue, pgLeaderLock } from './pg-dns-queue.ts';

export interface PgLeaseStoreOptions {
  /** This server's name: written as each lease's `granted_by`, each DNS row's `created_by`, and in notifications. */
  serverName: string;
  /** For the start-up check's "run: leasehold-server db … --config FILE". */
  configPath?: string;
  logger?: Logger;
  /**
   * Hold the database for this process alone, as a server without HA
   * settings must (its decisions assume nobody else writes): a session
   * advisory lock, refused at open when another process holds it, and
   * taken again before the next group after a lost connection.
   */
  soleServer?: boolean;
  /** Several servers queue DNS changes here: the database numbers them (a server's own numbers would collide). */
  sharedDnsQueue?: boolean;
  /** DNS rows a group queues are claimed by this server for this long (HA); absent: left unclaimed. */
  dnsClaimMs?: number;
  /** The migrations the schema is checked against (tests give others). */
  migrations?: readonly Migration[];
  /** Told of every group written or failed (metrics, health). */
  observer?: CommitObserver;
}

/**
 * Connects, checks the database is fit to keep leases (fsync on, unless
 * the config allows otherwise; synchronous_commit on; a schema this server
 * knows), takes the sole-server lock when asked, and reads the leases and
 * the DNS queue. Every refusal is a StoreError with one line naming the
 * store (and the command to run, for the schema); the caller prints it and
 * exits 1.
 */
export async function openPgLeaseStore(config: PostgresLeaseStoreConfig, opts: PgLeaseStoreOptions): Promise<PgLeaseStore> {
  return PgLeaseStore.open(config, opts);
}

/** I3: a lease is ACKed only once durable. A cluster with fsync=off can lose a committed transaction in a crash. */
async function checkDurability(db: PgDatabase, config: PostgresLeaseStoreConfig): Promise<void> {
  const [{ fsync, synchronous_commit: syncCommit }] = await db.query<{ fsync: string; synchronous_commit: string }>(
    "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit",
  );
  if (fsync !== 'on' && !config.allowUnsafeDurability) {
    throw new StoreError(db.target, 'the database runs with fsync=off, so a lease it acknowledged could be lost in a crash; fix the server, or set leaseStore.allowUnsafeDurability: true');
  }
  // Our sessions set it on; a value other than on means something overrides them (and a COMMIT would not wait for the disk).
  if (syncCommit !== 'on') throw new StoreError(db.target, `synchronous_commit is ${syncCommit} in our session, not on`);
}

const NOT_SOLE = 'another leasehold-server serves from this database; a database serves one server until servers are set up for high availability';

/** Leases, queue and reservations in one statement, so from one snapshot. */
async function readSnapshot(db: PgDatabase, what: { leases: boolean } = { leases: true }): Promise<LeaseSnapshot> {
  const leases = what.leases ? "(SELECT coalesce(jsonb_agg(lh_lease_json(l)), '[]'::jsonb) FROM leases l)" : "'[]'::jsonb";
  const [row] = await db.query<{ leases: Lease[]; queue: DnsChange[]; reservations: StoredReservation[] }>(
    `SELECT ${leases} AS leases,
            (SELECT coalesce(jsonb_agg(q.change || jsonb_build_object('seq', q.seq) ORDER BY q.seq), '[]'::jsonb) FROM dns_queue q) AS queue,
            (SELECT coalesce(jsonb_agg(lh_reservation_json(r)), '[]'::jsonb) FROM reservations r) AS reservations`,
  );
  return new LeaseSnapshot(row.leases, row.queue, row.reservations);
}

/**
 * The group as lh_commit_group reads it: each reservation with its lease
 * key. On a shared database the sequence numbers the DNS queue's rows:
 * a writer's own numbers would collide with another server's.
 */
function groupJson(changes: readonly ConditionalLeaseChange[], numberedByDatabase: boolean): string {
  return JSON.stringify(
    changes.map((c) => {
      const keyed = c.reserve === undefined ? c : { ...c, reserve: c.reserve.map(keyedReservation) };
      return numberedByDatabase && c.enqueue !== undefined ? { ...keyed, enqueue: c.enqueue.map(({ seq: _seq, ...rest }) => rest) } : keyed;
    }),
  );
}

/** Leases still quarantined after a DECLINE, by the database's clock. */
const QUARANTINED_SQL = "SELECT lh_lease_json(l) AS lease FROM leases l WHERE l.state = 'declined' AND l.expires_at > lh_now_ms()";

/**
 * countLeases() of server/leases/lease-counts.ts in SQL: one pass over the
 * table (lh_reusable is leaseIsReusable, held to it by a test), by the
 * database's clock as every condition is.
 */
const COUNT_SQL = `SELECT subnet_id AS "subnetId",
       count(*) FILTER (WHERE state = 'bound' AND NOT lh_reusable(state, expires_at, t.now))::int AS assigned,
       count(*) FILTER (WHERE state = 'declined' AND NOT lh_reusable(state, expires_at, t.now))::int AS declined,
       count(*)::int AS records
  FROM leases, (SELECT lh_now_ms() AS now) t
 GROUP BY subnet_id`;

/** SQLSTATEs after which only the guilty change of a group should fail: unique violation, deadlock, serialization failure. */
const ONE_BY_ONE = new Set(['23505', '40P01', '40001']);

/**
 * The PostgreSQL lease store. Every group is one call of
 * `lh_commit_group` (pg-migrations.ts) in autocommit: one transaction, one
 * round trip, durable when it answers. `commit` is `commitConditional` with
 * every put unconditional, so the same function serves this single-server
 * contract today and the conditional writes of several servers.
 *
 * `loadAll`, `loadDnsQueue` and `loadReservations` answer from the copy read at open and kept
 * in step with every group this store writes (and with the rows a lost
 * change reports): the database as this server knows it, which with the
 * sole-server lock is the database.
 */
export class PgLeaseStore implements ConditionalLeaseStore, SharedQueueStore {
  readonly #db: PgDatabase;
  #rows = new LeaseSnapshot();
  readonly #committer: GroupCommitter;
  readonly #serverName: string;
  readonly #dnsClaimMs: number | undefined;
  readonly #soleServer: boolean;
  readonly #sharedDnsQueue: boolean;
  readonly #logger: Logger | undefined;
  #sole: PgSession | undefined;
  /** The sole-server lock's session died: take the lock again before the next group. */
  #soleLost = false;
  #closed = false;

  private constructor(db: PgDatabase, opts: PgLeaseStoreOptions & { maxBatch?: number }) {
    this.#db = db;
    this.#serverName = opts.serverName;
    this.#dnsClaimMs = opts.dnsClaimMs;
    this.#soleServer = opts.soleServer ?? false;
    this.#sharedDnsQueue = opts.sharedDnsQueue ?? false;
    this.#logger = opts.logger;
    this.#committer = new GroupCommitter(db.target, (changes) => this.#writeGroup(changes), opts.maxBatch, opts.observer);
  }

  /** See `openPgLeaseStore`. */
  static async open(config: PostgresLeaseStoreConfig, opts: PgLeaseStoreOptions): Promise<PgLeaseStore> {
    const logger = opts.logger;
    const db = await PgDatabase.open(config, {
      applicationName: `leasehold-server:${opts.serverName}`,
      onIdleError: (err) => logger?.warn('lease-store-connection-lost', { store: db.target, err: err.message }),
    });
    const store = new PgLeaseStore(db, { ...opts, maxBatch: config.maxBatch });
    try {
      await checkDurability(db, config);
      const verdict = await checkSchema(db, { configPath: opts.configPath, migrations: opts.migrations });
      if (verdict.kind === 'newer-compatible') {
        logger?.warn('lease-store-schema-newer', { store: db.target, schema: verdict.found.version, note: 'this server can run on it; upgrade the server when you can' });
      }
      // Before reading: a second server is turned away before it has seen anything.
      if (store.#soleServer) await store.#holdSoleLock();
      store.#rows = await readSnapshot(db);
      return store;
    } catch (err) {
      store.#closed = true;
      store.#sole?.release(true);
      await db.close();
      throw err instanceof StoreError ? err : db.storeError('cannot open', err);
    }
  }

  /** The store's URL, without a password, as every message names it. */
  get target(): string {
    return this.#db.target;
  }

  loadAll(): Lease[] {
    return this.#rows.leases();
  }

  loadDnsQueue(): DnsChange[] {
    return this.#rows.dnsQueue();
  }

  loadReservations(): StoredReservation[] {
    return this.#rows.reservations();
  }

  async commit(change: LeaseChange): Promise<void> {
    await this.#committer.submit(unconditional(change));
  }

  commitConditional(change: ConditionalLeaseChange): Promise<CommitOutcome> {
    return this.#committer.submit(change);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#committer.close();
    } finally {
      // Unlocked before the session goes: ending it frees the lock too, but
      // only once the server has noticed, which a server started right
      // after us could beat.
      const sole = this.#sole;
      this.#sole = undefined;
      if (sole) {
        await sole.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_CLASS_SOLE_SERVER]).catch(() => undefined);
        sole.release(true);
      }
      await this.#db.close();
    }
  }

  stats(): LeaseStoreStats {
    return this.#committer.stats();
  }

  dnsClaimQueue(settings: ClaimSettings): DnsClaimQueue {
    return pgDnsClaimQueue(this.#db, this.#serverName, settings);
  }

  reconcilerLeader(): LeaderLock {
    return pgLeaderLock(this.#db);
  }

  async readLeases(): Promise<Lease[]> {
    return (await readSnapshot(this.#db)).leases();
  }

  async readReservations(): Promise<StoredReservation[]> {
    return (await readSnapshot(this.#db, { leases: false })).reservations();
  }

  async readQuarantined(): Promise<Lease[]> {
    return (await this.#db.query<{ lease: Lease }>(QUARANTINED_SQL)).map((r) => r.lease);
  }

  async countLeases(): Promise<LeaseCounts[]> {
    return this.#db.query<LeaseCounts>(COUNT_SQL);
  }

  async #writeGroup(changes: readonly ConditionalLeaseChange[]): Promise<ChangeResult[]> {
    if (this.#soleServer) await this.#holdSoleLock();
    let results: ChangeResult[];
    try {
      results = await this.#call(changes);
    } catch (err) {
      const error = toPgError(err);
      if (changes.length < 2 || error.sqlState === undefined || !ONE_BY_ONE.has(error.sqlState)) throw error;
      // Not a race between servers (the locks rule those out) but a row
      // the conditions do not cover, e.g. an unconditional second binding
      // of one client: find the change the database refuses, alone.
      results = [];
      for (const change of changes) {
        try {
          results.push(...(await this.#call([change])));
        } catch (single) {
          const failure = toPgError(single);
          if (failure.connection) throw failure;
          results.push({ kind: 'failed', error: failure });
        }
      }
    }
    this.#rows.applyResults(changes, results);
    return results;
  }

  async #call(changes: readonly ConditionalLeaseChange[]): Promise<CommitOutcome[]> {
    const [{ outcomes }] = await this.#db.query<{ outcomes: CommitOutcome[] }>('SELECT lh_commit_group($1, $2, $3::jsonb) AS outcomes', [
      this.#serverName,
      this.#dnsClaimMs ?? null,
      groupJson(changes, this.#sharedDnsQueue),
    ]);
    if (!Array.isArray(outcomes) || outcomes.length !== changes.length) {
      throw new Error(`lh_commit_group answered ${JSON.stringify(outcomes)?.slice(0, 80)} for ${changes.length} change(s)`);
    }
    return outcomes;
  }

  /** After the lock's session was lost (a restart of PostgreSQL), take it again before writing, or write nothing. */
  async #holdSoleLock(): Promise<void> {
    if (this.#sole !== undefined && !this.#soleLost) return;
    this.#sole?.release(true);
    this.#sole = undefined;
    this.#soleLost = false;
    const session = await this.#db.session((err) => this.#loseSoleLock(err));
    try {
      const [{ locked }] = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS locked', [LOCK_CLASS_SOLE_SERVER]);
      if (!locked) throw new StoreError(this.#db.target, NOT_SOLE);
    } catch (err) {
      session.release(true);
      throw err;
    }
    this.#sole = session;
  }

  #loseSoleLock(err: PgError): void {
    this.#soleLost = true;
    this.#logger?.warn('lease-store-connection-lost', { store: this.#db.target, err: err.message, session: 'sole-server lock' });
  }
}
