import { clientKeyFor } from '../lease.ts';
import { StoreError } from '../store-error.ts';
import type { StoreContents } from '../sqlite-to-pg.ts';
import type { StoredReservation } from '../reservation.ts';
import type { PgDatabase } from './pg-connection.ts';
import { LOCK_CLASS_SCHEMA, LOCK_CLASS_SOLE_SERVER } from './pg-migrations.ts';

/** A reservation as lh_reserve reads it: with its lease key, computed here once (`clientKeyFor`). */
export function keyedReservation(r: StoredReservation): StoredReservation & { clientKey: string } {
  return { ...r, clientKey: clientKeyFor(r.clientId, r.hwAddress ?? '') };
}

export interface ImportCounts {
  leases: number;
  dnsChanges: number;
  reservations: number;
}

/**
 * Copies a whole store into an empty database in one transaction: all of
 * it or nothing. Refused when the database already holds leases, queued
 * DNS changes or reservations, or while a server serves from it. The DNS
 * changes keep their sequence numbers (the server numbering them carries
 * on from the highest), unclaimed; leases are written as granted by
 * `serverName`.
 */
export async function importIntoEmpty(db: PgDatabase, contents: StoreContents, serverName: string): Promise<ImportCounts> {
  let refusal: string | undefined;
  try {
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_CLASS_SCHEMA]);
      const [{ free }] = await tx.query<{ free: boolean }>('SELECT pg_try_advisory_xact_lock($1, 0) AS free', [LOCK_CLASS_SOLE_SERVER]);
      if (!free) {
        refusal = 'a leasehold-server serves from this database; stop it before migrating into it';
        return;
      }
      const [held] = await tx.query<ImportCounts>(
        `SELECT (SELECT count(*) FROM leases)::int AS leases, (SELECT count(*) FROM dns_queue)::int AS "dnsChanges",
                (SELECT count(*) FROM reservations)::int AS reservations`,
      );
      if (held.leases + held.dnsChanges + held.reservations > 0) {
        refusal = `the target already holds ${held.leases} lease(s), ${held.dnsChanges} queued DNS change(s) and ${held.reservations} reservation(s); migrate into an empty database`;
        return;
      }
      await tx.query('SELECT set_config($1, $2, true)', ['leasehold.server', serverName]);
      await tx.query('INSERT INTO leases SELECT r.* FROM jsonb_array_elements($1::jsonb) e, lh_lease_from_json(e.value, $2) r', [
        JSON.stringify(contents.leases),
        serverName,
      ]);
      await tx.query(
        `INSERT INTO dns_queue (seq, fqdn, change, created_by)
         SELECT (e ->> 'seq')::bigint, e ->> 'fqdn', e - 'seq', $2 FROM jsonb_array_elements($1::jsonb) e`,
        [JSON.stringify(contents.dnsQueue), serverName],
      );
      if (contents.dnsQueue.length > 0) await tx.query("SELECT setval('dns_queue_seq', (SELECT max(seq) FROM dns_queue))");
      await tx.query('SELECT lh_reserve(e) FROM jsonb_array_elements($1::jsonb) e', [
        JSON.stringify(contents.reservations.map(keyedReservation)),
      ]);
    });
  } catch (err) {
    throw db.storeError('migration failed, nothing was written', err);
  }
  if (refusal !== undefined) throw new StoreError(db.target, refusal);
  return { leases: contents.leases.length, dnsChanges: contents.dnsQueue.length, reservations: contents.reservations.length };
}
