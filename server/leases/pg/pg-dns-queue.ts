import type { DnsChange } from '../dns-change.ts';
import type { ClaimSettings, DnsClaimQueue, LeaderLock } from '../dns-claims.ts';
import type { PgDatabase, PgSession } from './pg-connection.ts';
import { LOCK_CLASS_DDNS_LEADER } from './pg-migrations.ts';

/**
 * One claim pass, the SQL twin of `pickClaims` (server/leases/dns-claims.ts):
 * the heads of their names (parked ones too, so what is queued behind a
 * parked change waits), of those the ones free, ours or abandoned and not
 * backed off, oldest first; rows another server is claiming at this moment
 * are skipped, not waited for. Under READ COMMITTED, FOR UPDATE re-checks
 * the row's conditions on its newest version, so a row two servers both
 * saw free is claimed by one of them.
 */
const CLAIM_HEADS_SQL = `
WITH heads AS (
  SELECT DISTINCT ON (fqdn) seq FROM dns_queue ORDER BY fqdn, seq
), picked AS (
  SELECT q.seq FROM dns_queue q JOIN heads h USING (seq)
   WHERE q.parked_reason IS NULL
     AND (q.claimed_by IS NULL OR q.claimed_by = $1 OR q.claimed_until <= now())
     AND (q.not_before IS NULL OR q.not_before <= now())
   ORDER BY q.seq LIMIT $2
   FOR UPDATE OF q SKIP LOCKED
)
UPDATE dns_queue d SET claimed_by = $1, claimed_until = now() + $3 * interval '1 millisecond'
  FROM picked WHERE d.seq = picked.seq
RETURNING d.change || jsonb_build_object('seq', d.seq) AS change,
          (extract(epoch FROM d.claimed_until) * 1000)::float8 AS until`;

const RENEW_SQL = `
UPDATE dns_queue SET claimed_until = now() + $3 * interval '1 millisecond'
 WHERE claimed_by = $1 AND claimed_until > now() AND seq = ANY ($2::bigint[])
RETURNING seq::float8 AS seq, (extract(epoch FROM claimed_until) * 1000)::float8 AS until`;

/**
 * The shared DNS queue's claims for one server. A claim's end is the
 * database's clock, converted to ms epoch; the holder compares it with its
 * own clock (the skew is small against the 10 s margin, and measured by the
 * heartbeats).
 */
export function pgDnsClaimQueue(db: PgDatabase, serverName: string, settings: ClaimSettings): DnsClaimQueue {
  return {
    claim: async (max) => {
      const rows = await db.query<{ change: DnsChange; until: number }>(CLAIM_HEADS_SQL, [serverName, max, settings.claimMs]);
      return rows.map((r) => ({ change: { ...r.change, seq: Number(r.change.seq) }, claimedUntil: r.until })).sort((a, b) => a.change.seq - b.change.seq);
    },
    renew: async (seqs) => {
      if (seqs.length === 0) return new Map();
      const rows = await db.query<{ seq: number; until: number }>(RENEW_SQL, [serverName, seqs, settings.claimMs]);
      return new Map(rows.map((r) => [r.seq, r.until]));
    },
    pendingNames: async () => new Set((await db.query<{ fqdn: string }>('SELECT DISTINCT fqdn FROM dns_queue')).map((r) => r.fqdn)),
  };
}

/**
 * Leader election by a session advisory lock: held while its session
 * lives, so a server that dies (or whose connection breaks) loses it at
 * once on its side, and on the database's side when the backend notices.
 */
export function pgLeaderLock(db: PgDatabase): LeaderLock {
  let session: PgSession | undefined;
  let lost = false;
  return {
    acquire: async () => {
      if (session !== undefined && !lost) return true;
      session?.release(true);
      session = undefined;
      lost = false;
      let candidate: PgSession | undefined;
      try {
        candidate = await db.session(() => (lost = true));
        const [{ locked }] = await candidate.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS locked', [LOCK_CLASS_DDNS_LEADER]);
        if (!locked) {
          candidate.release(false);
          return false;
        }
        session = candidate;
        return true;
      } catch {
        candidate?.release(true);
        return false;
      }
    },
    release: async () => {
      const held = session;
      session = undefined;
      if (!held) return;
      await held.query('SELECT pg_advisory_unlock($1, 0)', [LOCK_CLASS_DDNS_LEADER]).catch(() => undefined);
      held.release(true);
    },
  };
}
