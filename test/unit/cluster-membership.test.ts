import test from 'ava';
import { assignBuckets, bucketRanges, computeMembership, fenceDecision, gainsBuckets, liveServers, type ServerRow } from '../../server/cluster/membership.ts';

// Which servers are live, how the 256 RFC 3074 buckets are split among
// them, and when a server fences itself: all judged from heartbeat ages
// and a clock the test moves by hand.

const TIMERS = { partnerDownAfterMs: 5000 };
const row = (serverName: string, ageMs: number, state: ServerRow['state'] = 'active'): ServerRow => ({ serverName, state, ageMs });

function shares(owners: Uint8Array, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const o of owners) counts[o]++;
  return counts;
}

test('two servers split the buckets about evenly, each bucket to exactly one', (t) => {
  const a = computeMembership([row('appliance-1', 0), row('appliance-2', 400)], { serverName: 'appliance-1', active: true }, TIMERS);
  const b = computeMembership([row('appliance-1', 400), row('appliance-2', 0)], { serverName: 'appliance-2', active: true }, TIMERS);
  t.deepEqual(a.live, ['appliance-1', 'appliance-2']);
  t.deepEqual(b.live, a.live);
  t.is(a.ourShare + b.ourShare, 256);
  for (let bucket = 0; bucket < 256; bucket++) t.not(a.servesBucket(bucket), b.servesBucket(bucket), `bucket ${bucket}`);
  t.true(a.ourShare >= 100 && a.ourShare <= 156, `share ${a.ourShare}`);
});

test('balance over many names: no server of three gets fewer than 60 or more than 110 buckets', (t) => {
  for (let i = 0; i < 50; i++) {
    const names = [`s${i}-a`, `s${i}-b`, `s${i}-c`];
    const counts = shares(assignBuckets(names), 3);
    t.true(counts.every((c) => c >= 60 && c <= 110), `${names.join(',')}: ${counts.join(',')}`);
  }
});

test('a dead server\'s buckets move, and only those; its return takes back only its own', (t) => {
  const three = ['appliance-1', 'appliance-2', 'appliance-3'];
  const before = assignBuckets(three);
  const after = assignBuckets(['appliance-1', 'appliance-3']);
  for (let b = 0; b < 256; b++) {
    const was = three[before[b]];
    const now = ['appliance-1', 'appliance-3'][after[b]];
    if (was !== 'appliance-2') t.is(now, was, `bucket ${b} of a survivor moved`);
  }
  t.deepEqual(assignBuckets(three), before, 'deterministic: the return restores the split');
});

test('live: active rows seen within partnerDownAfterMs, plus ourselves while active', (t) => {
  const rows = [row('a', 0), row('b', 5000), row('c', 5001), row('d', 0, 'starting'), row('e', 0, 'stopped'), row('me', 99_999, 'starting')];
  t.deepEqual(liveServers(rows, { serverName: 'me', active: true }, TIMERS), ['a', 'b', 'me']);
  t.deepEqual(liveServers(rows, { serverName: 'me', active: false }, TIMERS), ['a', 'b']);
  const notLive = computeMembership(rows, { serverName: 'me', active: false }, TIMERS);
  t.is(notLive.rank, -1);
  t.is(notLive.ourShare, 0);
  t.false(notLive.servesBucket(0));
});

test('takeover with a fake clock: the peer\'s buckets are ours once its heartbeat is older than partnerDownAfterMs, and go back when it returns', (t) => {
  const self = { serverName: 'appliance-1', active: true };
  let peerLastSeen = 0;
  const viewAt = (dbNow: number) => computeMembership([row('appliance-1', 0), row('appliance-2', dbNow - peerLastSeen)], self, TIMERS);

  const normal = viewAt(1000);
  t.true(normal.ourShare < 256);
  // The peer stops heartbeating at t=1000: we wait the whole partnerDownAfterMs.
  peerLastSeen = 1000;
  t.is(viewAt(5999).ourShare, normal.ourShare, 'not yet: 4999 ms');
  t.is(viewAt(6000).ourShare, normal.ourShare, 'exactly partnerDownAfterMs is still live');
  const takeover = viewAt(6001);
  t.deepEqual(takeover.live, ['appliance-1']);
  t.is(takeover.ourShare, 256);
  // It comes back (a fresh heartbeat), but in state starting while it loads: still ours.
  const loading = computeMembership([row('appliance-1', 0), row('appliance-2', 0, 'starting')], self, TIMERS);
  t.is(loading.ourShare, 256);
  // Active again: exactly the old split.
  peerLastSeen = 20_000;
  const back = viewAt(20_500);
  t.is(back.ourShare, normal.ourShare);
  t.deepEqual([...back.owners], [...normal.owners]);
  // A clean stop hands over at once, without waiting for the age.
  t.is(computeMembership([row('appliance-1', 0), row('appliance-2', 0, 'stopped')], self, TIMERS).ourShare, 256);
});

const FENCE = { fenceAfterMs: 3000, fenceOnClockSkewMs: 10_000 };

test('fencing with a fake clock: own heartbeat older than fenceAfterMs, a lost database, or a skewed clock', (t) => {
  const at = (nowMs: number, over: Partial<Parameters<typeof fenceDecision>[0]> = {}) =>
    fenceDecision({ nowMs, lastHeartbeatOkMs: 10_000, databaseLost: false, clockSkewMs: 0, ...over }, FENCE);
  t.deepEqual(at(10_000), { fenced: false });
  t.deepEqual(at(13_000), { fenced: false });
  t.deepEqual(at(13_001), { fenced: true, reason: 'last heartbeat written 3001 ms ago (ha.fenceAfterMs 3000)' });
  t.deepEqual(at(10_500, { databaseLost: true }), { fenced: true, reason: 'lost the connection to the database' });
  t.deepEqual(at(10_500, { lastHeartbeatOkMs: undefined }), { fenced: true, reason: 'no heartbeat written yet' });
  t.deepEqual(at(10_500, { clockSkewMs: -10_001 }), { fenced: true, reason: 'clock differs from the database\'s by -10001 ms (ha.fenceOnClockSkewMs 10000)' });
  t.deepEqual(at(10_500, { clockSkewMs: 9_999 }), { fenced: false });
});

test('a server cut off fences before its peer takes over (the defaults leave a heartbeat between)', (t) => {
  // Both clocks start when the last heartbeat was written.
  const heartbeat = 1000;
  const fencedAt = FENCE.fenceAfterMs + 1;
  const takenAt = TIMERS.partnerDownAfterMs + 1;
  t.true(fenceDecision({ nowMs: fencedAt, lastHeartbeatOkMs: 0, databaseLost: false, clockSkewMs: 0 }, FENCE).fenced);
  t.is(computeMembership([row('b', 0), row('a', fencedAt)], { serverName: 'b', active: true }, TIMERS).live.length, 2, 'peer not yet taken over when it fences');
  t.is(computeMembership([row('b', 0), row('a', takenAt)], { serverName: 'b', active: true }, TIMERS).live.length, 1);
  t.true(takenAt - fencedAt >= heartbeat);
});

test('bucketRanges: a server\'s buckets as ranges, single ones alone, none as empty', (t) => {
  const owners = new Uint8Array(256);
  for (const b of [0, 1, 2, 5, 9, 10, 11, 255]) owners[b] = 1;
  t.is(bucketRanges(owners, 1), '0-2,5,9-11,255');
  t.is(bucketRanges(owners, 0), '3-4,6-8,12-254');
  t.is(bucketRanges(owners, 2), '');
  const two = assignBuckets(['appliance-1', 'appliance-2']);
  const covered = [0, 1].flatMap((i) => bucketRanges(two, i).split(',')).flatMap((r) => {
    const [a, b = a] = r.split('-').map(Number);
    return Array.from({ length: b - a + 1 }, (_, k) => a + k);
  });
  t.deepEqual(covered.sort((x, y) => x - y), Array.from({ length: 256 }, (_, k) => k), 'every bucket once');
});

test('gainsBuckets: a takeover and a first share gain buckets; a partner\'s return and an unchanged split do not', (t) => {
  const self = { serverName: 'appliance-1', active: true };
  const both = computeMembership([row('appliance-1', 0), row('appliance-2', 0)], self, TIMERS);
  const alone = computeMembership([row('appliance-1', 0), row('appliance-2', 6000)], self, TIMERS);
  const notYet = computeMembership([row('appliance-2', 0)], { ...self, active: false }, TIMERS);
  t.true(gainsBuckets(both, alone), 'the partner\'s heartbeat ran out: its buckets are ours');
  t.false(gainsBuckets(alone, both), 'the partner is back: we give buckets back, gain none');
  t.false(gainsBuckets(both, computeMembership([row('appliance-1', 0), row('appliance-2', 400)], self, TIMERS)), 'same live set');
  t.true(gainsBuckets(notYet, both), 'our first share');
});
