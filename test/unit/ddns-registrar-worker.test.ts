import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger } from '../../lib/core/logger.ts';
import type { ServerSubnetConfig } from '../../server/config/config.ts';
import type { UpdateOutcome } from '../../server/ddns/conflict-resolution.ts';
import { subnetDdnsById, type DdnsConfig, type DdnsZoneConfig } from '../../server/ddns/ddns-config.ts';
import type { DnsChange } from '../../server/leases/dns-change.ts';
import { DdnsWorker } from '../../server/ddns/ddns-worker.ts';
import { DdnsRegistrar } from '../../server/ddns/name-registrar.ts';
import type { UpdateRequest } from '../../lib/dns/update-request.ts';
import { Dhcp4Engine } from '../../server/dhcp4/dhcp4-engine.ts';
import { Dhcp4MessageType as T, Opt } from '../../lib/dhcp4/option-defs.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { clientRequest, testMac } from './helpers/dhcp4-requests.ts';
import { testDdnsConfig } from './helpers/ddns-fixtures.ts';

const SERVER = '198.18.0.1';
const ctx = { interfaceName: 'eth0', serverAddress: SERVER };
const zones: DdnsZoneConfig[] = [
  { name: 'leasehold.test', servers: [{ address: '198.18.0.2', port: 53 }] },
  { name: '18.198.in-addr.arpa', servers: [{ address: '198.18.0.2', port: 53 }] },
];
const ddns: DdnsConfig = testDdnsConfig(zones);
const subnet: ServerSubnetConfig = {
  id: 'lab',
  subnet: '198.18.0.0/16',
  interface: 'eth0',
  pools: [{ start: '198.18.1.10', end: '198.18.1.20' }],
  leaseTime: 600,
  renewTime: 300,
  rebindTime: 525,
  options: {},
  reservations: [],
  ddns: { domain: 'leasehold.test', defaultApp: 'lab', slaacPrefix: 'fd00:198:18::/64' },
};

/** A fake BIND: records every request, answers from a script (default success). */
class ScriptedUpdater {
  readonly sent: UpdateRequest[] = [];
  answers: UpdateOutcome[] = [];
  async update(_zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateOutcome> {
    this.sent.push(req);
    return this.answers.shift() ?? 'success';
  }
}

function setup(over: Partial<DdnsConfig> = {}) {
  const clock = new ManualClock();
  const store = new MemoryLeaseStore();
  const updater = new ScriptedUpdater();
  const config = { ...ddns, ...over };
  const worker = new DdnsWorker({ ddns: config, store, updater, logger: silentLogger, clock });
  const registrar = new DdnsRegistrar(config, subnetDdnsById([subnet]), () => clock.now(), 0, (c) => worker.enqueue(c));
  const engine = new Dhcp4Engine({
    subnets: [subnet], store, clock, logger: silentLogger, offerHoldSeconds: 30, declineQuarantineSeconds: 60,
    serverAddresses: [SERVER], registrar,
  });
  return { clock, store, updater, worker, engine };
}

async function dora(engine: Dhcp4Engine, mac: string, hostname: string) {
  const offer = await engine.handle(clientRequest({ type: T.Discover, mac, hostname }), ctx);
  if (offer.kind !== 'reply') throw new Error(offer.reason);
  const ack = await engine.handle(clientRequest({ type: T.Request, mac, hostname, requestedIp: offer.reply.yiaddr, serverId: SERVER }), ctx);
  if (ack.kind !== 'reply') throw new Error(ack.reason);
  return ack.reply;
}

const names = (reqs: UpdateRequest[]) => reqs.map((r) => r.zone);

test('a binding queues its name with the lease, and the worker publishes forward then reverse', async (t) => {
  const { store, updater, worker, engine } = setup();
  const ack = await dora(engine, testMac(1), 'web1');
  const lease = store.loadAll()[0];
  t.is(lease.fqdn, 'web1.lab.leasehold.test');
  t.truthy(lease.ipv6, 'the SLAAC address is recorded with the lease');
  await worker.idle();
  t.deepEqual(names(updater.sent), ['leasehold.test', '18.198.in-addr.arpa']);
  const add = updater.sent[0].updates.find((u) => u.kind === 'add' && u.record.type === 'A');
  t.like(add, { name: 'web1.lab.leasehold.test', record: { type: 'A', data: ack.yiaddr } });
  t.deepEqual(store.loadDnsQueue(), [], 'done changes leave the durable queue');
});

test('a renewal with the same name sends nothing; a release withdraws the name', async (t) => {
  const { updater, worker, engine } = setup();
  const ack = await dora(engine, testMac(1), 'web1');
  await worker.idle();
  const sentBefore = updater.sent.length;
  await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), hostname: 'web1', ciaddr: ack.yiaddr }), ctx);
  await worker.idle();
  t.is(updater.sent.length, sentBefore, 'RFC 4702: nothing changed, nothing sent');
  await engine.handle(clientRequest({ type: T.Release, mac: testMac(1), ciaddr: ack.yiaddr, serverId: SERVER }), ctx);
  await worker.idle();
  const removal = updater.sent.slice(sentBefore);
  t.deepEqual(names(removal).slice(0, 1), ['leasehold.test']);
  t.true(removal[0].updates.some((u) => u.kind === 'delete-record' && u.record.type === 'A' && u.record.data === ack.yiaddr));
});

test('a client that renames itself loses the old name before it gets the new one', async (t) => {
  const { updater, worker, engine } = setup();
  const ack = await dora(engine, testMac(1), 'old');
  await worker.idle();
  updater.sent.length = 0;
  await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), hostname: 'new', ciaddr: ack.yiaddr }), ctx);
  await worker.idle();
  const touched = updater.sent.flatMap((r) => r.updates.map((u) => u.name));
  t.true(touched.includes('old.lab.leasehold.test'));
  t.true(touched.includes('new.lab.leasehold.test'));
});

test('while DNS fails the change stays queued and is retried until it goes through', async (t) => {
  const { store, updater, worker, engine } = setup();
  updater.answers = ['failed', 'failed', 'failed'];
  await dora(engine, testMac(1), 'web1');
  await new Promise((r) => setTimeout(r, 15));
  t.is(store.loadDnsQueue().length, 1, 'still queued while failing');
  await worker.idle();
  t.true(updater.sent.length >= 4);
  t.deepEqual(store.loadDnsQueue(), []);
});

test('the ACK carries option 81 back to a client that sent it (RFC 4702 §4)', async (t) => {
  const { engine } = setup();
  const offer = await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2) }), ctx);
  if (offer.kind !== 'reply') throw new Error('no offer');
  const req = clientRequest({ type: T.Request, mac: testMac(2), requestedIp: offer.reply.yiaddr, serverId: SERVER });
  req.options.set(Opt.ClientFqdn, { flags: { s: true, o: false, e: true, n: false }, rcode1: 0, rcode2: 0, name: 'api1.web', partial: true });
  const ack = await engine.handle(req, ctx);
  if (ack.kind !== 'reply') throw new Error('no ack');
  const fqdn = ack.reply.options.get(Opt.ClientFqdn);
  t.truthy(fqdn);
  t.true(fqdn?.flags.s, 'S: the server did the A update');
  t.regex(String(fqdn?.name), /^api1\.web\.leasehold\.test/);
});

test('changes to one name go out in queue order, even across a retry', async (t) => {
  const { updater, worker } = setup();
  // The removal is of another address than the add's, so the two do not fold into nothing (change-coalescing.ts).
  const change = (seq: number, action: 'add' | 'remove', ipv4: string): DnsChange => ({
    seq, action, fqdn: 'x.lab.leasehold.test', ipv4, dhcid: 'AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=', ttl: 200, createdAt: 0,
  });
  updater.answers = ['failed'];
  worker.enqueue([change(1, 'add', '198.18.1.10'), change(2, 'remove', '198.18.1.11')]);
  await worker.idle();
  const kinds = updater.sent.filter((r) => r.zone === 'leasehold.test').map((r) => (r.updates.some((u) => u.kind === 'add') ? 'add' : 'remove'));
  t.deepEqual(kinds.slice(0, 3), ['add', 'add', 'remove'], 'the failed add is retried before the remove goes');
  t.deepEqual(kinds, [...kinds].sort(), 'no add after a remove');
});

test('expiry and DECLINE withdraw the name too, and only once', async (t) => {
  const { clock, store, updater, worker, engine } = setup();
  const a = await dora(engine, testMac(1), 'expiring');
  const b = await dora(engine, testMac(2), 'declining');
  await worker.idle();
  updater.sent.length = 0;
  await engine.handle(clientRequest({ type: T.Decline, mac: testMac(2), requestedIp: b.yiaddr, serverId: SERVER }), ctx);
  clock.advance(601_000);
  await engine.reclaimExpired();
  await engine.reclaimExpired();
  await worker.idle();
  const removed = updater.sent
    .filter((r) => r.zone === 'leasehold.test')
    .flatMap((r) => r.updates.filter((u) => u.kind === 'delete-record' && u.record.type === 'A').map((u) => u.name));
  t.deepEqual(removed.sort(), ['declining.lab.leasehold.test', 'expiring.lab.leasehold.test']);
  t.true(store.loadAll().every((l) => l.fqdn === undefined), 'ended leases forget their name');
  t.truthy(a);
});

test('no more UPDATEs in flight than the cap; stop() waits for those on the wire', async (t) => {
  const store = new MemoryLeaseStore();
  let inFlight = 0;
  let peak = 0;
  const gates: Array<() => void> = [];
  const updater = {
    async update(): Promise<UpdateOutcome> {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise<void>((resolve) => gates.push(resolve));
      inFlight--;
      return 'success';
    },
  };
  // One name per message, so that 20 names make 20 messages for the window to hold back (the zone's own cap set above it).
  const worker = new DdnsWorker({
    ddns, store, updater, logger: silentLogger, clock: new ManualClock(), maxInFlight: 4, maxPerZone: 20, batch: { maxParts: 1, maxBytes: 65_000 },
  });
  worker.enqueue(Array.from({ length: 20 }, (_, i): DnsChange => ({
    seq: i + 1, action: 'add', fqdn: `n${i}.lab.leasehold.test`, ipv4: `198.18.1.${i + 1}`, dhcid: 'AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=', ttl: 200, createdAt: 0,
  })));
  await new Promise((r) => setImmediate(r));
  t.is(inFlight, 4);
  const stopped = worker.stop();
  for (const open of gates.splice(0)) open();
  await stopped;
  t.is(peak, 4);
  t.is(inFlight, 0);
  t.true(worker.pending > 0, 'what was not sent stays queued');
});
