import { DHCP4_PROTECTION_DEFAULTS } from '../../server/dhcp4/dhcp4-config.ts';
import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { LeaseholdError } from '../../lib/core/errors.ts';
import { buildAppliance } from '../../server/app/appliance.ts';
import { Counters } from '../../server/app/counters.ts';
import { ServiceGroup, ServiceStopError, StartAbortedError, type Service } from '../../server/app/service.ts';
import type { ServerConfig } from '../../server/config/config.ts';
import type { DnsServices } from '../../server/net/dns-updater.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { InterfaceError } from '../../server/net/interfaces.ts';
import { DHCP4_SOCKET_DEFAULTS } from '../../server/dhcp4/dhcp4-config.ts';
import { TransportError } from '../../server/net/dhcp4-transport.ts';
import { NoAddressAvailableError } from '../../server/dhcp4/address-allocator.ts';
import { recordingLogger, testDdnsConfig, testDnsChange } from './helpers/ddns-fixtures.ts';

/** A service that writes what happens to it into a shared journal, and fails where told. */
function fake(name: string, journal: string[], fail: { start?: Error; stop?: Error; startDelayMs?: number } = {}): Service {
  return {
    name,
    async start() {
      journal.push(`start ${name}`);
      if (fail.startDelayMs) await new Promise((resolve) => setTimeout(resolve, fail.startDelayMs));
      if (fail.start) throw fail.start;
    },
    serve() {
      journal.push(`serve ${name}`);
    },
    async stop() {
      journal.push(`stop ${name}`);
      if (fail.stop) throw fail.stop;
    },
  };
}

test('services start in order, serve once all are up, and stop in reverse', async (t) => {
  const journal: string[] = [];
  const group = new ServiceGroup(['store', 'ddns', 'dhcp4', 'ra'].map((n) => fake(n, journal)), recordingLogger());
  await group.start();
  t.deepEqual(journal, ['start store', 'start ddns', 'start dhcp4', 'start ra', 'serve store', 'serve ddns', 'serve dhcp4', 'serve ra']);
  journal.length = 0;
  await group.stop();
  t.deepEqual(journal, ['stop ra', 'stop dhcp4', 'stop ddns', 'stop store']);
});

test('a failed start stops what had started, in reverse, serves nothing, and rethrows the very error', async (t) => {
  const journal: string[] = [];
  const logger = recordingLogger();
  const cause = new Error('UDP port 67: already in use by another process');
  const group = new ServiceGroup([fake('store', journal), fake('ddns', journal), fake('dhcp4', journal, { start: cause }), fake('ra', journal)], logger);
  const err = await t.throwsAsync(group.start());
  t.is(err, cause, 'the caller reports the service\'s own error');
  t.deepEqual(journal, ['start store', 'start ddns', 'start dhcp4', 'stop ddns', 'stop store'], 'the failed service is not stopped, the later one not started');
  t.deepEqual(logger.lines, [], 'nothing logged: the error is reported once, by the caller');
  journal.length = 0;
  await group.stop();
  t.deepEqual(journal, [], 'nothing left to stop');
});

test('a stop failing while a failed start is undone is logged once; the start error is still the one thrown', async (t) => {
  const journal: string[] = [];
  const logger = recordingLogger();
  const cause = new Error('interface eth9: no such interface');
  const group = new ServiceGroup([fake('store', journal, { stop: new Error('disk full') }), fake('dhcp4', journal, { start: cause })], logger);
  t.is(await t.throwsAsync(group.start()), cause);
  t.deepEqual(logger.lines.map((l) => [l.level, l.event, l.fields.service]), [['error', 'service-stop-failed', 'store']]);
});

test('stop is idempotent: every service is stopped once, whoever calls it how often', async (t) => {
  const journal: string[] = [];
  const group = new ServiceGroup([fake('a', journal), fake('b', journal)], recordingLogger());
  await group.start();
  journal.length = 0;
  const first = group.stop();
  const second = group.stop();
  await Promise.all([first, second, group.stop()]);
  await group.stop();
  t.deepEqual(journal, ['stop b', 'stop a']);
  await t.throwsAsync(group.start(), { message: /starts only once/ });
});

test('a service that fails to stop does not keep the others running; the stop rejects once naming it', async (t) => {
  const journal: string[] = [];
  const group = new ServiceGroup([fake('store', journal), fake('ddns', journal, { stop: new Error('worker stuck') }), fake('dhcp4', journal)], recordingLogger());
  await group.start();
  journal.length = 0;
  const err = await t.throwsAsync(group.stop(), { instanceOf: ServiceStopError });
  t.deepEqual(journal, ['stop dhcp4', 'stop ddns', 'stop store']);
  t.is(err.message, 'stopping ddns: worker stuck');
  t.is(err.code, 'E_SERVICE_STOP');
  t.deepEqual(err.failures.map((f) => f.service), ['ddns']);
  t.is(await group.stop().catch((e: unknown) => e), err, 'asked again, the same outcome, not a second stop');
});

test('a stop during the start waits for the service being started, stops it, and starts no more', async (t) => {
  const journal: string[] = [];
  const group = new ServiceGroup([fake('store', journal), fake('dhcp4', journal, { startDelayMs: 20 }), fake('ra', journal)], recordingLogger());
  const starting = group.start();
  await new Promise((resolve) => setTimeout(resolve, 5));
  await group.stop();
  await t.throwsAsync(starting, { instanceOf: StartAbortedError });
  t.deepEqual(journal, ['start store', 'start dhcp4', 'stop dhcp4', 'stop store']);
});

test('one counters registry: labelled series, per-name totals for the stopped line', (t) => {
  const counters = new Counters();
  counters.inc('packets_received');
  counters.inc('packets_received');
  counters.inc('ddns_refused', { zone: 'leasehold.test', rcode: 'BADSIG' });
  counters.inc('ddns_refused', { rcode: 'BADSIG', zone: 'leasehold.test' });
  counters.inc('ddns_refused', { zone: '18.198.in-addr.arpa', rcode: 'REFUSED' }, 3);
  t.deepEqual(counters.snapshot(), { ddns_refused: 5, packets_received: 2 });
  t.is(counters.get('packets_received'), 2);
  t.is(counters.get('ddns_refused', { zone: 'leasehold.test', rcode: 'BADSIG' }), 2, 'label order does not make another series');
  t.is(counters.get('ddns_refused'), 0, 'the unlabelled series is its own');
  t.is(counters.total('ddns_refused'), 5);
  t.deepEqual(counters.series(), [
    { name: 'ddns_refused', labels: { zone: 'leasehold.test', rcode: 'BADSIG' }, value: 2 },
    { name: 'ddns_refused', labels: { zone: '18.198.in-addr.arpa', rcode: 'REFUSED' }, value: 3 },
    { name: 'packets_received', labels: {}, value: 2 },
  ]);
});

const ddns = testDdnsConfig([{ name: 'leasehold.test', servers: [{ address: '198.18.0.2', port: 53 }] }]);

function applianceConfig(over: Partial<ServerConfig> = {}): ServerConfig {
  return {
    interfaces: [{ name: 'lt-nothere0' }],
    subnets: [],
    leaseStore: { type: 'sqlite', path: '/nonexistent/leases.db' },
    offerHoldSeconds: 30,
    declineQuarantineSeconds: 60,
    protection: DHCP4_PROTECTION_DEFAULTS,
    expiredReclaimIntervalSeconds: 60,
    log: { level: 'info' },
    control: { maxBodyBytes: 1 << 20 },
    dhcp4Sockets: DHCP4_SOCKET_DEFAULTS,
    ...over,
  };
}

/** A DNS edge that records what it is asked to send. */
function recordingDns(sent: string[]): () => DnsServices {
  return () => ({
    updater: {
      async update(_zone, req) {
        sent.push(req.zone);
        return 'success';
      },
    },
    lookup: { lookup: async () => [] },
    reloadKeys: () => ({ changed: [], failed: [] }),
    close: () => {},
  });
}

test('the appliance assembles store → ddns → dhcp4 → ra → ops from the config', (t) => {
  const logger = recordingLogger();
  const withAll = buildAppliance(
    applianceConfig({ ddns, ra: { interfaces: [] } }),
    { logger, openStore: () => new MemoryLeaseStore() },
  );
  t.deepEqual(withAll.services.map((s) => s.name), ['store', 'ddns', 'dhcp4', 'ra', 'ops']);
  const dhcpOnly = buildAppliance(applianceConfig(), { logger });
  t.deepEqual(dhcpOnly.services.map((s) => s.name), ['store', 'dhcp4', 'ops']);
  const disabled = buildAppliance(applianceConfig({ ddns: { ...ddns, enabled: false } }), { logger, withoutOps: true });
  t.deepEqual(disabled.services.map((s) => s.name), ['store', 'dhcp4']);
});

test('an appliance whose DHCPv4 service cannot start sends none of the DNS queue it found, and closes the store', async (t) => {
  const store = new MemoryLeaseStore();
  await store.commit({ enqueue: [testDnsChange(7, 'left.lab.leasehold.test')] });
  let closed = false;
  const close = store.close.bind(store);
  store.close = () => ((closed = true), close());
  const sent: string[] = [];
  const logger = recordingLogger();
  const appliance = buildAppliance(applianceConfig({ ddns }), { logger, clock: new ManualClock(), openStore: () => store, ddns: { dnsServices: recordingDns(sent) } });
  const err = await t.throwsAsync(appliance.start(), { instanceOf: InterfaceError });
  t.regex(err.message, /interface lt-nothere0: no such interface/);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(sent, [], 'a server that fails to start sends nothing');
  t.true(closed, 'the store that had opened is closed again');
  t.false(logger.lines.some((l) => l.event === 'ddns-queue-resumed'));
});

test('TransportError, InterfaceError and NoAddressAvailableError are LeaseholdErrors with E_ codes', (t) => {
  const errors = [new TransportError('UDP port 67: in use'), new InterfaceError('interface x: none'), new NoAddressAvailableError('lab')];
  t.deepEqual(errors.map((e) => [e instanceof LeaseholdError, e.code, e.name]), [
    [true, 'E_TRANSPORT', 'TransportError'],
    [true, 'E_INTERFACE', 'InterfaceError'],
    [true, 'E_NO_ADDRESS', 'NoAddressAvailableError'],
  ]);
  t.is(errors[2].message, 'no free address in subnet lab');
});
