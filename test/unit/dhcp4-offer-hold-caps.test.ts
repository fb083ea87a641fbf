import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger, type LogFields } from '../../lib/core/logger.ts';
import { Dhcp4Engine, type HoldLimits } from '../../server/dhcp4/dhcp4-engine.ts';
import { Dhcp4MessageType as T } from '../../lib/dhcp4/option-defs.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { Counters } from '../../server/app/counters.ts';
import { clientRequest, testMac } from './helpers/dhcp4-requests.ts';

const SERVER = '198.18.0.1';
const ctx = { interfaceName: 'eth0', serverAddress: SERVER };

function setup(holdLimits: HoldLimits, pools = [{ start: '198.18.0.100', end: '198.18.0.109' }]) {
  const clock = new ManualClock();
  const counters = new Counters();
  const warned: Array<[string, LogFields]> = [];
  const engine = new Dhcp4Engine({
    subnets: [
      { id: 'lan', subnet: '198.18.0.0/24', interface: 'eth0', pools, leaseTime: 3600, renewTime: 1800, rebindTime: 3150, options: {}, reservations: [] },
      { id: 'far', subnet: '198.19.0.0/24', pools: [{ start: '198.19.0.10', end: '198.19.0.19' }], leaseTime: 3600, renewTime: 1800, rebindTime: 3150, options: {}, reservations: [] },
    ],
    store: new MemoryLeaseStore(),
    clock,
    logger: silentLogger,
    offerHoldSeconds: 30,
    declineQuarantineSeconds: 600,
    serverAddresses: [SERVER],
    holdLimits,
    counters,
    floodLog: { warn: (event, fields) => warned.push([event, fields]) },
  });
  const discover = async (n: number, giaddr?: string) => {
    const out = await engine.handle(clientRequest({ type: T.Discover, mac: testMac(n), giaddr }), ctx);
    return out.kind === 'reply' ? out.reply.yiaddr : out.kind;
  };
  return { engine, clock, counters, warned, discover };
}

test('a subnet holds at most its share of the pool; the oldest hold gives way, and is counted', async (t) => {
  // 10 addresses, 30 %: 3 holds at once.
  const { engine, counters, warned, discover } = setup({ percentOfPool: 30, max: 1000 });
  const offered = [];
  for (let n = 1; n <= 5; n++) offered.push(await discover(n));
  t.deepEqual(offered, ['198.18.0.100', '198.18.0.101', '198.18.0.102', '198.18.0.103', '198.18.0.104']);
  t.is(engine.table.offerCountIn('lan'), 3);
  t.deepEqual(
    [...engine.table.heldOffers()].map((h) => h.ip & 0xff),
    [102, 103, 104],
    'clients 1 and 2, the oldest, lost their holds',
  );
  t.is(counters.get('offer_holds_evicted', { subnet: 'lan', reason: 'subnet_cap' }), 2);
  t.deepEqual(warned[0], ['offer-hold-evicted', { subnet: 'lan', reason: 'subnet_cap' }]);
});

test('a retransmitted DISCOVER keeps its own hold and evicts nobody', async (t) => {
  const { engine, counters, discover } = setup({ percentOfPool: 20, max: 1000 });
  const a = await discover(1);
  const b = await discover(2);
  t.is(await discover(2), b);
  t.is(await discover(1), a);
  t.is(engine.table.offerCountIn('lan'), 2);
  t.is(counters.total('offer_holds_evicted'), 0);
});

test('an evicted client still gets its address if it REQUESTs it before anyone else takes it', async (t) => {
  const { engine, discover } = setup({ percentOfPool: 10, max: 1000 });
  const first = await discover(1);
  await discover(2); // evicts client 1's hold
  const ack = await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), requestedIp: first as string, serverId: SERVER }), ctx);
  t.is(ack.kind, 'reply');
  t.is(ack.kind === 'reply' && ack.reply.yiaddr, first);
});

test('the cap across subnets evicts the oldest hold of any subnet', async (t) => {
  const { engine, counters, discover } = setup({ percentOfPool: 100, max: 3 });
  await discover(1);
  await discover(2, '198.19.0.1');
  await discover(3);
  await discover(4, '198.19.0.1');
  t.is(engine.table.offerCount, 3);
  t.is(engine.table.offerOf(`hw:${testMac(1)}`, new ManualClock().now()), undefined, 'client 1 held longest');
  t.is(counters.get('offer_holds_evicted', { subnet: 'lan', reason: 'total_cap' }), 1);
});

test('a pool full of bindings is exhausted (a cap evicts holds, never bindings): counted, and warned through the flood log without the client', async (t) => {
  const { engine, counters, warned, discover } = setup({ percentOfPool: 100, max: 1000 }, [{ start: '198.18.0.100', end: '198.18.0.100' }]);
  const ip = await discover(1);
  const ack = await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), requestedIp: ip as string, serverId: SERVER }), ctx);
  t.is(ack.kind, 'reply');
  t.is(await discover(2), 'silent');
  t.is(await discover(3), 'silent');
  t.is(counters.get('pool_exhausted', { subnet: 'lan' }), 2);
  t.deepEqual(warned.filter(([e]) => e === 'pool-exhausted'), [['pool-exhausted', { subnet: 'lan' }], ['pool-exhausted', { subnet: 'lan' }]]);
  t.is(engine.table.offerCountIn('lan'), 0);
  t.is(counters.total('offer_holds_evicted'), 0);
});

test('holds expire on time even under the cap, so the count falls back', async (t) => {
  const { engine, clock, discover } = setup({ percentOfPool: 50, max: 1000 });
  for (let n = 1; n <= 5; n++) await discover(n);
  t.is(engine.table.offerCountIn('lan'), 5);
  clock.advance(30_000);
  await discover(9);
  t.is(engine.table.offerCountIn('lan'), 1, 'the five expired holds are gone, the new one stays');
});
