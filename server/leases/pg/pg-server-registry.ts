import type { PostgresLeaseStoreConfig } from '../lease-store-config.ts';
import { PgDatabase, toPgError, type PgSession } from './pg-connection.ts';
import { LOCK_CLASS_SERVER_NAME } from './pg-migrations.ts';

/**
 * The `servers` heartbeat table (schema version 2's lh_claim_server and
 * lh_heartbeat), on a connection of its own: a heartbeat must not wait
 * behind a queue of lease commits, or a busy server would look dead. The
 * same connection holds the name lock (see openServerRegistry).
 */

export interface HeartbeatRow {
  serverName: string;
  state: 'starting' | 'active' | 'stopped';
  addresses: string[];
  /** now() − last_seen, by the database's clock. */
  ageMs: number;
  serving: string;
}

export interface HeartbeatResult {
  rows: HeartbeatRow[];
  /** The database's clock when it answered (ms since the epoch). */
  dbMs: number;
}

export interface ServerRegistry {
  /** Takes the name; undefined when taken, else the age in ms of the running holder that keeps it. */
  claim(name: string, incarnation: string, addresses: readonly string[], staleMs: number): Promise<number | undefined>;
  /** Stamps our row and reads every row; `lost` when our row is gone or another process took the name. */
  heartbeat(name: string, incarnation: string, state: 'starting' | 'active' | 'stopped', serving: string, clockSkewMs: number | undefined): Promise<HeartbeatResult | 'lost'>;
  close(): Promise<void>;
}

interface Row {
  server_name: string;
  state: HeartbeatRow['state'];
  addresses: string[] | string;
  age_ms: number;
  db_ms: number;
  serving: string;
}

/** inet[] arrives as '{198.18.0.2,…}' (node-postgres parses no inet arrays). */
function inetList(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  const inner = value.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',');
}

/**
 * The heartbeat session: pinned (not pooled), and the holder of the name
 * lock (LOCK_CLASS_SERVER_NAME) once it got it. `lost` once the session
 * died: the next call opens another.
 */
interface HeartbeatSession {
  session: PgSession;
  locked: boolean;
  lost: boolean;
}

/** Waits up to the session's lock_timeout: the backend of a process killed a moment ago may not have noticed yet. */
const WAIT_FOR_NAME = 'SELECT true AS locked FROM (SELECT pg_advisory_lock($1, hashtext($2))) AS l';
const TRY_NAME = 'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked';
/** lock_not_available: lock_timeout ran out. */
const LOCK_TIMEOUT = '55P03';

/**
 * Who may take a name: the process that gets the name lock takes it at
 * once whatever the row's age, because PostgreSQL frees a session lock
 * when the session ends, and the kernel ends it as the process dies (also
 * on SIGKILL). A process that cannot get the lock (a live holder, or the
 * session of a dead one that the database has not yet dropped, e.g.
 * behind a cut network) falls back to the row's age: taken only once
 * older than `staleMs`. Heartbeats go on without the lock (the row's
 * incarnation says whose the name is) and try to take it each time, so
 * that the next restart is quick again.
 */
export async function openServerRegistry(config: PostgresLeaseStoreConfig): Promise<ServerRegistry> {
  // Two sessions at most: the pinned one, and its replacement while a dead one is being let go.
  const db = await PgDatabase.open({ ...config, poolSize: 2 }, { applicationName: 'leasehold-server heartbeat' });
  let current: HeartbeatSession | undefined;

  /** The live heartbeat session, opened (and the lock tried) after a loss. */
  const sessionFor = async (name: string, wait: boolean): Promise<HeartbeatSession> => {
    if (current && !current.lost) {
      if (!current.locked) current.locked = await lockName(current, name, false);
      return current;
    }
    current?.session.release(true);
    current = undefined;
    const flags = { locked: false, lost: false };
    const opened: HeartbeatSession = Object.assign(flags, { session: await db.session(() => (flags.lost = true)) });
    try {
      opened.locked = await lockName(opened, name, wait);
    } catch (err) {
      opened.session.release(true);
      throw err;
    }
    current = opened;
    return opened;
  };

  /** On one session's query: a connection error means the session is gone. */
  const run = async <R extends object>(s: HeartbeatSession, text: string, values: unknown[]): Promise<R[]> => {
    try {
      return await s.session.query<R>(text, values);
    } catch (err) {
      if (toPgError(err).connection) s.lost = true;
      throw err;
    }
  };

  const lockName = async (s: HeartbeatSession, name: string, wait: boolean): Promise<boolean> => {
    try {
      const [{ locked }] = await run<{ locked: boolean }>(s, wait ? WAIT_FOR_NAME : TRY_NAME, [LOCK_CLASS_SERVER_NAME, name]);
      return locked;
    } catch (err) {
      if (toPgError(err).sqlState === LOCK_TIMEOUT) return false;
      throw err;
    }
  };

  return {
    async claim(name, incarnation, addresses, staleMs) {
      try {
        const s = await sessionFor(name, true);
        // With the lock, the name's last holder is gone: its row is ours whatever its age.
        const [r] = await run<{ age: number | null }>(s, 'SELECT lh_claim_server($1, $2, $3::inet[], $4, $5) AS age', [
          name,
          incarnation,
          addresses,
          'leasehold-server',
          s.locked ? 0 : staleMs,
        ]);
        return r.age ?? undefined;
      } catch (err) {
        throw db.storeError(`claiming ha.serverName ${name}`, err);
      }
    },
    async heartbeat(name, incarnation, state, serving, clockSkewMs) {
      const s = await sessionFor(name, false);
      const rows = await run<Row>(s, 'SELECT * FROM lh_heartbeat($1, $2, $3, $4, $5)', [name, incarnation, state, serving, clockSkewMs ?? null]);
      if (rows.length === 0) return 'lost';
      return {
        dbMs: rows[0].db_ms,
        rows: rows.map((r) => ({ serverName: r.server_name, state: r.state, addresses: inetList(r.addresses), ageMs: r.age_ms, serving: r.serving })),
      };
    },
    async close() {
      const held = current;
      current = undefined;
      if (held) {
        // Unlocked before the session goes, so a process started right after us never waits for the
        // database to notice (the session holds no other lock).
        if (held.locked && !held.lost) await held.session.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
        held.session.release(true);
      }
      await db.close();
    },
  };
}
