import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { DnsChange } from './dns-change.ts';
import type { Lease } from './lease.ts';
import { StoreError } from './store-error.ts';
import type { StoredReservation } from './reservation.ts';
import { SCHEMA_VERSION, fromReservationRow, fromRow, type LeaseRow, type ReservationRow } from './sqlite-schema.ts';

/**
 * The SQLite side of `db migrate-from sqlite:PATH`: everything a store
 * holds, read without writing a byte (opening a store the usual way
 * records the open in schema_version; a source must stay as it was).
 * Stop the server first: its last close checkpoints the WAL into the file.
 */

export interface StoreContents {
  leases: Lease[];
  /** In sequence order. */
  dnsQueue: DnsChange[];
  /** Reservations kept in the store (a store whose schema has a reservations table); those of the config file stay there. */
  reservations: StoredReservation[];
}

/** The path is no store to read (missing, not SQLite, not ours): the operator named the wrong thing. */
export class NotAStoreError extends StoreError {}

export function readSqliteStore(path: string): StoreContents {
  if (!existsSync(path)) throw new NotAStoreError(path, 'no such file');
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new NotAStoreError(path, `cannot open: ${(err as Error).message}`, { cause: err });
  }
  try {
    const tables = new Set(db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name));
    if (!tables.has('leases') || !tables.has('schema_version')) throw new NotAStoreError(path, 'not a Leasehold lease store (no leases or schema_version table)');
    const version = db.prepare<[], { version: number }>('SELECT version FROM schema_version WHERE id = 1').get()?.version;
    if (version !== undefined && version > SCHEMA_VERSION) {
      throw new StoreError(path, `schema version ${version} is newer than this leasehold-server reads (${SCHEMA_VERSION}); migrate with the server that wrote it`);
    }
    return db.transaction(() => ({
      leases: db.prepare<[], LeaseRow>('SELECT * FROM leases ORDER BY ip').all().map(fromRow),
      dnsQueue: tables.has('dns_queue')
        ? db.prepare<[], { change: string }>('SELECT change FROM dns_queue ORDER BY seq').all().map((r) => JSON.parse(r.change) as DnsChange)
        : [],
      reservations: tables.has('reservations')
        ? db.prepare<[], ReservationRow>('SELECT * FROM reservations ORDER BY subnet_id, ip').all().map(fromReservationRow)
        : [],
    }))();
  } catch (err) {
    if (err instanceof StoreError) throw err;
    if ((err as { code?: unknown }).code === 'SQLITE_NOTADB') throw new NotAStoreError(path, 'not an SQLite database', { cause: err });
    throw new StoreError(path, `cannot read: ${(err as Error).message}`, { cause: err });
  } finally {
    db.close();
  }
}
