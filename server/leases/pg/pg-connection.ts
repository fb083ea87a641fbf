import { readFile, stat } from 'node:fs/promises';
import pg from 'pg';
import { LeaseholdError } from '../../../lib/core/errors.ts';
import type { PostgresLeaseStoreConfig } from '../lease-store-config.ts';
import { StoreError } from '../store-error.ts';
import { describeTarget, targetFields } from './postgres-target.ts';

/**
 * The connections of a PostgreSQL lease store: one node-postgres pool whose
 * every session is set up for durability (synchronous_commit=on: a COMMIT
 * returns once its WAL is flushed, so a resolved commit is on disk) and
 * for failing fast (statement and lock timeouts on the server, a query
 * timeout on the client for a connection that no longer answers at all).
 * Every error leaves here as one line without the password.
 */

/** One line naming what went wrong; `connection` when the session is gone (the pool discards it). */
export class PgError extends LeaseholdError {
  readonly code = 'E_PG';

  constructor(
    message: string,
    readonly sqlState: string | undefined,
    readonly connection: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** SQLSTATE classes and codes that mean the session or the server is gone, not that the statement was wrong. */
const CONNECTION_STATES = /^(08|57P0[1-4]|53300)/;
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EACCES', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECTION_MESSAGES = /^(Connection terminated|timeout expired|Query read timeout|Client has encountered a connection error|Connection ended)/;

/** Any error of node-postgres or the socket under it, as a `PgError` with one line, the password masked. */
export function toPgError(err: unknown, password?: string): PgError {
  if (err instanceof PgError) return err;
  const e = err as { message?: unknown; code?: unknown; detail?: unknown };
  const text = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  const sqlState = err instanceof pg.DatabaseError && typeof e.code === 'string' ? e.code : undefined;
  let message = text;
  if (sqlState !== undefined) {
    if (typeof e.detail === 'string' && e.detail !== '') message += `: ${e.detail}`;
    message += ` (SQLSTATE ${sqlState})`;
  }
  const connection =
    (sqlState !== undefined && CONNECTION_STATES.test(sqlState)) ||
    (typeof e?.code === 'string' && CONNECTION_ERRNOS.has(e.code)) ||
    CONNECTION_MESSAGES.test(text);
  return new PgError(mask(oneLine(message), password), sqlState, connection, { cause: err });
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function mask(text: string, password: string | undefined): string {
  return password ? text.split(password).join('***') : text;
}

/**
 * The first line of `passwordFile`. Refused when every user may read it: a
 * password anyone can read is no password (libpq's ~/.pgpass rule).
 */
export async function readPasswordFile(path: string): Promise<string> {
  let mode: number;
  let text: string;
  try {
    mode = (await stat(path)).mode;
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`leaseStore.passwordFile ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if ((mode & 0o004) !== 0) {
    throw new Error(`leaseStore.passwordFile ${path}: every user may read it (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`);
  }
  const password = text.split(/\r?\n/, 1)[0];
  if (password === '') throw new Error(`leaseStore.passwordFile ${path}: the first line is empty`);
  return password;
}

export interface PgDatabaseOptions {
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** A pooled session died while idle (the server restarted, the network went): the pool replaces it. */
  onIdleError?: (err: PgError) => void;
}

type Queryable = { query: (text: string, values?: unknown[]) => Promise<pg.QueryResult> };

/** A session of its own, for what must stay on one connection (a session advisory lock). */
export interface PgSession {
  query<R extends object>(text: string, values?: unknown[]): Promise<R[]>;
  /** Gives the session back; `broken` discards it. */
  release(broken?: boolean): void;
}

// Our pool's own type parsers (not node-postgres's global ones): bigint
// (int8) columns hold millisecond times and sequence numbers, all below
// 2^53, so they are read as numbers.
const INT8_OID = 20;
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export class PgDatabase {
  readonly #pool: pg.Pool;
  readonly #password: string | undefined;
  #closed = false;

  private constructor(
    /** The store's name in every message: its URL without a password. */
    readonly target: string,
    pool: pg.Pool,
    password: string | undefined,
  ) {
    this.#pool = pool;
    this.#password = password;
  }

  /**
   * Connects once, to fail at start with one clear line rather than at the
   * first commit: StoreError `lease store <url>: cannot connect: <why>`.
   */
  static async open(config: PostgresLeaseStoreConfig, opts: PgDatabaseOptions = {}): Promise<PgDatabase> {
    const target = describeTarget(config);
    let password: string | undefined;
    try {
      password = config.passwordFile === undefined ? undefined : await readPasswordFile(config.passwordFile);
    } catch (err) {
      throw new StoreError(target, (err as Error).message, { cause: err });
    }
    const fields = targetFields(config);
    const pool = new pg.Pool({
      ...fields,
      // Nothing from the environment: the config says where (PGHOST and friends would be silently used otherwise).
      host: fields.host ?? 'localhost',
      port: fields.port ?? 5432,
      password,
      max: config.poolSize,
      connectionTimeoutMillis: config.connectTimeoutMs,
      query_timeout: config.statementTimeoutMs + 1000,
      keepAlive: true,
      application_name: opts.applicationName ?? 'leasehold-server',
      options: [
        '-c synchronous_commit=on',
        `-c statement_timeout=${config.statementTimeoutMs}`,
        `-c lock_timeout=${config.lockTimeoutMs}`,
        // A session left inside a transaction would hold back every reader of changes.
        `-c idle_in_transaction_session_timeout=${Math.max(10_000, 2 * config.statementTimeoutMs)}`,
      ].join(' '),
      types: TYPES,
    });
    pool.on('error', (err) => opts.onIdleError?.(toPgError(err, password)));
    const db = new PgDatabase(target, pool, password);
    try {
      const client = await pool.connect();
      client.release();
    } catch (err) {
      await db.close();
      throw new StoreError(target, `cannot connect: ${toPgError(err, password).message}`, { cause: err });
    }
    return db;
  }

  /** One statement on any pooled session; rejects with a `PgError`. */
  async query<R extends object>(text: string, values?: unknown[]): Promise<R[]> {
    return this.#run(this.#pool, text, values);
  }

  /** `fn` inside BEGIN … COMMIT on one session (ROLLBACK if it throws). */
  async transaction<T>(
    fn: (tx: { query<R extends object>(text: string, values?: unknown[]): Promise<R[]> }) => Promise<T>,
    begin = 'BEGIN',
  ): Promise<T> {
    const session = await this.session();
    let broken = false;
    try {
      await session.query(begin);
      const result = await fn(session);
      await session.query('COMMIT');
      return result;
    } catch (err) {
      const error = toPgError(err, this.#password);
      broken = error.connection;
      if (!broken) await session.query('ROLLBACK').catch(() => (broken = true));
      throw error;
    } finally {
      session.release(broken);
    }
  }

  /**
   * A session of one's own until `release`. A session that dies meanwhile
   * calls `onError` (node-postgres would otherwise throw its error event at
   * the process: a pool watches only its idle sessions).
   */
  async session(onError: (err: PgError) => void = () => undefined): Promise<PgSession> {
    const client = await this.#connect();
    const listener = (err: Error) => onError(toPgError(err, this.#password));
    client.on('error', listener);
    let released = false;
    return {
      query: (text, values) => this.#run(client, text, values),
      release: (broken = false) => {
        if (released) return;
        released = true;
        client.removeListener('error', listener);
        client.release(broken);
      },
    };
  }

  /** An error of ours in the store's words: `lease store <url>: <what>: <why>`. */
  storeError(what: string, err: unknown): StoreError {
    return new StoreError(this.target, `${what}: ${toPgError(err, this.#password).message}`, { cause: err });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (err) {
      throw toPgError(err, this.#password);
    }
  }

  async #run<R extends object>(on: Queryable, text: string, values?: unknown[]): Promise<R[]> {
    try {
      return (await on.query(text, values)).rows as R[];
    } catch (err) {
      throw toPgError(err, this.#password);
    }
  }
}
