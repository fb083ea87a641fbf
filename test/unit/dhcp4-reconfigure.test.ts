// The engine serving a new configuration (a reload, an API reservation)
// without losing what it holds: bindings outside a shrunk pool are kept
// until they end, held offers stay held, and operator changes (the control
// API's lease4-add/del) withdraw DNS names through the queue.
import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger } from '../../lib/core/logger.ts';
import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType as T, Opt } from '../../lib/dhcp4/option-defs.ts';
import type { SubnetConfig } from '../../server/dhcp4/dhcp4-config.ts';
import { Dhcp4Engine, type Outcome } from '../../server/dhcp4/dhcp4-engine.ts';
import type { NameRegistrar } from '../../server/dhcp4/name-registration.ts';
import type { DnsChange } from '../../server/leases/dns-change.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { ipToInt as ipNum } from '../../lib/wire/ipv4.ts';
import { clientRequest, testMac, testSubnet } from './helpers/dhcp4-requests.ts';

const SERVER = '198.18.0.1';
const ctx = { interfaceName: 'eth0', serverAddress: SERVER };

const subnet = testSubnet;

/** A registrar naming every client `<mac without colons>.lab.leasehold.test`, recording what it queues. */
function recordingRegistrar(queued: DnsChange[]): NameRegistrar {
  let seq = 0;
  const change = (action: 'add' | 'remove', lease: { fqdn?: string; ip: string }): DnsChange => ({
    seq: ++seq, action, fqdn: lease.fqdn as string, ipv4: lease.ip, dhcid: 'AAEB', ttl: 60, createdAt: 0,
  });
  return {
    onBind: (lease) => {
      const named = { ...lease, fqdn: `${lease.hwAddress.replace(/:/g, '')}.lab.leasehold.test` };
      return { lease: named, enqueue: [change('add', named)] };
    },
    onUnbind: (lease) => (lease.fqdn === undefined ? [] : [change('remove', lease)]),
    committed: (changes) => queued.push(...changes),
  };
}

function setup(subnets: SubnetConfig[] = [subnet()]) {
  const clock = new ManualClock();
  const store = new MemoryLeaseStore();
  const queued: DnsChange[] = [];
  const engine = new Dhcp4Engine({
    subnets, store, clock, logger: silentLogger, offerHoldSeconds: 30, declineQuarantineSeconds: 600, serverAddresses: [SERVER],
    registrar: recordingRegistrar(queued),
  });
  return { engine, clock, store, queued };
}

function reply(outcome: Outcome): Dhcp4Message {
  if (outcome.kind !== 'reply') throw new Error(`expected a reply, got ${outcome.kind}: ${outcome.reason}`);
  return outcome.reply;
}

async function dora(engine: Dhcp4Engine, mac: string): Promise<Dhcp4Message> {
  const offer = reply(await engine.handle(clientRequest({ type: T.Discover, mac }), ctx));
  return reply(await engine.handle(clientRequest({ type: T.Request, mac, requestedIp: offer.yiaddr, serverId: SERVER }), ctx));
}

const renew = (engine: Dhcp4Engine, mac: string, ip: string) => engine.handle(clientRequest({ type: T.Request, mac, ciaddr: ip }), ctx);

test('a pool shrunk under a bound client: renewals are ACKed for what is left of its lease, then it moves', async (t) => {
  const { engine, clock } = setup();
  const ack = await dora(engine, testMac(1));
  t.is(ack.yiaddr, '198.18.0.100');
  engine.reconfigure([subnet({ pools: [{ start: '198.18.0.105', end: '198.18.0.109' }] })]);

  clock.advance(1800_000);
  const renewed = reply(await renew(engine, testMac(1), '198.18.0.100'));
  t.is(renewed.options.get(Opt.MessageType), T.Ack, 'kept: the binding has not ended');
  t.is(renewed.options.get(Opt.LeaseTime), 1800, 'only what is left of it, not a new hour');
  t.is(renewed.options.get(Opt.RenewalTime), 900);
  t.is(engine.table.leaseAt(ipNum('198.18.0.100'))?.expiresAt, clock.now() + 1800_000);

  // Nobody else is offered the address while it is held.
  const other = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2) }), ctx));
  t.true(ipNum(other.yiaddr) >= ipNum('198.18.0.105'), `${other.yiaddr} is in the new pool`);

  clock.advance(1800_000);
  const late = reply(await renew(engine, testMac(1), '198.18.0.100'));
  t.is(late.options.get(Opt.MessageType), T.Nak, 'once it ended, it is not extended');
  const moved = await dora(engine, testMac(1));
  t.true(ipNum(moved.yiaddr) >= ipNum('198.18.0.105'), `${moved.yiaddr} is in the new pool`);
});

test('a grown pool, a new subnet and changed options apply at once; held offers and leases stay', async (t) => {
  const { engine } = setup();
  await dora(engine, testMac(1));
  const offer = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2) }), ctx));
  engine.reconfigure([
    subnet({ pools: [{ start: '198.18.0.100', end: '198.18.0.150' }], options: { routers: [SERVER], dnsServers: ['198.18.0.2'] } }),
    subnet({ id: 'far', subnet: '198.19.0.0/24', interface: undefined, pools: [{ start: '198.19.0.10', end: '198.19.0.20' }], options: {} }),
  ]);
  const ack = reply(await engine.handle(clientRequest({ type: T.Request, mac: testMac(2), requestedIp: offer.yiaddr, serverId: SERVER }), ctx));
  t.is(ack.yiaddr, offer.yiaddr, 'the offer held across the change is honoured');
  t.deepEqual(ack.options.get(Opt.DomainServer), ['198.18.0.2'], 'with the new options');
  t.is(engine.table.leaseAt(ipNum('198.18.0.100'))?.state, 'bound');
  const relayed = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(3), giaddr: '198.19.0.1' }), ctx));
  t.is(relayed.yiaddr, '198.19.0.10', 'the new subnet is served');
});

test('an operator removal ends the binding, withdraws its name in the same transaction and forgets the record', async (t) => {
  const { engine, store, queued } = setup();
  await dora(engine, testMac(1));
  const lease = engine.table.leaseAt(ipNum('198.18.0.100'));
  t.truthy(lease?.fqdn);
  await engine.applyAdminChange({ remove: [lease!] });
  t.is(engine.table.leaseAt(ipNum('198.18.0.100')), undefined);
  t.deepEqual(store.loadAll(), []);
  t.deepEqual(queued.map((c) => `${c.action} ${c.fqdn} ${c.ipv4}`), [
    `add 020000000001.lab.leasehold.test 198.18.0.100`,
    `remove 020000000001.lab.leasehold.test 198.18.0.100`,
  ]);
  t.deepEqual(store.loadDnsQueue().map((c) => c.action), ['add', 'remove'], 'the removal is durable with the lease change');
});

test('an operator change the store refuses is undone in the table and rejected', async (t) => {
  let failing = false;
  const store = new MemoryLeaseStore([], { failWith: () => (failing ? new Error('disk full') : undefined) });
  const engine = new Dhcp4Engine({
    subnets: [subnet()], store, clock: new ManualClock(), logger: silentLogger, offerHoldSeconds: 30, declineQuarantineSeconds: 600, serverAddresses: [SERVER],
  });
  await dora(engine, testMac(1));
  const lease = engine.table.leaseAt(ipNum('198.18.0.100'))!;
  failing = true;
  await t.throwsAsync(engine.applyAdminChange({ remove: [lease] }), { message: /disk full/ });
  t.is(engine.table.leaseAt(ipNum('198.18.0.100'))?.clientKey, lease.clientKey);
});

test('outcomes without a reply say why, as a metric label', async (t) => {
  const { engine } = setup([subnet({ pools: [{ start: '198.18.0.100', end: '198.18.0.100' }] })]);
  await dora(engine, testMac(1));
  t.like(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2) }), ctx), { kind: 'silent', cause: 'no_address' });
  t.like(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(3) }), { interfaceName: 'eth9', serverAddress: SERVER }), { kind: 'silent', cause: 'no_subnet' });
  t.like(await engine.handle(clientRequest({ type: T.Request, mac: testMac(4) }), ctx), { kind: 'drop', cause: 'invalid' });
  t.like(await engine.handle(clientRequest({ type: T.Request, mac: testMac(4), requestedIp: '198.18.0.100', serverId: '198.18.0.99' }), ctx), { kind: 'silent', cause: 'not_for_us' });
  t.like(await engine.handle(clientRequest({ type: T.Release, mac: testMac(1), ciaddr: '198.18.0.100' }), ctx), { kind: 'silent', cause: 'done' });
  t.like(await engine.handle(clientRequest({ type: T.Release, mac: testMac(1), ciaddr: '198.18.0.100' }), ctx), { kind: 'silent', cause: 'unknown_client' }, 'the same RELEASE twice');
});

test('a full pool grown by a reload hands out the new addresses; a reservation added takes its address out of the free set', async (t) => {
  const { engine } = setup([subnet({ pools: [{ start: '198.18.0.100', end: '198.18.0.101' }] })]);
  await dora(engine, testMac(1));
  await dora(engine, testMac(2));
  const full = await engine.handle(clientRequest({ type: T.Discover, mac: testMac(3) }), ctx);
  t.is(full.kind, 'silent', 'the two-address pool is full');
  engine.reconfigure([
    subnet({
      pools: [{ start: '198.18.0.100', end: '198.18.0.103' }],
      reservations: [{ ip: '198.18.0.102', hwAddress: testMac(9) }],
    }),
  ]);
  t.is(reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(3) }), ctx)).yiaddr, '198.18.0.103', 'a new address, past the reserved one');
  t.is(reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(9) }), ctx)).yiaddr, '198.18.0.102', 'the reserved client gets its address');
});
