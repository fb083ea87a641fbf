// Two engines on one store that judges conditional writes: two servers on
// one database, each deciding from its own (possibly stale) table. The
// store, not the tables, decides who gets an address.
import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger } from '../../lib/core/logger.ts';
import { Dhcp4Engine, type Outcome } from '../../server/dhcp4/dhcp4-engine.ts';
import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType as T, Opt } from '../../lib/dhcp4/option-defs.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { clientRequest, testMac, testSubnet } from './helpers/dhcp4-requests.ts';

const SUBNET = testSubnet();

function twoServers() {
  const clock = new ManualClock(Date.now());
  const store = new MemoryLeaseStore([], { clock });
  const server = (address: string) => ({
    address,
    ctx: { interfaceName: 'eth0', serverAddress: address },
    engine: new Dhcp4Engine({
      subnets: [SUBNET],
      store,
      clock,
      logger: silentLogger,
      offerHoldSeconds: 30,
      declineQuarantineSeconds: 600,
      serverAddresses: [address],
      conditionalCommits: true,
    }),
  });
  return { store, clock, a: server('198.18.0.1'), b: server('198.18.0.3') };
}

type Server = ReturnType<typeof twoServers>['a'];

function reply(outcome: Outcome): Dhcp4Message {
  if (outcome.kind !== 'reply') throw new Error(`expected a reply, got ${outcome.kind}: ${outcome.reason}`);
  return outcome.reply;
}

async function offer(s: Server, mac: string): Promise<string> {
  return reply(await s.engine.handle(clientRequest({ type: T.Discover, mac }), s.ctx)).yiaddr;
}

async function request(s: Server, mac: string, ip: string): Promise<number | undefined> {
  return reply(await s.engine.handle(clientRequest({ type: T.Request, mac, requestedIp: ip, serverId: s.address }), s.ctx)).options.get(Opt.MessageType);
}

test('both servers offer the same address; the first REQUEST wins, the other is NAKed and its server learns the binding', async (t) => {
  const { store, a, b } = twoServers();
  const ipA = await offer(a, testMac(1));
  const ipB = await offer(b, testMac(2));
  t.is(ipA, ipB, 'neither knows what the other offered');
  t.is(await request(a, testMac(1), ipA), T.Ack);
  t.is(await request(b, testMac(2), ipB), T.Nak, 'the store refused the second binding of the address');
  t.deepEqual(store.loadAll().map((l) => [l.ip, l.hwAddress]), [[ipA, testMac(1)]]);
  // Server b learnt the row that beat it: it offers the client another address, which it then binds.
  const next = await offer(b, testMac(2));
  t.not(next, ipA);
  t.is(await request(b, testMac(2), next), T.Ack);
  t.is(b.engine.table.leaseAt(ipToIntTest(ipA))?.hwAddress, testMac(1));
});

test('a client bound by one server is not bound a second time by the other', async (t) => {
  const { store, a, b } = twoServers();
  const ip = await offer(a, testMac(7));
  t.is(await request(a, testMac(7), ip), T.Ack);
  // Server b does not know the client; the client asks b for another address (its table says free).
  t.is(await request(b, testMac(7), '198.18.0.105'), T.Nak, 'one binding per client and subnet');
  t.deepEqual(store.loadAll().filter((l) => l.state === 'bound').map((l) => l.ip), [ip]);
  // b learnt the binding that blocked it, so it now offers the client the address it holds, and ACKs it.
  t.is(await offer(b, testMac(7)), ip);
  t.is(await request(b, testMac(7), ip), T.Ack);
});

test('many clients through both servers at once: no address and no client bound twice', async (t) => {
  const { store, a, b } = twoServers();
  const servers = [a, b];
  const macs = Array.from({ length: 10 }, (_, i) => testMac(100 + i));
  // Each client tries, alternating servers, until it is bound (a NAK sends it back to DISCOVER, RFC 2131 §3.1).
  await Promise.all(
    macs.map(async (mac, i) => {
      for (let round = 0; round < 20; round++) {
        const s = servers[(i + round) % 2];
        const ip = await offer(s, mac);
        if ((await request(s, mac, ip)) === T.Ack) return;
      }
      throw new Error(`${mac} never bound`);
    }),
  );
  const bound = store.loadAll().filter((l) => l.state === 'bound');
  t.is(bound.length, 10);
  t.is(new Set(bound.map((l) => l.ip)).size, 10, 'no address twice');
  t.is(new Set(bound.map((l) => l.clientKey)).size, 10, 'no client twice');
});

function ipToIntTest(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

test('a takeover: the survivor that learnt the dead server\'s bindings offers its client that address and ACKs it, without a NAK', async (t) => {
  // Server a binds two clients, then dies; b answers their DISCOVERs.
  const boundByA = async (pair: ReturnType<typeof twoServers>) => {
    for (const mac of [testMac(8), testMac(9)]) t.is(await request(pair.a, mac, await offer(pair.a, mac)), T.Ack);
    return pair.store.loadAll().find((l) => l.hwAddress === testMac(9))?.ip ?? 'none';
  };
  const stale = twoServers();
  const held = await boundByA(stale);
  const offered = await offer(stale.b, testMac(9));
  t.not(offered, held, 'a table that never saw the bindings offers another address');
  t.is(await request(stale.b, testMac(9), offered), T.Nak, 'which the store refuses');

  const learnt = twoServers();
  const ip = await boundByA(learnt);
  t.is(learnt.b.engine.learnBindings(learnt.store.loadAll()), 2);
  t.is(await offer(learnt.b, testMac(9)), ip, 'the client is offered the address it holds (RFC 2131 §4.3.1)');
  t.is(await request(learnt.b, testMac(9), ip), T.Ack);
  t.is(learnt.store.loadAll().filter((l) => l.state === 'bound').length, 2);
});
