import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger } from '../../lib/core/logger.ts';
import { ClaimKeeper } from '../../server/ddns/claim-keeper.ts';
import type { DdnsZoneConfig } from '../../server/ddns/ddns-config.ts';
import { DdnsWorker, type DnsUpdater } from '../../server/ddns/ddns-worker.ts';
import { claimTrusted, MemoryDnsClaimQueue, pickClaims, type ClaimSettings, type DnsClaimQueue } from '../../server/leases/dns-claims.ts';
import type { DnsChange } from '../../server/leases/dns-change.ts';
import type { LeaseChange, LeaseStore } from '../../server/leases/lease-store.ts';
import { testDdnsConfig, testDnsChange } from './helpers/ddns-fixtures.ts';
import { FakeDnsZones } from './helpers/fake-dns-zone.ts';

const SETTINGS: ClaimSettings = { claimMs: 30_000, marginMs: 10_000 };
const zones: DdnsZoneConfig[] = [{ name: 'leasehold.test', servers: [{ address: '198.18.0.2', port: 53 }] }];

function change(fqdn: string, action: 'add' | 'remove' = 'add', ipv4 = '198.18.1.10'): Omit<DnsChange, 'seq'> {
  const { seq: _seq, ...rest } = testDnsChange(0, fqdn, action, ipv4);
  return rest;
}

function setup() {
  const clock = new ManualClock();
  const queue = new MemoryDnsClaimQueue(() => clock.now(), SETTINGS);
  const keeper = (server: string) => new ClaimKeeper(queue.forServer(server), clock, SETTINGS);
  return { clock, queue, keeper };
}

const seqs = (changes: readonly DnsChange[]) => changes.map((c) => c.seq);

test('only the head of a name is claimed: a later change waits until the earlier one is finished', async (t) => {
  const { queue, keeper } = setup();
  queue.add(change('a.leasehold.test'));
  queue.add(change('b.leasehold.test'));
  queue.add(change('a.leasehold.test', 'remove'));
  const a = keeper('srv-a');
  t.deepEqual(seqs(await a.claim(10)), [1, 2]);
  t.deepEqual(seqs(await a.claim(10)), [], 'what is held already is not handed to the worker twice');
  t.true(queue.finish('srv-a', 1));
  a.settled([1]);
  t.deepEqual(seqs(await a.claim(10)), [3], "a.leasehold.test's next change is its head now");
});

test('a claim shuts the other server out until it runs out unrenewed; then the other takes it over', async (t) => {
  const { clock, queue, keeper } = setup();
  queue.add(change('a.leasehold.test'));
  const a = keeper('srv-a');
  const b = keeper('srv-b');
  const [claimed] = await a.claim(10);
  t.deepEqual(seqs(await b.claim(10)), []);
  clock.advance(20_000);
  t.is(await a.renew(), 0, 'renewed while alive');
  clock.advance(19_000);
  t.true(a.mayStart(claimed), 'trusted until a margin before the renewed end');
  // srv-a dies: no renewals any more.
  clock.advance(10_000);
  t.deepEqual(seqs(await b.claim(10)), [], 'the renewal moved the end');
  clock.advance(1_000);
  t.deepEqual(seqs(await b.claim(10)), [1], 'taken over once the claim ran out');
  t.false(queue.finish('srv-a', 1), 'the old holder can no longer delete it');
  t.is(await a.renew(), 1, 'the old holder learns it lost the claim');
  t.false(a.mayStart(claimed));
});

test('the holder stops trusting its claim a margin before the end, so it never sends while another may take over', async (t) => {
  const { clock, queue, keeper } = setup();
  queue.add(change('a.leasehold.test'));
  const a = keeper('srv-a');
  const b = keeper('srv-b');
  const [claimed] = await a.claim(10);
  clock.advance(SETTINGS.claimMs - SETTINGS.marginMs - 1);
  t.true(a.mayStart(claimed));
  clock.advance(1);
  t.false(a.mayStart(claimed), 'not renewed (the database was out of reach): no new UPDATE');
  t.deepEqual(seqs(await b.claim(10)), [], 'and the claim still shuts the other out for the margin');
  t.true(claimTrusted(1000 + SETTINGS.marginMs + 1, 1000, SETTINGS));
  t.false(claimTrusted(1000 + SETTINGS.marginMs, 1000, SETTINGS));
});

test('a parked head holds its name back for every server; other names go on', (t) => {
  const { clock, queue } = setup();
  queue.add(change('a.leasehold.test'));
  queue.add(change('a.leasehold.test', 'remove'));
  queue.add(change('b.leasehold.test'));
  queue.rows[0].parked = true;
  t.deepEqual(pickClaims(queue.rows, 'srv-b', clock.now(), 10).map((r) => r.change.seq), [3]);
});

test('a back-off written by one server holds for the server that takes the change over', async (t) => {
  const { clock, queue, keeper } = setup();
  queue.add(change('a.leasehold.test'));
  const a = keeper('srv-a');
  await a.claim(10);
  queue.backOff('srv-a', 1, 60_000);
  clock.advance(SETTINGS.claimMs);
  const b = keeper('srv-b');
  t.deepEqual(seqs(await b.claim(10)), [], 'claim over, but the back-off is not');
  clock.advance(30_000);
  t.deepEqual(seqs(await b.claim(10)), [1]);
});

test('claims are made oldest first and at most max per pass', (t) => {
  const { clock, queue } = setup();
  for (let i = 0; i < 5; i++) queue.add(change(`n${4 - i}.leasehold.test`));
  t.deepEqual(pickClaims(queue.rows, 'srv-a', clock.now(), 3).map((r) => r.change.seq), [1, 2, 3]);
});

/** A worker's store on the shared queue: a dequeue deletes only what this server may still delete. */
function sharedStore(queue: MemoryDnsClaimQueue, server: string): LeaseStore {
  return {
    loadAll: () => [],
    loadDnsQueue: () => [],
    loadReservations: () => [],
    commit: async (c: LeaseChange) => {
      for (const seq of c.dequeue ?? []) queue.finish(server, seq);
    },
    close: async () => undefined,
  };
}

test('two workers on one queue: every change sent exactly once, each name in queue order', async (t) => {
  const { clock, queue, keeper } = setup();
  const dns = new FakeDnsZones();
  const ddns = testDdnsConfig(zones);
  const servers = ['srv-a', 'srv-b'].map((name) => {
    const claims = keeper(name);
    const worker = new DdnsWorker({ ddns, store: sharedStore(queue, name), updater: dns, logger: silentLogger, clock, claims, batch: { maxParts: 1, maxBytes: 65_000 } });
    return { claims, worker };
  });
  // Three names, each added, removed and added again, queued interleaved.
  const names = ['x', 'y', 'z'].map((n) => `${n}.lab.leasehold.test`);
  for (const [action, ip] of [['add', '198.18.1.10'], ['remove', '198.18.1.10'], ['add', '198.18.1.11']] as const) {
    for (const fqdn of names) queue.add(change(fqdn, action, ip));
  }
  // Both servers claim in turns until the queue is empty (each pass as the claim timer would).
  for (let round = 0; round < 20 && queue.rows.length > 0; round++) {
    for (const { claims, worker } of servers) {
      worker.enqueue(await claims.claim(2));
      await worker.idle();
    }
  }
  t.is(queue.rows.length, 0, 'the queue was worked off');
  for (const fqdn of names) t.deepEqual(dns.get(fqdn, 'A'), ['198.18.1.11'], `${fqdn} ends as its last change says`);
  // Each change's first message (its forward add or delete) appears once, and a name's in queue order.
  const forwardAdds = dns.messages.filter((m) => m.updates.some((u) => u.kind === 'add' && u.record.type === 'A'));
  t.is(forwardAdds.length, names.length * 2, 'no add sent twice');
  for (const fqdn of names) {
    const aOps = dns.messages.flatMap((m) => m.updates).filter((u) => u.name === fqdn && (u.kind === 'delete-name' || ('record' in u && u.record.type === 'A') || (u.kind === 'delete-rrset' && u.type === 'A')));
    const spelled = aOps.map((u) => ('record' in u ? `${u.kind} ${u.record.data}` : u.kind));
    t.deepEqual(spelled, ['add 198.18.1.10', ...spelled.slice(1, -1), 'add 198.18.1.11'], `${fqdn}: ${spelled.join(', ')}`);
    t.true(spelled.slice(1, -1).length > 0 && spelled.slice(1, -1).every((s) => s.startsWith('delete')), `${fqdn}: the removal between the adds`);
  }
  t.true(servers.every(({ claims }) => claims.held === 0));
  await Promise.all(servers.map(({ worker }) => worker.stop()));
});

/**
 * A server's view of the shared queue whose claim passes can be held on
 * their way back: the pass reads (and renews) the rows when it is asked,
 * as the database does, and its answer arrives when the test says so, as
 * an answer slowed by a loaded machine arrives after later ones.
 */
function slowAnswers(queue: MemoryDnsClaimQueue, server: string) {
  const fast = queue.forServer(server);
  const held: Array<() => void> = [];
  const view: DnsClaimQueue = {
    ...fast,
    claim: async (max) => {
      const answer = await fast.claim(max);
      await new Promise<void>((resolve) => held.push(resolve));
      return answer;
    },
  };
  const deliver = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    for (const resolve of held.splice(0)) resolve();
  };
  return { view, deliver };
}

const forwardAddsOf = (dns: FakeDnsZones) => dns.messages.filter((m) => m.updates.some((u) => u.kind === 'add' && u.record.type === 'A'));

test('a claim pass that read the queue before a change was finished does not hand that change to the worker again', async (t) => {
  const { clock, queue } = setup();
  const dns = new FakeDnsZones();
  const { view, deliver } = slowAnswers(queue, 'srv-a');
  const claims = new ClaimKeeper(view, clock, SETTINGS);
  const worker = new DdnsWorker({ ddns: testDdnsConfig(zones), store: sharedStore(queue, 'srv-a'), updater: dns, logger: silentLogger, clock, claims, paused: true });
  queue.add(change('a.lab.leasehold.test'));
  const first = claims.claim(10);
  await deliver();
  worker.enqueue(await first);
  // A second pass (another commit's, or the poll timer's) reads the row, still queued and ours...
  const second = claims.claim(10);
  // ...the worker sends the change and dequeues it while that pass's answer is on its way...
  worker.resume();
  await worker.idle();
  t.is(queue.rows.length, 0);
  t.is(forwardAddsOf(dns).length, 1);
  // ...and then the answer arrives: what it names was finished meanwhile.
  await deliver();
  worker.enqueue(await second);
  t.deepEqual(seqs(await second), [], 'a change finished while the pass was out is not fresh');
  t.is(claims.held, 0);
  await worker.idle();
  t.is(forwardAddsOf(dns).length, 1, 'sent once');
  await worker.stop();
});

/** The A-record operations sent for `fqdn`, in wire order: "add 198.18.1.10", "delete-name", … */
function aOperations(dns: FakeDnsZones, fqdn: string): string[] {
  return dns.messages
    .flatMap((m) => m.updates)
    .filter((u) => u.name === fqdn && (u.kind === 'delete-name' || ('record' in u && u.record.type === 'A') || (u.kind === 'delete-rrset' && u.type === 'A')))
    .map((u) => ('record' in u ? `${u.kind} ${u.record.data}` : u.kind));
}

/** Two servers, each with its claim keeper and worker, on one queue and one zone. */
function twoServers(queue: MemoryDnsClaimQueue, clock: ManualClock) {
  const dns = new FakeDnsZones();
  const ddns = testDdnsConfig(zones);
  const server = (name: string) => {
    const claims = new ClaimKeeper(queue.forServer(name), clock, SETTINGS);
    const worker = new DdnsWorker({ ddns, store: sharedStore(queue, name), updater: dns, logger: silentLogger, clock, claims, batch: { maxParts: 1, maxBytes: 65_000 } });
    /** One claim pass, as the poll timer makes it, and the worker's sends of what it claimed. */
    const pass = async () => {
      const fresh = await claims.claim(10);
      worker.enqueue(fresh);
      await worker.idle();
      return seqs(fresh);
    };
    return { claims, worker, pass };
  };
  return { dns, a: server('srv-a'), b: server('srv-b') };
}

test("a name's changes committed by two servers go out in queue order: the later one waits while the other server holds the earlier", async (t) => {
  const { clock, queue } = setup();
  const { dns, a, b } = twoServers(queue, clock);
  const fqdn = 'x.lab.leasehold.test';
  // Bound through srv-a, which claims the add as it commits it; the add is not sent yet.
  queue.add(change(fqdn, 'add', '198.18.1.10'), 'srv-a');
  const heldByA = await a.claims.claim(10);
  t.deepEqual(seqs(heldByA), [1]);
  // Released through srv-a, then bound again through srv-b, each claimed by its writer.
  queue.add(change(fqdn, 'remove', '198.18.1.10'), 'srv-a');
  queue.add(change(fqdn, 'add', '198.18.1.11'), 'srv-b');
  t.deepEqual(await b.pass(), [], "srv-b's own change is not its name's head");
  // srv-b's writer claim runs out, srv-a keeps renewing the head: srv-b still waits.
  for (let i = 0; i < 4; i++) {
    clock.advance(SETTINGS.claimMs / 3);
    await a.claims.renew();
    t.deepEqual(await b.pass(), [], 'the head is claimed by srv-a');
  }
  t.deepEqual(aOperations(dns, fqdn), [], 'nothing sent for the name yet');
  a.worker.enqueue(heldByA);
  await a.worker.idle();
  t.deepEqual(queue.rows.map((r) => r.change.seq), [2, 3], 'srv-a sent the head it holds');
  // srv-a's own claim on the removal ran out while it waited (nobody renews what is not yet a head):
  // whoever claims next sends it, and the add still waits behind it.
  t.deepEqual(await b.pass(), [2], 'the removal is the head now');
  t.deepEqual(await b.pass(), [3], "only now srv-b's add");
  t.is(queue.rows.length, 0);
  t.deepEqual(aOperations(dns, fqdn), ['add 198.18.1.10', 'delete-record 198.18.1.10', 'add 198.18.1.11']);
  t.deepEqual(dns.get(fqdn, 'A'), ['198.18.1.11']);
  await Promise.all([a.worker.stop(), b.worker.stop()]);
});

test("a name's earlier change held by a server that died is taken over and sent before the survivor's later change", async (t) => {
  const { clock, queue } = setup();
  const { dns, a, b } = twoServers(queue, clock);
  const fqdn = 'x.lab.leasehold.test';
  queue.add(change(fqdn, 'add', '198.18.1.10'), 'srv-a');
  t.deepEqual(seqs(await a.claims.claim(10)), [1], 'claimed by srv-a, which dies before sending it');
  queue.add(change(fqdn, 'remove', '198.18.1.10'), 'srv-b');
  queue.add(change(fqdn, 'add', '198.18.1.11'), 'srv-b');
  clock.advance(SETTINGS.claimMs - 1);
  t.deepEqual(await b.pass(), [], "srv-a's claim has not run out");
  clock.advance(1);
  t.deepEqual(await b.pass(), [1], "the dead server's change first, once its claim ran out");
  t.deepEqual(await b.pass(), [2]);
  t.deepEqual(await b.pass(), [3]);
  t.deepEqual(aOperations(dns, fqdn), ['add 198.18.1.10', 'delete-record 198.18.1.10', 'add 198.18.1.11']);
  await Promise.all([a.worker.stop(), b.worker.stop()]);
});

test('a claim that stops being trusted between two messages of one change stops the change there; the server taking it over sends it whole', async (t) => {
  const { clock, queue, keeper } = setup();
  const dns = new FakeDnsZones();
  const ddns = testDdnsConfig([...zones, { name: '18.198.in-addr.arpa', servers: [{ address: '198.18.0.2', port: 53 }] }]);
  // The forward UPDATE is slow: the claim is past its trusted part when the answer comes (the database was out of reach, no renewal).
  const slowForward: DnsUpdater = {
    update: async (zone, req) => {
      if (zone.name === 'leasehold.test') clock.advance(SETTINGS.claimMs - SETTINGS.marginMs);
      return dns.update(zone, req);
    },
  };
  const a = keeper('srv-a');
  const worker = new DdnsWorker({ ddns, store: sharedStore(queue, 'srv-a'), updater: slowForward, logger: silentLogger, clock, claims: a });
  queue.add(change('a.lab.leasehold.test'));
  worker.enqueue(await a.claim(10));
  await worker.idle();
  const ptrMessages = () => dns.messages.filter((m) => m.updates.some((u) => 'record' in u && u.record.type === 'PTR')).length;
  t.is(forwardAddsOf(dns).length, 1);
  t.is(ptrMessages(), 0, 'no PTR UPDATE started without a trusted claim');
  t.is(queue.rows.length, 1, 'the change stays queued for whoever holds it next');
  t.is(a.held, 0);
  clock.advance(SETTINGS.marginMs);
  const b = keeper('srv-b');
  const other = new DdnsWorker({ ddns, store: sharedStore(queue, 'srv-b'), updater: dns, logger: silentLogger, clock, claims: b });
  other.enqueue(await b.claim(10));
  await other.idle();
  t.is(queue.rows.length, 0);
  t.is(ptrMessages(), 1);
  t.deepEqual(dns.get('10.1.18.198.in-addr.arpa', 'PTR'), ['a.lab.leasehold.test']);
  await Promise.all([worker.stop(), other.stop()]);
});
