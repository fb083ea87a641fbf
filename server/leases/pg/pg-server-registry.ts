import type { PostgresLeaseStoreConfig } from '../lease-store-config.ts';
import { PgDatabase } from './pg-connection.ts';

/**
 * The `servers` heartbeat table (schema version 2's lh_claim_server and
 * lh_heartbeat), on a connection of its own: a heartbeat must not wait
 * behind a queue of lease commits, or a busy server would look dead.
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

export async function openServerRegistry(config: PostgresLeaseStoreConfig): Promise<ServerRegistry> {
  // Two sessions: a heartbeat stuck on a dead connection must not hold the next one.
  const db = await PgDatabase.open({ ...config, poolSize: 2 }, { applicationName: 'leasehold-server heartbeat' });
  return {
    async claim(name, incarnation, addresses, staleMs) {
      try {
        const [r] = await db.query<{ age: number | null }>('SELECT lh_claim_server($1, $2, $3::inet[], $4, $5) AS age', [
          name,
          incarnation,
          addresses,
          'leasehold-server',
          staleMs,
        ]);
        return r.age ?? undefined;
      } catch (err) {
        throw db.storeError(`claiming ha.serverName ${name}`, err);
      }
    },
    async heartbeat(name, incarnation, state, serving, clockSkewMs) {
      const rows = await db.query<Row>('SELECT * FROM lh_heartbeat($1, $2, $3, $4, $5)', [name, incarnation, state, serving, clockSkewMs ?? null]);
      if (rows.length === 0) return 'lost';
      return {
        dbMs: rows[0].db_ms,
        rows: rows.map((r) => ({ serverName: r.server_name, state: r.state, addresses: inetList(r.addresses), ageMs: r.age_ms, serving: r.serving })),
      };
    },
    close: () => db.close(),
  };
}
