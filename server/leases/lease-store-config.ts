/**
 * The `leaseStore` section: where leases are kept. SQLite (a file, the
 * embedded default for one server) or PostgreSQL (a database several
 * servers can share). config/leasehold.example.yaml documents each field.
 */
export type LeaseStoreConfig = SqliteLeaseStoreConfig | PostgresLeaseStoreConfig;

export interface SqliteLeaseStoreConfig {
  type: 'sqlite';
  path: string;
  /**
   * The group committer's gather window in microseconds (absent: the
   * store's default, DEFAULT_COMMIT_WAIT_MS). Longer groups more leases
   * under one fsync (less CPU per lease) and adds up to this much to
   * REQUEST→ACK while requests arrive faster than it; 0: never wait.
   */
  commitWaitUs?: number;
}

/** `leaseStore.commitWaitUs`: at most 5 ms, well under a client's first retransmission (RFC 2131 §4.1: 4 s). */
export const SQLITE_COMMIT_WAIT_US_MAX = 5000;

/** Exactly one of `url` and `host` (with `database` and `user`) is set. */
export interface PostgresLeaseStoreConfig {
  type: 'postgresql';
  /** A libpq URL without a password (`postgresql://user@host:port/db`, `?host=/socket/dir`). */
  url?: string;
  /** An IP address, a name, or a directory holding the server's Unix socket. */
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  /** A file whose first line is the password; not readable by every user. */
  passwordFile?: string;
  /** Connections at most: the commit connection, the store's session and reads. */
  poolSize: number;
  /** SET statement_timeout; the client gives up on an answer a second after. */
  statementTimeoutMs: number;
  /** SET lock_timeout. */
  lockTimeoutMs: number;
  connectTimeoutMs: number;
  /** Most commits folded into one transaction. */
  maxBatch: number;
  /** Start even when the database runs with fsync=off (an ACKed lease may then be lost in a crash). */
  allowUnsafeDurability: boolean;
  /**
   * Several servers serve from this database at once: no server holds it
   * alone, and every lease write is conditional, judged by the database
   * (one binding per address, one per client and subnet). Default false:
   * the database is this server's alone, and a second one is refused.
   */
  shared: boolean;
}

/** Several servers write this store at once (only a PostgreSQL store can be shared). */
export function isSharedStore(config: LeaseStoreConfig): boolean {
  return config.type === 'postgresql' && config.shared;
}

/** `--store PATH`: another SQLite file for one run. PostgreSQL has no path to override. */
export function withSqlitePath(config: LeaseStoreConfig, path: string): LeaseStoreConfig {
  if (config.type !== 'sqlite') throw new Error(`--store names an SQLite file, but leaseStore.type is ${config.type}`);
  return { ...config, path };
}

export const POSTGRES_DEFAULTS = {
  port: 5432,
  poolSize: 4,
  statementTimeoutMs: 5000,
  lockTimeoutMs: 2000,
  connectTimeoutMs: 3000,
  // Each put of a group takes up to two advisory locks, held to its commit;
  // PostgreSQL's lock table has max_locks_per_transaction (64) ×
  // max_connections (100) slots for everybody, so groups stay smaller than
  // SQLite's.
  maxBatch: 256,
} as const;

export const POSTGRES_LIMITS = {
  poolSize: { min: 3, max: 32 },
  statementTimeoutMs: { min: 100, max: 600_000 },
  lockTimeoutMs: { min: 10, max: 600_000 },
  connectTimeoutMs: { min: 100, max: 600_000 },
  maxBatch: { min: 1, max: 1024 },
} as const;
