import test from 'ava';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../lib/core/clock.ts';
import { DnsExchangeError } from '../../lib/dns/dns-exchange-error.ts';
import { DnsRcodeError } from '../../lib/dns/dns-rcode-error.ts';
import { TsigError } from '../../lib/dns/tsig-error.ts';
import type { UpdateRequest } from '../../lib/dns/update-request.ts';
import { Counters } from '../../server/app/counters.ts';
import { DdnsService } from '../../server/app/ddns-service.ts';
import type { DdnsZoneConfig } from '../../server/ddns/ddns-config.ts';
import { DdnsWorker, type DnsRefusal, type UpdateAnswer } from '../../server/ddns/ddns-worker.ts';
import type { DnsChange } from '../../server/leases/dns-change.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { createDnsServices, DdnsKeyError, judgeUpdateFailure, type DnsServices, type KeyCheck } from '../../server/net/dns-updater.ts';
import { recordingLogger, testDdnsConfig, testDnsChange } from './helpers/ddns-fixtures.ts';

const SECRET = 'b3EFo8+7ZqneKWHOFKQPFcWq0vK2tytRP45lxeDfjDU=';
const FORWARD = 'leasehold.test';
const OTHER = 'web.leasehold.test';
const REVERSE = '18.198.in-addr.arpa';
const server = [{ address: '198.18.0.2', port: 53 }];
const zones: DdnsZoneConfig[] = [
  { name: FORWARD, servers: server, key: { name: 'leasehold-key', algorithm: 'hmac-sha256', secretFile: '/etc/leasehold/ddns.key' } },
  { name: OTHER, servers: server, key: { name: 'web-key', algorithm: 'hmac-sha256', secret: SECRET } },
  { name: REVERSE, servers: server },
];
const ddns = testDdnsConfig(zones, { conflictResolution: 'no-check-without-dhcid', retry: { initialMs: 5, maxMs: 10 } });

const BADSIG: DnsRefusal = {
  kind: 'refused', rcode: 'NOTAUTH', tsigError: 'BADSIG', server: '198.18.0.2 port 53', code: 'E_TSIG_BADSIG',
  detail: 'TSIG BADSIG (reported by the server): the server computed a different MAC: wrong secret?',
};

/** A fake DNS: zones listed in `refusing` refuse every update; every name of every message is recorded. */
class ZoneUpdater {
  readonly sent: Array<{ zone: string; name: string; kind: 'add' | 'remove' }> = [];
  readonly messages: UpdateRequest[] = [];
  readonly refusing = new Set<string>();
  /** Resolves the answer of the next update only when this is called. */
  hold: (() => Promise<void>) | undefined;
  async update(zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateAnswer> {
    this.messages.push(req);
    // A message may carry several names' steps (update-batch.ts): one entry per name, in order.
    for (const name of new Set(req.updates.map((u) => u.name))) {
      const kind = req.updates.some((u) => u.name === name && u.kind === 'add') ? 'add' : 'remove';
      this.sent.push({ zone: zone.name, name, kind });
    }
    const refuse = this.refusing.has(zone.name);
    await this.hold?.();
    return refuse ? BADSIG : 'success';
  }
  forward(name: string) {
    return this.sent.filter((s) => s.name === name && s.zone !== REVERSE).map((s) => s.kind);
  }
}

let seq = 0;
const change = (fqdn: string, action: 'add' | 'remove' = 'add', ipv4?: string) => testDnsChange(++seq, fqdn, action, ipv4);

function setup() {
  const store = new MemoryLeaseStore();
  const updater = new ZoneUpdater();
  const logger = recordingLogger();
  const counters = new Counters();
  const worker = new DdnsWorker({ ddns, store, updater, logger, clock: new ManualClock(), counters });
  /** Durable first, as the registrar does, then queued. */
  const enqueue = async (changes: DnsChange[]) => {
    await store.commit({ enqueue: changes });
    worker.enqueue(changes);
  };
  return { store, updater, logger, counters, worker, enqueue };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (a few ms at a time, 1 s at most) until `ready()`. */
async function pollFor(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ready(); i++) await sleep(5);
}

test('a refused change is parked: kept in the store, not retried, later changes to its name wait behind it', async (t) => {
  const { store, updater, counters, worker, enqueue } = setup();
  updater.refusing.add(FORWARD);
  const stuck = change('stuck.lab.leasehold.test');
  await enqueue([stuck]);
  await worker.idle();
  await enqueue([change('stuck.lab.leasehold.test', 'remove')]);
  await worker.idle();
  // Many times the longest back-off (10 ms): a retried change would have gone out again.
  await sleep(60);
  t.deepEqual(updater.forward('stuck.lab.leasehold.test'), ['add'], 'sent once, not retried, and the remove did not overtake it');
  t.deepEqual(store.loadDnsQueue().map((c) => c.fqdn), ['stuck.lab.leasehold.test', 'stuck.lab.leasehold.test'], 'both still durable');
  t.is(worker.pending, 2);
  t.is(worker.parked, 2);
  t.true(worker.hasPending('stuck.lab.leasehold.test'), 'the reconciler leaves a parked name alone');
  t.is(counters.get('ddns_refused', { zone: FORWARD, rcode: 'BADSIG' }), 1);
  t.is(counters.get('ddns_retries'), 0);
  t.false(updater.sent.some((s) => s.zone === REVERSE), 'no PTR for a name that could not be published');
});

test('other names and other zones flow past a parked change', async (t) => {
  const { store, updater, worker, enqueue } = setup();
  updater.refusing.add(FORWARD);
  await enqueue([change('a.lab.leasehold.test'), change('b.web.leasehold.test', 'add', '198.18.1.11'), change('c.lab.leasehold.test', 'add', '198.18.1.12')]);
  await worker.idle();
  t.deepEqual(updater.forward('b.web.leasehold.test'), ['add']);
  t.true(updater.sent.some((s) => s.zone === REVERSE && s.name === '11.1.18.198.in-addr.arpa'), 'its PTR too');
  t.deepEqual(updater.forward('c.lab.leasehold.test'), ['add'], 'another name of the refusing zone is sent too');
  t.deepEqual(store.loadDnsQueue().map((c) => c.fqdn).sort(), ['a.lab.leasehold.test', 'c.lab.leasehold.test']);
});

test('a refusal is logged once per zone and answer, as an error naming zone, key and rcode, never the secret', async (t) => {
  const { updater, logger, worker, enqueue } = setup();
  updater.refusing.add(FORWARD);
  updater.refusing.add(OTHER);
  await enqueue([change('a.lab.leasehold.test'), change('b.lab.leasehold.test'), change('c.web.leasehold.test')]);
  await worker.idle();
  const errors = logger.lines.filter((l) => l.level === 'error');
  t.deepEqual(errors.map((l) => [l.event, l.fields.zone]).sort(), [['ddns-refused', FORWARD], ['ddns-refused', OTHER]]);
  t.like(errors.find((l) => l.fields.zone === FORWARD)?.fields, {
    key: 'leasehold-key', algorithm: 'hmac-sha256', keyFile: '/etc/leasehold/ddns.key', rcode: 'NOTAUTH', tsigError: 'BADSIG', code: 'E_TSIG_BADSIG', server: '198.18.0.2 port 53',
  });
  t.like(errors.find((l) => l.fields.zone === OTHER)?.fields, { key: 'web-key', algorithm: 'hmac-sha256' });
  t.false(JSON.stringify(logger.lines).includes(SECRET), 'the inline secret appears nowhere in the log');
  t.is(logger.lines.filter((l) => l.event === 'ddns-parked').length, 3, 'one info line per parked name');
});

test('unpark sends a zone\'s parked changes again, each name in order; other zones stay parked', async (t) => {
  const { store, updater, logger, counters, worker, enqueue } = setup();
  updater.refusing.add(FORWARD);
  updater.refusing.add(OTHER);
  // The removal is of another lease's address, so nothing folds (change-coalescing.ts): each change is sent.
  await enqueue([change('x.lab.leasehold.test'), change('x.lab.leasehold.test', 'remove', '198.18.1.11'), change('x.lab.leasehold.test', 'add', '198.18.1.20')]);
  await enqueue([change('y.web.leasehold.test')]);
  await worker.idle();
  updater.refusing.delete(FORWARD);
  t.is(worker.unpark([FORWARD]), 3);
  await worker.idle();
  t.deepEqual(updater.forward('x.lab.leasehold.test'), ['add', 'add', 'remove', 'add'], 'the refused add again, then the rest in queue order');
  t.deepEqual(store.loadDnsQueue().map((c) => c.fqdn), ['y.web.leasehold.test'], 'the other zone\'s change still parked');
  t.is(worker.parked, 1);
  t.like(logger.lines.find((l) => l.event === 'ddns-unparked')?.fields, { zones: [FORWARD], names: 1, changes: 3 });

  // Unparked and refused again: logged again (the operator changed something, it did not help).
  updater.refusing.add(FORWARD);
  await enqueue([change('z.lab.leasehold.test')]);
  await worker.idle();
  t.is(logger.lines.filter((l) => l.event === 'ddns-refused' && l.fields.zone === FORWARD).length, 2);
  t.is(counters.total('ddns_refused'), 3);
});

test('once unparked, a parked add and the removal queued behind it fold: nothing is sent, both leave the store', async (t) => {
  const { store, updater, counters, worker, enqueue } = setup();
  updater.refusing.add(FORWARD);
  await enqueue([change('gone.lab.leasehold.test')]);
  await worker.idle();
  // The client left while the add was parked: its removal undoes exactly that add.
  await enqueue([change('gone.lab.leasehold.test', 'remove'), change('kept.lab.leasehold.test', 'add', '198.18.1.30')]);
  await worker.idle();
  updater.refusing.delete(FORWARD);
  t.is(worker.unpark([FORWARD]), 3);
  await worker.idle();
  t.deepEqual(updater.forward('gone.lab.leasehold.test'), ['add'], 'only the refused try: the pair sent nothing once unparked');
  t.deepEqual(updater.forward('kept.lab.leasehold.test'), ['add', 'add'], 'the other parked name is sent again');
  t.deepEqual(store.loadDnsQueue(), [], 'every entry dequeued, the folded ones too');
  t.is(counters.get('ddns_changes_coalesced'), 2);
});

test('a refusal of an update sent before an unpark is retried, not parked: it may be the old key\'s', async (t) => {
  const { store, updater, worker, enqueue } = setup();
  updater.refusing.add(FORWARD);
  let release: () => void = () => {};
  updater.hold = () => new Promise<void>((resolve) => (release = resolve));
  await enqueue([change('racing.lab.leasehold.test')]);
  await pollFor(() => updater.sent.length === 1);
  t.is(updater.sent.length, 1, 'on the wire');
  updater.refusing.delete(FORWARD);
  worker.unpark([FORWARD]);
  updater.hold = undefined;
  release();
  await worker.idle();
  t.deepEqual(updater.forward('racing.lab.leasehold.test'), ['add', 'add']);
  t.deepEqual(store.loadDnsQueue(), []);
});

test('a paused worker queues without sending until resumed', async (t) => {
  const store = new MemoryLeaseStore();
  const updater = new ZoneUpdater();
  const worker = new DdnsWorker({ ddns, store, updater, logger: recordingLogger(), clock: new ManualClock(), paused: true });
  worker.enqueue([change('early.lab.leasehold.test')]);
  await sleep(10);
  t.deepEqual(updater.sent, []);
  worker.resume();
  await worker.idle();
  t.deepEqual(updater.forward('early.lab.leasehold.test'), ['add']);
});

test('which answers are refusals for good (RFC 2136 §2.2, RFC 8945 §5.2) and which are retried', (t) => {
  const rcode = (n: number) => judgeUpdateFailure(new DnsRcodeError(n, 'UPDATE leasehold.test'));
  t.deepEqual(rcode(5), { kind: 'refused', rcode: 'REFUSED' });
  t.deepEqual(rcode(9), { kind: 'refused', rcode: 'NOTAUTH' });
  t.deepEqual(rcode(10), { kind: 'refused', rcode: 'NOTZONE' });
  t.deepEqual(rcode(4), { kind: 'refused', rcode: 'NOTIMP' });
  t.deepEqual(rcode(1), { kind: 'refused', rcode: 'FORMERR' });
  t.deepEqual(rcode(2), { kind: 'failed', level: 'warn', reason: 'SERVFAIL', answered: true }, 'SERVFAIL passes');
  t.deepEqual(rcode(6), { kind: 'prerequisite', outcome: 'yxdomain' });
  t.deepEqual(rcode(8), { kind: 'prerequisite', outcome: 'nxrrset' });
  t.deepEqual(rcode(3), { kind: 'prerequisite', outcome: 'nxdomain' });
  t.deepEqual(rcode(11), { kind: 'failed', level: 'warn', reason: 'RCODE11', answered: true }, 'an RCODE RFC 2136 does not define');
  const tsig = (problem: 'BADSIG' | 'BADKEY' | 'BADTIME' | 'BADTRUNC' | 'UNSIGNED', by: 'server' | 'client') => judgeUpdateFailure(new TsigError(problem, by, 'x', false));
  t.deepEqual(tsig('BADKEY', 'server'), { kind: 'refused', rcode: 'NOTAUTH', tsigError: 'BADKEY' });
  t.deepEqual(tsig('BADSIG', 'server'), { kind: 'refused', rcode: 'NOTAUTH', tsigError: 'BADSIG' });
  t.deepEqual(tsig('BADTRUNC', 'server'), { kind: 'refused', rcode: 'NOTAUTH', tsigError: 'BADTRUNC' });
  t.deepEqual(tsig('BADTIME', 'server'), { kind: 'failed', level: 'error', reason: 'BADTIME', answered: true }, 'a clock apart: retried, loudly');
  t.deepEqual(tsig('BADSIG', 'client'), { kind: 'failed', level: 'warn', reason: 'TSIG_BADSIG', answered: false }, 'our check of its answer failed: maybe not the server\'s word');
  t.deepEqual(tsig('UNSIGNED', 'client'), { kind: 'failed', level: 'warn', reason: 'TSIG_UNSIGNED', answered: false });
  t.deepEqual(judgeUpdateFailure(new DnsExchangeError('E_DNS_TIMEOUT', 'no answer')), { kind: 'failed', level: 'warn', reason: 'TIMEOUT', answered: false });
  t.deepEqual(judgeUpdateFailure(new DnsExchangeError('E_DNS_UNREACHABLE', 'refused')), { kind: 'failed', level: 'warn', reason: 'UNREACHABLE', answered: false });
});

function keyFile(secret: string, name = 'leasehold-key'): string {
  return `key "${name}" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`;
}

test('reloadKeys: a changed key file gives its zone a new key; an unusable one keeps the old; inline keys never change', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-keys-'));
  const path = join(dir, 'ddns.key');
  writeFileSync(path, keyFile(SECRET));
  const fileZones: DdnsZoneConfig[] = [{ ...zones[0], key: { ...zones[0].key!, secretFile: path } }, zones[1], zones[2]];
  const dns = createDnsServices(fileZones, recordingLogger());
  t.deepEqual(dns.reloadKeys(), { changed: [], failed: [] }, 'nothing changed');
  writeFileSync(path, keyFile(SECRET) + '# touched\n');
  t.deepEqual(dns.reloadKeys(), { changed: [], failed: [] }, 'another text, the same key');
  // Replaced by rename, as editors and `tsig-keygen > new && mv new ddns.key` do.
  writeFileSync(join(dir, 'new'), keyFile(Buffer.alloc(32, 1).toString('base64')));
  renameSync(join(dir, 'new'), path);
  t.deepEqual(dns.reloadKeys(), { changed: [FORWARD], failed: [] });
  t.deepEqual(dns.reloadKeys().changed, [], 'once');
  writeFileSync(path, keyFile(SECRET, 'another-name'));
  const broken = dns.reloadKeys();
  t.deepEqual(broken.changed, []);
  t.is(broken.failed.length, 1);
  t.regex(broken.failed[0].error.message, /ddns zone leasehold\.test: key file .* has no key "leasehold-key"/);
  writeFileSync(path, keyFile(SECRET));
  t.deepEqual(dns.reloadKeys().changed, [FORWARD], 'back to a usable file: a new key again');
});

/** The DNS edge of the service tests: scripted key checks, a ZoneUpdater. */
function scriptedDns(updater: ZoneUpdater, checks: KeyCheck[]): () => DnsServices {
  return () => ({ updater, lookup: { lookup: async () => [] }, reloadKeys: () => checks.shift() ?? { changed: [], failed: [] }, close: () => {} });
}

test('the DDNS service loads the stored queue at start, sends it only once serving, and unparks a zone whose key file changed', async (t) => {
  const store = new MemoryLeaseStore();
  const updater = new ZoneUpdater();
  updater.refusing.add(FORWARD);
  await store.commit({ enqueue: [change('kept.lab.leasehold.test')] });
  const logger = recordingLogger();
  const checks: KeyCheck[] = [];
  const service = new DdnsService(ddns, {
    subnets: new Map(), store: () => store, leases: () => [], clock: new ManualClock(), logger, counters: new Counters(), keyCheckIntervalMs: 5, dnsServices: scriptedDns(updater, checks),
  });
  await service.start();
  await sleep(10);
  t.deepEqual(updater.sent, [], 'nothing before serve');
  service.serve();
  await service.worker.idle();
  t.deepEqual(updater.forward('kept.lab.leasehold.test'), ['add']);
  t.is(service.worker.parked, 1);
  t.like(logger.lines.find((l) => l.event === 'ddns-queue-resumed')?.fields, { pending: 1 });

  updater.refusing.delete(FORWARD);
  const unusable = { zone: FORWARD, error: new DdnsKeyError('ddns zone leasehold.test: key file x has no key "leasehold-key"') };
  checks.push({ changed: [], failed: [unusable] }, { changed: [], failed: [unusable] }, { changed: [FORWARD], failed: [] });
  // The key timer runs every 5 ms; wait until it has consumed all three
  // scripted checks (a fixed sleep was flaky on a loaded machine).
  for (const deadline = Date.now() + 5_000; checks.length > 0 && Date.now() < deadline; ) await sleep(5);
  t.is(checks.length, 0, 'the key timer ran all three checks');
  await service.worker.idle();
  t.deepEqual(updater.forward('kept.lab.leasehold.test'), ['add', 'add'], 'sent again once the key changed');
  t.deepEqual(store.loadDnsQueue(), []);
  t.is(logger.lines.filter((l) => l.event === 'ddns-key-unusable').length, 1, 'a broken key file is logged once');
  t.like(logger.lines.find((l) => l.event === 'ddns-key-reloaded')?.fields, { zone: FORWARD, key: 'leasehold-key', algorithm: 'hmac-sha256' });
  await service.stop();
});
