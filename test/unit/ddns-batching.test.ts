import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger } from '../../lib/core/logger.ts';
import type { UpdateRequest } from '../../lib/dns/update-request.ts';
import { Counters } from '../../server/app/counters.ts';
import type { DdnsZoneConfig } from '../../server/ddns/ddns-config.ts';
import { DdnsWorker, type DnsRefusal, type UpdateAnswer } from '../../server/ddns/ddns-worker.ts';
import { batchLength, judgeBatch, mergeRequests, partBytes, splitBatch } from '../../server/ddns/update-batch.ts';
import { UpdateDispatcher } from '../../server/ddns/update-dispatcher.ts';
import { UpdateWindow } from '../../server/ddns/update-window.ts';
import type { DnsChange } from '../../server/leases/dns-change.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { recordingLogger, testDdnsConfig, testDnsChange } from './helpers/ddns-fixtures.ts';
import { FakeDnsZones } from './helpers/fake-dns-zone.ts';

const FORWARD = 'leasehold.test';
const REVERSE = '18.198.in-addr.arpa';
const server = [{ address: '198.18.0.2', port: 53 }];
const zones: DdnsZoneConfig[] = [{ name: FORWARD, servers: server }, { name: REVERSE, servers: server }];
const forwardZone = zones[0];
const ddns = testDdnsConfig(zones);

const addA = (name: string, ip: string): UpdateRequest => ({
  zone: FORWARD,
  prerequisites: [{ kind: 'name-not-in-use', name }],
  updates: [{ kind: 'add', name, ttl: 60, record: { type: 'A', data: ip } }],
});

// ---------------------------------------------------------------------------
// The batch planner (pure)

test('a message\'s answer: success and no answer are every part\'s; what may be one part\'s splits it', (t) => {
  t.is(judgeBatch({ kind: 'outcome', outcome: 'success' }, 50), 'answer-each');
  for (const outcome of ['yxdomain', 'nxdomain', 'nxrrset', 'yxrrset'] as const) t.is(judgeBatch({ kind: 'outcome', outcome }, 50), 'split', outcome);
  t.is(judgeBatch({ kind: 'outcome', outcome: 'yxdomain' }, 1), 'answer-each', 'a single part gets its own answer');
  t.is(judgeBatch({ kind: 'refused', zoneWide: true }, 50), 'answer-each', 'a refused key refuses every name');
  t.is(judgeBatch({ kind: 'refused', zoneWide: false }, 50), 'split', 'REFUSED may be one name\'s policy');
  t.is(judgeBatch({ kind: 'failed', answered: false }, 50), 'answer-each', 'no answer: the server, not a name');
  t.is(judgeBatch({ kind: 'failed', answered: true }, 50), 'split', 'SERVFAIL with several names: maybe one of them');
});

test('a message is split in halves, first half first; parts are merged in order, prerequisites before updates', (t) => {
  t.deepEqual(splitBatch([1, 2, 3, 4, 5]), [[1, 2, 3], [4, 5]]);
  t.deepEqual(splitBatch([1, 2]), [[1], [2]]);
  const merged = mergeRequests(FORWARD, [addA('a.leasehold.test', '198.18.1.1'), addA('b.leasehold.test', '198.18.1.2')]);
  t.deepEqual(merged.prerequisites.map((p) => p.name), ['a.leasehold.test', 'b.leasehold.test']);
  t.deepEqual(merged.updates.map((u) => u.name), ['a.leasehold.test', 'b.leasehold.test']);
  t.is(merged.zone, FORWARD);
});

test('a message takes parts from the front up to the name and byte limits, and always the first', (t) => {
  const size = partBytes(addA('a.leasehold.test', '198.18.1.1'));
  // name-not-in-use: name (18) + 10; A: name + 10 + 4.
  t.is(size, 18 + 10 + 18 + 14);
  t.is(batchLength([60, 60, 60, 60], { maxParts: 64, maxBytes: 150 }), 2);
  t.is(batchLength([60, 60, 60], { maxParts: 2, maxBytes: 1000 }), 2);
  t.is(batchLength([5000, 60], { maxParts: 64, maxBytes: 1000 }), 1, 'an oversized part goes alone');
  t.is(batchLength([], { maxParts: 64, maxBytes: 1000 }), 0);
});

// ---------------------------------------------------------------------------
// The dispatcher: at once when the window is open, together what queued up

/** An updater that holds every answer until released; records the names of each message. */
class HeldUpdater {
  readonly messages: string[][] = [];
  readonly #gates: Array<() => void> = [];
  held = false;
  async update(_zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateAnswer> {
    this.messages.push(req.updates.map((u) => u.name));
    if (this.held) await new Promise<void>((resolve) => this.#gates.push(resolve));
    return 'success';
  }
  releaseAll(): void {
    this.held = false;
    for (const open of this.#gates.splice(0)) open();
  }
}

function dispatcher(updater: HeldUpdater, windowMax = 4, maxPerZone?: number) {
  const window = new UpdateWindow({ initial: windowMax, min: 1, max: windowMax }, new ManualClock());
  return new UpdateDispatcher({ updater, window, maxPerZone, logger: silentLogger, generation: () => 0 });
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('a step goes out at once when the window is open and nothing else waits; steps of one turn go as one message per zone', async (t) => {
  const updater = new HeldUpdater();
  const d = dispatcher(updater);
  const alone = d.submit(forwardZone, addA('first.leasehold.test', '198.18.1.1'));
  await turn();
  t.deepEqual(updater.messages, [['first.leasehold.test']], 'sent within the turn, alone');
  t.is((await alone).answer, 'success');
  const names = Array.from({ length: 10 }, (_, i) => `n${i}.leasehold.test`);
  const reverse: UpdateRequest = { zone: REVERSE, prerequisites: [], updates: [{ kind: 'delete-rrset', name: '1.1.18.198.in-addr.arpa', type: 'PTR' }] };
  const answers = await Promise.all([...names.map((n, i) => d.submit(forwardZone, addA(n, `198.18.1.${i + 10}`))), d.submit(zones[1], reverse)]);
  t.true(answers.every((a) => a.answer === 'success'));
  t.deepEqual(updater.messages.slice(1), [names, ['1.1.18.198.in-addr.arpa']], 'one message per zone');
});

test('steps that queued up behind a full window leave together once it opens', async (t) => {
  const updater = new HeldUpdater();
  const d = dispatcher(updater, 1);
  updater.held = true;
  const first = d.submit(forwardZone, addA('first.leasehold.test', '198.18.1.1'));
  await turn();
  const later = Array.from({ length: 5 }, (_, i) => d.submit(forwardZone, addA(`later${i}.leasehold.test`, `198.18.1.${i + 2}`)));
  await turn();
  t.is(updater.messages.length, 1, 'the window (1) is full: the others wait');
  t.is(d.waiting, 5);
  updater.releaseAll();
  await Promise.all([first, ...later]);
  t.deepEqual(updater.messages[1], ['later0.leasehold.test', 'later1.leasehold.test', 'later2.leasehold.test', 'later3.leasehold.test', 'later4.leasehold.test']);
  t.is(updater.messages.length, 2);
});

test('a zone has at most maxPerZone messages on the wire however open the window: what comes meanwhile leaves as one message; other zones go on', async (t) => {
  const updater = new HeldUpdater();
  const d = dispatcher(updater, 8, 2);
  updater.held = true;
  const early = [d.submit(forwardZone, addA('e0.leasehold.test', '198.18.1.1'))];
  await turn();
  early.push(d.submit(forwardZone, addA('e1.leasehold.test', '198.18.1.2')));
  await turn();
  const later = Array.from({ length: 6 }, (_, i) => d.submit(forwardZone, addA(`later${i}.leasehold.test`, `198.18.1.${i + 3}`)));
  await turn();
  t.deepEqual(updater.messages, [['e0.leasehold.test'], ['e1.leasehold.test']], 'two on the wire for the zone, the window (8) would allow more');
  t.is(d.waiting, 6);
  const reverse: UpdateRequest = { zone: REVERSE, prerequisites: [], updates: [{ kind: 'delete-rrset', name: '1.1.18.198.in-addr.arpa', type: 'PTR' }] };
  const other = d.submit(zones[1], reverse);
  await turn();
  t.deepEqual(updater.messages[2], ['1.1.18.198.in-addr.arpa'], 'another zone is not held back');
  updater.releaseAll();
  const answers = await Promise.all([...early, ...later, other]);
  t.true(answers.every((a) => a.answer === 'success'));
  t.deepEqual(updater.messages.slice(3), [Array.from({ length: 6 }, (_, i) => `later${i}.leasehold.test`)], 'the six that waited: one message');
  t.throws(() => dispatcher(updater, 4, 0), { instanceOf: RangeError });
});

test('stop answers what waits STOPPED and waits for the message on the wire', async (t) => {
  const updater = new HeldUpdater();
  const d = dispatcher(updater, 1);
  updater.held = true;
  const onWire = d.submit(forwardZone, addA('a.leasehold.test', '198.18.1.1'));
  await turn();
  const waiting = d.submit(forwardZone, addA('b.leasehold.test', '198.18.1.2'));
  const stopped = d.stop();
  t.like((await waiting).answer, { kind: 'failed', reason: 'STOPPED' });
  updater.releaseAll();
  await stopped;
  t.is((await onWire).answer, 'success', 'the answer on the wire is still taken');
  t.like((await d.submit(forwardZone, addA('c.leasehold.test', '198.18.1.3'))).answer, { kind: 'failed', reason: 'STOPPED' });
});

// ---------------------------------------------------------------------------
// The worker, batching over an RFC 2136 zone in memory

function setup(zonesFake = new FakeDnsZones()) {
  const store = new MemoryLeaseStore();
  const logger = recordingLogger();
  const counters = new Counters();
  const worker = new DdnsWorker({ ddns, store, updater: zonesFake, logger, clock: new ManualClock(), counters });
  const enqueue = async (changes: DnsChange[]) => {
    await store.commit({ enqueue: changes });
    worker.enqueue(changes);
  };
  return { dns: zonesFake, store, logger, counters, worker, enqueue };
}

const name = (i: number) => `b${i}.lab.leasehold.test`;
const ip = (i: number) => `198.18.2.${i + 1}`;
const ptr = (i: number) => `${i + 1}.2.18.198.in-addr.arpa`;

test('50 names queued at once: one message; a name someone else holds makes it split, the 49 others are published, the conflict left alone and logged', async (t) => {
  const { dns, store, logger, counters, worker, enqueue } = setup();
  // A static record at name 17 (no DHCID): RFC 4703 says leave it alone.
  dns.records.set(name(17), [{ type: 'A', data: '198.18.0.97' }]);
  await enqueue(Array.from({ length: 50 }, (_, i) => testDnsChange(i + 1, name(i), 'add', ip(i))));
  await worker.idle();
  const forward = dns.messages.filter((m) => m.zone === FORWARD);
  t.is(new Set(forward[0].updates.map((u) => u.name)).size, 50, 'the first message carries all 50 names');
  for (let i = 0; i < 50; i++) {
    if (i === 17) continue;
    t.deepEqual(dns.get(name(i), 'A'), [ip(i)], name(i));
    t.deepEqual(dns.get(ptr(i), 'PTR'), [name(i)]);
  }
  t.deepEqual(dns.get(name(17), 'A'), ['198.18.0.97'], 'the static record is untouched');
  t.deepEqual(dns.get(name(17), 'DHCID'), []);
  t.deepEqual(dns.get(ptr(17), 'PTR'), [], 'no PTR to a name that is not the client\'s');
  const conflicts = logger.lines.filter((l) => l.event === 'ddns-conflict');
  t.deepEqual(conflicts.map((l) => l.fields.fqdn), [name(17)], 'logged once, for that name');
  t.is(counters.get('ddns_conflicts'), 1);
  t.deepEqual(store.loadDnsQueue(), []);
  // Bisection: 50 → 25 → 13 → 7 → 4 → 2 → 1, each with its sibling half, then name 17's own replace attempt.
  t.true(forward.length <= 14, `${forward.length} forward messages`);
  t.true(counters.get('ddns_update_splits', { zone: FORWARD }) >= 5);
  t.is(counters.get('ddns_updates_failed', { zone: FORWARD, rcode: 'YXDOMAIN' }), counters.get('ddns_update_splits', { zone: FORWARD }) + 1);
  t.is(counters.total('ddns_updates_sent'), dns.messages.length);
  t.true(dns.namesPerMessage(REVERSE).reduce((a, b) => a + b, 0) === 49 && dns.namesPerMessage(REVERSE).length <= 8, 'the 49 PTRs go in a few messages');
});

test('a batch that fails is split so that nothing about one name decides for another: each name ends as it would alone', async (t) => {
  // Alone, each of these ends differently: added, updated (own DHCID), conflict (another DHCID).
  const alone = setup();
  const together = setup();
  for (const { dns } of [alone, together]) {
    dns.records.set(name(1), [{ type: 'A', data: '198.18.9.1' }, { type: 'DHCID', data: testDnsChange(0, name(1)).dhcid }]);
    dns.records.set(name(2), [{ type: 'A', data: '198.18.9.2' }, { type: 'DHCID', data: 'AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=' }]);
  }
  const changes = [0, 1, 2, 3].map((i) => testDnsChange(i + 1, name(i), 'add', ip(i)));
  for (const c of changes) {
    await alone.enqueue([c]);
    await alone.worker.idle();
  }
  await together.enqueue(changes);
  await together.worker.idle();
  t.deepEqual([...together.dns.records].sort(), [...alone.dns.records].sort(), 'the same zone contents');
  t.deepEqual(
    together.logger.lines.filter((l) => l.event === 'ddns-conflict').map((l) => l.fields.fqdn),
    alone.logger.lines.filter((l) => l.event === 'ddns-conflict').map((l) => l.fields.fqdn),
  );
  t.deepEqual(together.dns.get(name(1), 'A'), [ip(1)], 'its own name updated');
  t.deepEqual(together.dns.get(name(2), 'A'), ['198.18.9.2'], 'another client\'s name kept');
});

test('one name an update policy refuses is parked alone: the message is split, the others are published', async (t) => {
  const { dns, store, worker, enqueue, counters } = setup();
  dns.refusedNames.add(name(3));
  await enqueue(Array.from({ length: 10 }, (_, i) => testDnsChange(i + 1, name(i), 'add', ip(i))));
  await worker.idle();
  t.is(worker.parked, 1);
  t.deepEqual(store.loadDnsQueue().map((c) => c.fqdn), [name(3)]);
  for (const i of [0, 1, 2, 4, 5, 6, 7, 8, 9]) t.deepEqual(dns.get(name(i), 'A'), [ip(i)]);
  t.is(counters.get('ddns_refused', { zone: FORWARD, rcode: 'REFUSED' }), 1);
});

test('a refused key refuses every name of the message at once: no split, each name parked', async (t) => {
  const { dns, worker, enqueue, counters } = setup();
  const badsig: DnsRefusal = { kind: 'refused', rcode: 'NOTAUTH', tsigError: 'BADSIG', server: '198.18.0.2 port 53', code: 'E_TSIG_BADSIG', detail: 'BADSIG' };
  dns.scripted.push(badsig);
  await enqueue(Array.from({ length: 10 }, (_, i) => testDnsChange(i + 1, name(i), 'add', ip(i))));
  await worker.idle();
  t.is(dns.messages.length, 1);
  t.is(worker.parked, 10);
  t.is(counters.get('ddns_refused', { zone: FORWARD, rcode: 'BADSIG' }), 10, 'counted per change, as before');
});

test('a message without an answer is every name\'s failure: retried later together, not split', async (t) => {
  const { dns, store, worker, enqueue, counters } = setup();
  dns.scripted.push({ kind: 'failed', reason: 'TIMEOUT', answered: false });
  await enqueue(Array.from({ length: 8 }, (_, i) => testDnsChange(i + 1, name(i), 'add', ip(i))));
  await worker.idle();
  t.deepEqual(store.loadDnsQueue(), []);
  t.is(counters.get('ddns_update_splits', { zone: FORWARD }), 0);
  t.is(counters.get('ddns_updates_failed', { zone: FORWARD, rcode: 'TIMEOUT' }), 1);
  t.is(counters.get('ddns_retries'), 8, 'each name backs off');
  for (let i = 0; i < 8; i++) t.deepEqual(dns.get(name(i), 'A'), [ip(i)]);
});

test('coalesced queue entries leave the store with the change sent for them; a name\'s changes keep their order among batches', async (t) => {
  const { dns, store, worker, enqueue } = setup();
  // Name 0: added, then gone again before anything was sent: nothing goes out.
  // Name 1: re-addressed twice: only the last address is sent.
  // Name 2: added, then removed at another address (not what the add wrote): both go, in order.
  await enqueue([
    testDnsChange(1, name(0), 'add', ip(0)),
    testDnsChange(2, name(0), 'remove', ip(0)),
    testDnsChange(3, name(1), 'add', '198.18.3.1'),
    testDnsChange(4, name(1), 'add', '198.18.3.2'),
    testDnsChange(5, name(2), 'add', ip(2)),
    testDnsChange(6, name(2), 'remove', '198.18.3.9'),
  ]);
  await worker.idle();
  t.deepEqual(store.loadDnsQueue(), []);
  const touched = (n: string) => dns.messages.filter((m) => m.zone === FORWARD && m.updates.some((u) => u.name === n));
  t.deepEqual(touched(name(0)), [], 'nothing sent for the pair that cancels out');
  t.deepEqual(dns.get(name(1), 'A'), ['198.18.3.2']);
  t.is(touched(name(1)).length, 1, 'one add, the last');
  t.deepEqual(dns.get(ptr(0), 'PTR'), []);
  const kinds = touched(name(2)).map((m) => (m.updates.some((u) => u.name === name(2) && u.kind === 'add') ? 'add' : 'remove'));
  t.deepEqual(kinds.slice(0, 2), ['add', 'remove']);
  t.deepEqual(dns.get(name(2), 'A'), [ip(2)], 'the removal of another address leaves the add\'s in place');
});

test('backlog(): depth, parked, the age of the oldest change, messages in flight and the window', async (t) => {
  const clock = new ManualClock(1_000_000);
  const dns = new FakeDnsZones();
  dns.refusedNames.add(name(0));
  const store = new MemoryLeaseStore();
  const worker = new DdnsWorker({ ddns, store, updater: dns, logger: silentLogger, clock });
  t.like(worker.backlog(), { depth: 0, parked: 0, oldestAgeMs: 0, inFlight: 0 });
  const old = { ...testDnsChange(1, name(0), 'add', ip(0)), createdAt: 1_000_000 - 5000 };
  await store.commit({ enqueue: [old] });
  worker.enqueue([old]);
  await worker.idle();
  clock.advance(1000);
  t.like(worker.backlog(), { depth: 1, parked: 1, oldestAgeMs: 6000, inFlight: 0 });
  t.true(worker.backlog().window >= 1);
});
