import { BUCKET_COUNT } from '../../lib/dhcp4/load-balance-hash.ts';

/**
 * Which servers are live and which of RFC 3074's 256 buckets each answers,
 * from the `servers` heartbeat rows (ages measured with the database's
 * clock, so the servers' own clocks do not matter here). Pure: the cluster
 * service reads the rows and the clock, this decides.
 */

export type ServerState = 'starting' | 'active' | 'stopped';

/** One row of `servers`, as the heartbeat query returns it. */
export interface ServerRow {
  serverName: string;
  state: ServerState;
  /** now() − last_seen on the database, in ms. */
  ageMs: number;
}

export interface MembershipTimers {
  /** A peer whose heartbeat is older than this is dead: its buckets are taken over. */
  partnerDownAfterMs: number;
}

export interface Membership {
  /** The live servers, sorted by name. */
  live: readonly string[];
  /** owners[bucket] = index into `live` of the bucket's owner (only meaningful when live is non-empty). */
  owners: Uint8Array;
  /** Our buckets, 0..256. */
  ourShare: number;
  /** Our index in `live`, -1 when we are not live (then we own nothing). */
  rank: number;
  servesBucket(bucket: number): boolean;
}

/**
 * Rendezvous weight of (bucket, server): FNV-1a over the bucket byte and
 * the name, finished with murmur3's fmix32 so that names differing only in
 * their last character still spread evenly.
 */
export function rendezvousWeight(bucket: number, serverName: string): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ (bucket & 0xff), 0x01000193);
  for (let i = 0; i < serverName.length; i++) h = Math.imul(h ^ serverName.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Live = active rows whose heartbeat is at most partnerDownAfterMs old,
 * plus ourselves while we are active (our own row may lag our state by a
 * heartbeat). `starting` rows are loading and `stopped` ones have left:
 * neither is live.
 */
export function liveServers(rows: readonly ServerRow[], self: { serverName: string; active: boolean }, timers: MembershipTimers): string[] {
  const live = new Set<string>();
  for (const row of rows) {
    if (row.serverName === self.serverName) continue;
    if (row.state === 'active' && row.ageMs <= timers.partnerDownAfterMs) live.add(row.serverName);
  }
  if (self.active) live.add(self.serverName);
  return [...live].sort();
}

/**
 * Each bucket goes to the live server with the highest rendezvous weight.
 * Unlike Kea's `hash % servers`, a server leaving moves only its own
 * buckets and a server returning takes back only those: survivors keep
 * theirs, so two survivors that see a change a heartbeat apart never leave
 * a bucket unanswered between them.
 */
export function assignBuckets(live: readonly string[]): Uint8Array {
  if (live.length > 256) throw new RangeError(`at most 256 servers, got ${live.length}`);
  const owners = new Uint8Array(BUCKET_COUNT);
  for (let b = 0; b < BUCKET_COUNT; b++) {
    let best = 0;
    let bestWeight = -1;
    live.forEach((name, i) => {
      const w = rendezvousWeight(b, name);
      if (w > bestWeight) {
        best = i;
        bestWeight = w;
      }
    });
    owners[b] = best;
  }
  return owners;
}

export function computeMembership(rows: readonly ServerRow[], self: { serverName: string; active: boolean }, timers: MembershipTimers): Membership {
  const live = liveServers(rows, self, timers);
  const owners = assignBuckets(live);
  const rank = live.indexOf(self.serverName);
  let ourShare = 0;
  if (rank >= 0) for (const o of owners) if (o === rank) ourShare++;
  return {
    live,
    owners,
    ourShare,
    rank,
    servesBucket: (bucket) => rank >= 0 && owners[bucket] === rank,
  };
}

/** Whether `after` has this server answer a bucket `before` did not (a takeover, or its first share). */
export function gainsBuckets(before: Membership, after: Membership): boolean {
  for (let b = 0; b < after.owners.length; b++) if (after.servesBucket(b) && !before.servesBucket(b)) return true;
  return false;
}

export interface FenceTimers {
  /** Our own heartbeat not written for this long → answer nothing. */
  fenceAfterMs: number;
  /** |local − database clock| above this → answer nothing (expiries are compared across clocks). */
  fenceOnClockSkewMs: number;
}

export type FenceDecision = { fenced: false } | { fenced: true; reason: string };

/**
 * Fencing comes before takeover: a server that cannot write its heartbeat
 * stops answering after fenceAfterMs, and its peers take its buckets only
 * after partnerDownAfterMs (> fenceAfterMs + one heartbeat), so a server
 * cut off from the database never answers from stale state while another
 * already serves its clients. Times are the local monotonic clock.
 */
export function fenceDecision(
  input: { nowMs: number; lastHeartbeatOkMs: number | undefined; databaseLost: boolean; clockSkewMs: number | undefined },
  timers: FenceTimers,
): FenceDecision {
  if (input.lastHeartbeatOkMs === undefined) return { fenced: true, reason: 'no heartbeat written yet' };
  if (input.databaseLost) return { fenced: true, reason: 'lost the connection to the database' };
  const age = input.nowMs - input.lastHeartbeatOkMs;
  if (age > timers.fenceAfterMs) return { fenced: true, reason: `last heartbeat written ${age} ms ago (ha.fenceAfterMs ${timers.fenceAfterMs})` };
  if (input.clockSkewMs !== undefined && Math.abs(input.clockSkewMs) > timers.fenceOnClockSkewMs) {
    return { fenced: true, reason: `clock differs from the database's by ${input.clockSkewMs} ms (ha.fenceOnClockSkewMs ${timers.fenceOnClockSkewMs})` };
  }
  return { fenced: false };
}

/**
 * The buckets `owners` gives to live server `index`, as ranges:
 * `0-2,5,9-11` (empty when it has none). For status output: rendezvous
 * hashing scatters a server's buckets, so a count alone hides which
 * clients it answers.
 */
export function bucketRanges(owners: Uint8Array, index: number): string {
  const ranges: string[] = [];
  for (let b = 0; b < owners.length; b++) {
    if (owners[b] !== index) continue;
    let end = b;
    while (end + 1 < owners.length && owners[end + 1] === index) end++;
    ranges.push(end === b ? String(b) : `${b}-${end}`);
    b = end;
  }
  return ranges.join(',');
}
