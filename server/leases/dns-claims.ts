import type { DnsChange } from './dns-change.ts';
import type { Lease } from './lease.ts';
import type { StoredReservation } from './reservation.ts';
import type { LeaseCounts } from './lease-counts.ts';

/**
 * Several servers sharing one DNS queue (a shared PostgreSQL store): each
 * queued change is sent by exactly one of them, the one holding its claim.
 * The rules here are the pure twin of `CLAIM_HEADS_SQL`
 * (server/leases/pg/pg-dns-queue.ts), held to the same cases by a unit
 * test against `MemoryDnsClaimQueue`.
 *
 * - Only a name's head (its lowest sequence number still queued) is ever
 *   claimed, so a later change to a name is never sent before an earlier
 *   one: the next row becomes head only once the previous one is deleted.
 *   A parked head (refused for good) is not claimable, and keeps the
 *   name's later changes waiting behind it, as the single-server worker does.
 * - A claim lasts `claimMs`; its holder renews it while it works. A claim
 *   not renewed (its server died, or lost the database) runs out and the
 *   row is free for anyone: the takeover.
 * - The holder trusts its claim for sending only until `claimedUntil −
 *   marginMs`, the margin covering the longest DNS exchange, so a server
 *   that could not renew stops starting UPDATEs before another can take the
 *   row over: two servers never send one name's change at once.
 */
export interface QueuedDnsRow {
  change: DnsChange;
  claimedBy?: string;
  /** ms epoch; a claim is live while `now < claimedUntil`. */
  claimedUntil?: number;
  /** Shared back-off: nobody sends it before this (ms epoch). */
  notBefore?: number;
  parked?: boolean;
}

export interface ClaimSettings {
  /** How long a claim lasts unless renewed. */
  claimMs: number;
  /** How long before its end the holder stops trusting a claim (≥ the longest DNS exchange). */
  marginMs: number;
}

/** 30 s claims, trusted until 10 s before their end (DnsClient: 3 tries of 2 s, plus TCP). */
export const DEFAULT_CLAIM_SETTINGS: ClaimSettings = { claimMs: 30_000, marginMs: 10_000 };

/** Whether `server` may claim `row` now: free, its own, or abandoned; and not held back. */
export function claimable(row: QueuedDnsRow, server: string, now: number): boolean {
  if (row.parked) return false;
  if (row.notBefore !== undefined && row.notBefore > now) return false;
  return row.claimedBy === undefined || row.claimedBy === server || (row.claimedUntil ?? 0) <= now;
}

/** Each name's head: the row with the lowest sequence number of its name. */
export function headsOfNames(rows: readonly QueuedDnsRow[]): QueuedDnsRow[] {
  const heads = new Map<string, QueuedDnsRow>();
  for (const row of rows) {
    const head = heads.get(row.change.fqdn);
    if (head === undefined || row.change.seq < head.change.seq) heads.set(row.change.fqdn, row);
  }
  return [...heads.values()];
}

/** The rows `server` claims in one pass: claimable heads, oldest first, at most `max`. */
export function pickClaims(rows: readonly QueuedDnsRow[], server: string, now: number, max: number): QueuedDnsRow[] {
  return headsOfNames(rows)
    .filter((row) => claimable(row, server, now))
    .sort((a, b) => a.change.seq - b.change.seq)
    .slice(0, max);
}

/** Whether the holder may still start sending a change it claimed until `claimedUntil`. */
export function claimTrusted(claimedUntil: number, now: number, settings: ClaimSettings): boolean {
  return now < claimedUntil - settings.marginMs;
}

/**
 * The claims side of a shared DNS queue, as the DDNS service uses it. The
 * single-server stores have none (every change is this server's).
 */
export interface DnsClaimQueue {
  /** Claims up to `max` heads for this server (renewing the ones it holds) and returns them with their claim's end. */
  claim(max: number): Promise<Array<{ change: DnsChange; claimedUntil: number }>>;
  /** Extends this server's claims on these rows; returns the new end for those still ours. */
  renew(seqs: readonly number[]): Promise<Map<number, number>>;
  /** Names with any change still queued, whoever holds it (the reconciler leaves them alone). */
  pendingNames(): Promise<Set<string>>;
}

/**
 * The queue in memory, judged by the rules above with an injected clock:
 * the unit tests' model of several servers on one database.
 */
export class MemoryDnsClaimQueue {
  readonly rows: QueuedDnsRow[] = [];
  #nextSeq = 1;

  constructor(
    private readonly now: () => number,
    private readonly settings: ClaimSettings = DEFAULT_CLAIM_SETTINGS,
  ) {}

  /**
   * Queues a change as the store does: numbered in commit order, and, when
   * a server commits it, claimed by that server in the same transaction
   * (the writer's claim holds a row that is not its name's head too, so
   * it keeps others off it until it is head, or runs out).
   */
  add(change: Omit<DnsChange, 'seq'>, writer?: string): DnsChange {
    const queued = { ...change, seq: this.#nextSeq++ };
    this.rows.push(writer === undefined ? { change: queued } : { change: queued, claimedBy: writer, claimedUntil: this.now() + this.settings.claimMs });
    return queued;
  }

  /** Finished by `server`: deleted only while still its claim (or nobody's). */
  finish(server: string, seq: number): boolean {
    const i = this.rows.findIndex((r) => r.change.seq === seq);
    if (i < 0) return false;
    const row = this.rows[i];
    if (row.claimedBy !== undefined && row.claimedBy !== server && (row.claimedUntil ?? 0) > this.now()) return false;
    this.rows.splice(i, 1);
    return true;
  }

  /** A retry-later verdict: back off for everybody, keep the claim. */
  backOff(server: string, seq: number, delayMs: number): void {
    const row = this.rows.find((r) => r.change.seq === seq && r.claimedBy === server);
    if (row) row.notBefore = this.now() + delayMs;
  }

  forServer(server: string): DnsClaimQueue {
    return {
      claim: async (max) => {
        const now = this.now();
        return pickClaims(this.rows, server, now, max).map((row) => {
          row.claimedBy = server;
          row.claimedUntil = now + this.settings.claimMs;
          return { change: row.change, claimedUntil: row.claimedUntil };
        });
      },
      renew: async (seqs) => {
        const now = this.now();
        const renewed = new Map<number, number>();
        for (const row of this.rows) {
          if (!seqs.includes(row.change.seq) || row.claimedBy !== server || (row.claimedUntil ?? 0) <= now) continue;
          row.claimedUntil = now + this.settings.claimMs;
          renewed.set(row.change.seq, row.claimedUntil);
        }
        return renewed;
      },
      pendingNames: async () => new Set(this.rows.map((r) => r.change.fqdn)),
    };
  }
}

/** Leadership for a job only one server may run at a time (the DNS reconciler). */
export interface LeaderLock {
  /** Takes or keeps the leadership; false while another server holds it, or the database cannot be asked. */
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

/**
 * What a store several servers share offers besides `LeaseStore`: the DNS
 * queue's claims, the reconciler's leader lock, and reads of the rows other
 * servers wrote that this server's table must know before it decides.
 */
export interface SharedQueueStore {
  dnsClaimQueue(settings: ClaimSettings): DnsClaimQueue;
  reconcilerLeader(): LeaderLock;
  /** Every lease row as the database holds it now (the reconciler's input on a shared store). */
  readLeases(): Promise<Lease[]>;
  /** The addresses quarantined after a DECLINE and not yet over (RFC 2131 §3.1 step 5), whoever recorded it. */
  readQuarantined(): Promise<Lease[]>;
  /** The control API's reservations as the database holds them now, whichever server added them (`loadReservations`' order). */
  readReservations(): Promise<StoredReservation[]>;
  /** Every server's lease records counted by subnet, by the database's clock (the usage figures: status-get, /metrics). */
  countLeases(): Promise<LeaseCounts[]>;
}

export function isSharedQueueStore(store: object): store is SharedQueueStore {
  return 'dnsClaimQueue' in store && typeof (store as SharedQueueStore).dnsClaimQueue === 'function';
}
