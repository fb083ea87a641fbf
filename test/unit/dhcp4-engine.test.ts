import test from 'ava';
import fc from 'fast-check';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger } from '../../lib/core/logger.ts';
import type { SubnetConfig } from '../../server/dhcp4/dhcp4-config.ts';
import { Dhcp4Engine, type Outcome } from '../../server/dhcp4/dhcp4-engine.ts';
import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType as T, Opt } from '../../lib/dhcp4/option-defs.ts';
import type { LeaseChange, LeaseStore } from '../../server/leases/lease-store.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { clientRequest, testMac, testSubnet } from './helpers/dhcp4-requests.ts';

const SERVER = '198.18.0.1';
const ctx = { interfaceName: 'eth0', serverAddress: SERVER };

function subnet(over: Partial<SubnetConfig> = {}): SubnetConfig {
  return testSubnet({
    pools: [{ start: '198.18.0.100', end: '198.18.0.199' }],
    options: { routers: ['198.18.0.1'], dnsServers: ['198.18.0.2'], domainName: 'leasehold.test', domainSearch: ['lab.leasehold.test'] },
    ...over,
  });
}

const relayed = (): SubnetConfig =>
  subnet({ id: 'far', subnet: '198.19.0.0/24', interface: undefined, pools: [{ start: '198.19.0.10', end: '198.19.0.20' }] });

function setup(opts: { subnets?: SubnetConfig[]; store?: LeaseStore; quarantine?: number } = {}) {
  const clock = new ManualClock();
  const store = opts.store ?? new MemoryLeaseStore();
  const engine = new Dhcp4Engine({
    subnets: opts.subnets ?? [subnet()],
    store,
    clock,
    logger: silentLogger,
    offerHoldSeconds: 30,
    declineQuarantineSeconds: opts.quarantine ?? 600,
    serverAddresses: [SERVER],
  });
  return { engine, clock, store };
}

function reply(outcome: Outcome): { msg: Dhcp4Message; to: { address: string; port: number } } {
  if (outcome.kind !== 'reply') throw new Error(`expected a reply, got ${outcome.kind}: ${outcome.reason}`);
  return { msg: outcome.reply, to: outcome.to };
}

async function dora(engine: Dhcp4Engine, mac: string, extra: { clientId?: Buffer; requestedIp?: string } = {}) {
  const offer = reply(await engine.handle(clientRequest({ type: T.Discover, mac, ...extra }), ctx)).msg;
  const ack = reply(await engine.handle(clientRequest({ type: T.Request, mac, clientId: extra.clientId, requestedIp: offer.yiaddr, serverId: SERVER }), ctx)).msg;
  return { offer, ack };
}

test('DISCOVER gets an OFFER from the pool with the subnet options, broadcast', async (t) => {
  const { engine } = setup();
  const { msg, to } = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1), xid: 77 }), ctx));
  t.is(msg.options.get(Opt.MessageType), T.Offer);
  t.is(msg.op, 2);
  t.is(msg.xid, 77);
  t.is(msg.yiaddr, '198.18.0.100');
  t.is(msg.options.get(Opt.ServerId), SERVER);
  t.is(msg.options.get(Opt.LeaseTime), 3600);
  t.is(msg.options.get(Opt.RenewalTime), 1800);
  t.is(msg.options.get(Opt.RebindingTime), 3150);
  t.is(msg.options.get(Opt.SubnetMask), '255.255.255.0');
  t.deepEqual(msg.options.get(Opt.Router), ['198.18.0.1']);
  t.deepEqual(msg.options.get(Opt.DomainServer), ['198.18.0.2']);
  t.is(msg.options.get(Opt.DomainName), 'leasehold.test');
  t.deepEqual(to, { address: '255.255.255.255', port: 68 });
});

test('the request list filters optional parameters but not the basic ones', async (t) => {
  const { engine } = setup();
  const withList = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1), paramList: [1, 3] }), ctx)).msg;
  t.false(withList.options.has(Opt.DomainSearch.code));
  t.true(withList.options.has(Opt.DomainServer.code));
  const asking = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2), paramList: [119] }), ctx)).msg;
  t.deepEqual(asking.options.get(Opt.DomainSearch), ['lab.leasehold.test']);
});

test('SELECTING REQUEST is ACKed only after the lease is in the store', async (t) => {
  const { engine, store } = setup();
  const { offer, ack } = await dora(engine, testMac(1));
  t.is(ack.options.get(Opt.MessageType), T.Ack);
  t.is(ack.yiaddr, offer.yiaddr);
  const saved = store.loadAll();
  t.is(saved.length, 1);
  t.like(saved[0], { ip: offer.yiaddr, hwAddress: testMac(1), state: 'bound', subnetId: 'lan' });
});

test('concurrent DISCOVERs are never offered the same address', async (t) => {
  const { engine } = setup();
  const offers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => engine.handle(clientRequest({ type: T.Discover, mac: testMac(i) }), ctx)),
  );
  const ips = offers.map((o) => reply(o).msg.yiaddr);
  t.is(new Set(ips).size, 50);
});

test('a retransmitted DISCOVER gets the same offer', async (t) => {
  const { engine } = setup();
  const a = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1) }), ctx)).msg.yiaddr;
  const b = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1) }), ctx)).msg.yiaddr;
  t.is(a, b);
});

test('a requested address is offered when free and in a pool, not otherwise', async (t) => {
  const { engine } = setup();
  const free = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1), requestedIp: '198.18.0.150' }), ctx)).msg;
  t.is(free.yiaddr, '198.18.0.150');
  const taken = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2), requestedIp: '198.18.0.150' }), ctx)).msg;
  t.not(taken.yiaddr, '198.18.0.150');
  const outside = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(3), requestedIp: '198.18.0.5' }), ctx)).msg;
  t.not(outside.yiaddr, '198.18.0.5');
});

test('reservations by MAC and by client-id, never given to anyone else', async (t) => {
  const clientId = Buffer.from('01aabbccddeeff', 'hex');
  const { engine } = setup({
    subnets: [
      subnet({
        pools: [{ start: '198.18.0.100', end: '198.18.0.101' }],
        reservations: [
          { hwAddress: testMac(9), ip: '198.18.0.100' },
          { clientId: '01aabbccddeeff', ip: '198.18.0.50' },
        ],
      }),
    ],
  });
  const other = await dora(engine, testMac(1));
  t.is(other.ack.yiaddr, '198.18.0.101', 'the reserved pool address is skipped');
  t.is((await dora(engine, testMac(9))).ack.yiaddr, '198.18.0.100');
  t.is((await dora(engine, testMac(5), { clientId })).ack.yiaddr, '198.18.0.50');
  // Pool now full for everyone else.
  t.is((await engine.handle(clientRequest({ type: T.Discover, mac: testMac(6) }), ctx)).kind, 'silent');
});

test('a reservation by MAC matches a client that also sends a client-id', async (t) => {
  const { engine } = setup({ subnets: [subnet({ reservations: [{ hwAddress: testMac(7), ip: '198.18.0.20' }] })] });
  const { ack } = await dora(engine, testMac(7), { clientId: Buffer.from('01' + testMac(7).replaceAll(':', ''), 'hex') });
  t.is(ack.yiaddr, '198.18.0.20');
  const stranger = await dora(engine, testMac(8), { clientId: Buffer.from('01' + testMac(7).replaceAll(':', ''), 'hex').fill(9, 1, 2) });
  t.not(stranger.ack.yiaddr, '198.18.0.20');
});

test('option 61 identifies the client, not the hardware address', async (t) => {
  const { engine } = setup();
  const a = await dora(engine, testMac(1), { clientId: Buffer.from('ff0001', 'hex') });
  const b = await dora(engine, testMac(1), { clientId: Buffer.from('ff0002', 'hex') });
  t.not(a.ack.yiaddr, b.ack.yiaddr);
  t.is(a.ack.options.getRaw(Opt.ClientId.code)?.toString('hex'), 'ff0001', 'RFC 6842: client-id echoed');
});

test('REQUEST naming another server releases our offer silently', async (t) => {
  const { engine } = setup({ subnets: [subnet({ pools: [{ start: '198.18.0.100', end: '198.18.0.100' }] })] });
  const offer = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1) }), ctx)).msg;
  const out = await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), requestedIp: offer.yiaddr, serverId: '198.18.0.9' }), ctx);
  t.is(out.kind, 'silent');
  // The only address is free again for the next client.
  t.is(reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2) }), ctx)).msg.yiaddr, '198.18.0.100');
});

test('SELECTING REQUEST for an address someone else holds is NAKed', async (t) => {
  const { engine } = setup();
  const first = await dora(engine, testMac(1));
  const out = reply(await engine.handle(clientRequest({ type: T.Request, mac: testMac(2), requestedIp: first.ack.yiaddr, serverId: SERVER }), ctx));
  t.is(out.msg.options.get(Opt.MessageType), T.Nak);
  t.is(out.msg.yiaddr, '0.0.0.0');
  t.deepEqual(out.to, { address: '255.255.255.255', port: 68 });
});

test('INIT-REBOOT: ACK for the client\'s own address, NAK for another network or address, silence without a record', async (t) => {
  const { engine } = setup();
  const { ack } = await dora(engine, testMac(1));
  const again = reply(await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), requestedIp: ack.yiaddr }), ctx)).msg;
  t.is(again.options.get(Opt.MessageType), T.Ack);
  t.is(again.yiaddr, ack.yiaddr);
  const wrongNet = reply(await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), requestedIp: '10.9.9.9' }), ctx)).msg;
  t.is(wrongNet.options.get(Opt.MessageType), T.Nak);
  const wrongAddr = reply(await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), requestedIp: '198.18.0.199' }), ctx)).msg;
  t.is(wrongAddr.options.get(Opt.MessageType), T.Nak);
  const stranger = await engine.handle(clientRequest({ type: T.Request, mac: testMac(2), requestedIp: '198.18.0.120' }), ctx);
  t.is(stranger.kind, 'silent');
});

test('RENEWING extends the lease and answers unicast to ciaddr', async (t) => {
  const { engine, clock, store } = setup();
  const { ack } = await dora(engine, testMac(1));
  const firstExpiry = store.loadAll()[0].expiresAt;
  clock.advance(1800_000);
  const renew = reply(await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), ciaddr: ack.yiaddr }), ctx));
  t.is(renew.msg.options.get(Opt.MessageType), T.Ack);
  t.is(renew.msg.ciaddr, ack.yiaddr);
  t.deepEqual(renew.to, { address: ack.yiaddr, port: 68 });
  t.is(store.loadAll()[0].expiresAt, firstExpiry + 1800_000);
});

test('RENEWING an address held by another client is NAKed by broadcast', async (t) => {
  const { engine } = setup();
  const { ack } = await dora(engine, testMac(1));
  const out = reply(await engine.handle(clientRequest({ type: T.Request, mac: testMac(2), ciaddr: ack.yiaddr }), ctx));
  t.is(out.msg.options.get(Opt.MessageType), T.Nak);
  t.deepEqual(out.to, { address: '255.255.255.255', port: 68 });
});

test('DECLINE quarantines the address until the quarantine ends', async (t) => {
  const { engine, clock, store } = setup({ subnets: [subnet({ pools: [{ start: '198.18.0.100', end: '198.18.0.101' }] })], quarantine: 60 });
  const { ack } = await dora(engine, testMac(1));
  t.is((await engine.handle(clientRequest({ type: T.Decline, mac: testMac(1), requestedIp: ack.yiaddr, serverId: SERVER }), ctx)).kind, 'silent');
  t.is(store.loadAll().find((l) => l.ip === ack.yiaddr)?.state, 'declined');
  const next = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1) }), ctx)).msg;
  t.not(next.yiaddr, ack.yiaddr, 'the declining client is moved elsewhere');
  t.is((await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2) }), ctx)).kind, 'silent', 'pool empty while quarantined');
  clock.advance(61_000);
  await engine.reclaimExpired();
  t.is(reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2) }), ctx)).msg.yiaddr, ack.yiaddr);
});

test('a DECLINE from a client that does not hold the address changes nothing', async (t) => {
  const { engine, store } = setup();
  const { ack } = await dora(engine, testMac(1));
  await engine.handle(clientRequest({ type: T.Decline, mac: testMac(2), requestedIp: ack.yiaddr, serverId: SERVER }), ctx);
  t.is(store.loadAll()[0].state, 'bound');
});

test('RELEASE frees the address and the client gets it back next time', async (t) => {
  const { engine, store } = setup();
  const { ack } = await dora(engine, testMac(1));
  await engine.handle(clientRequest({ type: T.Release, mac: testMac(1), ciaddr: ack.yiaddr, serverId: SERVER }), ctx);
  t.is(store.loadAll()[0].state, 'released');
  await dora(engine, testMac(2));
  const back = await dora(engine, testMac(1));
  t.is(back.ack.yiaddr, ack.yiaddr);
});

test('INFORM gets an ACK with options and no lease', async (t) => {
  const { engine, store } = setup();
  const out = reply(await engine.handle(clientRequest({ type: T.Inform, mac: testMac(1), ciaddr: '198.18.0.7' }), ctx));
  t.is(out.msg.options.get(Opt.MessageType), T.Ack);
  t.is(out.msg.yiaddr, '0.0.0.0');
  t.false(out.msg.options.has(Opt.LeaseTime.code));
  t.deepEqual(out.msg.options.get(Opt.Router), ['198.18.0.1']);
  t.deepEqual(out.to, { address: '198.18.0.7', port: 68 });
  t.is(store.loadAll().length, 0);
});

test('a relayed request is served from the relay\'s subnet, through the relay, with option 82 echoed', async (t) => {
  const { engine } = setup({ subnets: [subnet(), relayed()] });
  const agentInfo = Buffer.from([1, 3, 0x61, 0x62, 0x63]);
  const out = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1), giaddr: '198.19.0.1', relayAgentInfo: agentInfo }), ctx));
  t.is(out.msg.yiaddr, '198.19.0.10');
  t.is(out.msg.giaddr, '198.19.0.1');
  t.deepEqual(out.to, { address: '198.19.0.1', port: 67 });
  t.deepEqual(out.msg.options.getRaw(Opt.RelayAgentInfo.code), agentInfo);
  const nak = reply(await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), giaddr: '198.19.0.1', requestedIp: '198.18.0.100' }), ctx));
  t.is(nak.msg.options.get(Opt.MessageType), T.Nak);
  t.true(nak.msg.broadcast, 'a NAK through a relay carries the broadcast bit');
});

test('a relay from a subnet we do not serve gets no answer', async (t) => {
  const { engine } = setup();
  t.is((await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1), giaddr: '198.19.5.1' }), ctx)).kind, 'silent');
});

test('expired leases are reclaimed and their addresses reused', async (t) => {
  const { engine, clock, store } = setup({ subnets: [subnet({ pools: [{ start: '198.18.0.100', end: '198.18.0.100' }] })] });
  await dora(engine, testMac(1));
  t.is((await engine.handle(clientRequest({ type: T.Discover, mac: testMac(2) }), ctx)).kind, 'silent');
  clock.advance(3601_000);
  const expired = await engine.reclaimExpired();
  t.is(expired.length, 1);
  t.is(store.loadAll()[0].state, 'expired');
  t.is((await dora(engine, testMac(2))).ack.yiaddr, '198.18.0.100');
});

test('if the store fails, no ACK is sent and the address stays free', async (t) => {
  const failing: LeaseStore = {
    loadAll: () => [],
    loadDnsQueue: () => [],
    loadReservations: () => [],
    commit: (_c: LeaseChange) => Promise.reject(new Error('disk full')),
    close: async () => {},
  };
  const { engine } = setup({ store: failing });
  const offer = reply(await engine.handle(clientRequest({ type: T.Discover, mac: testMac(1) }), ctx)).msg;
  const out = await engine.handle(clientRequest({ type: T.Request, mac: testMac(1), requestedIp: offer.yiaddr, serverId: SERVER }), ctx);
  t.is(out.kind, 'drop');
  t.is(engine.table.size, 0);
});

test('messages that are not client requests are dropped', async (t) => {
  const { engine } = setup();
  const bootReply = clientRequest({ type: T.Discover, mac: testMac(1) });
  bootReply.op = 2;
  t.is((await engine.handle(bootReply, ctx)).kind, 'drop');
  t.is((await engine.handle(clientRequest({ type: T.Offer, mac: testMac(1) }), ctx)).kind, 'drop');
  const noType = clientRequest({ type: T.Discover, mac: testMac(1) });
  noType.options.delete(Opt.MessageType.code);
  t.is((await engine.handle(noType, ctx)).kind, 'drop');
});

test('property: whatever clients do, no address is ever bound to two clients', async (t) => {
  const op = fc.record({
    kind: fc.constantFrom('dora', 'release', 'decline', 'renew', 'reboot', 'advance'),
    client: fc.integer({ min: 0, max: 14 }),
    ms: fc.integer({ min: 0, max: 4_000_000 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const { engine, clock } = setup({ subnets: [subnet({ pools: [{ start: '198.18.0.100', end: '198.18.0.109' }] })], quarantine: 100 });
      const held = new Map<number, string>();
      for (const o of ops) {
        const mac = testMac(o.client);
        const ip = held.get(o.client);
        if (o.kind === 'advance') clock.advance(o.ms);
        else if (o.kind === 'dora') {
          const offer = await engine.handle(clientRequest({ type: T.Discover, mac }), ctx);
          if (offer.kind !== 'reply') continue;
          const ack = await engine.handle(clientRequest({ type: T.Request, mac, requestedIp: offer.reply.yiaddr, serverId: SERVER }), ctx);
          if (ack.kind === 'reply' && ack.reply.options.get(Opt.MessageType) === T.Ack) held.set(o.client, ack.reply.yiaddr);
        } else if (ip && o.kind === 'release') {
          await engine.handle(clientRequest({ type: T.Release, mac, ciaddr: ip, serverId: SERVER }), ctx);
          held.delete(o.client);
        } else if (ip && o.kind === 'decline') {
          await engine.handle(clientRequest({ type: T.Decline, mac, requestedIp: ip, serverId: SERVER }), ctx);
          held.delete(o.client);
        } else if (ip && (o.kind === 'renew' || o.kind === 'reboot')) {
          const out = await engine.handle(
            clientRequest(o.kind === 'renew' ? { type: T.Request, mac, ciaddr: ip } : { type: T.Request, mac, requestedIp: ip }),
            ctx,
          );
          if (out.kind === 'reply' && out.reply.options.get(Opt.MessageType) === T.Nak) held.delete(o.client);
        }
        await engine.reclaimExpired();
        const now = clock.now();
        const bound = [...engine.table.all()].filter((l) => l.state === 'bound' && l.expiresAt > now);
        const ips = bound.map((l) => l.ip);
        if (new Set(ips).size !== ips.length) return false;
        const clients = bound.map((l) => l.clientKey);
        if (new Set(clients).size !== clients.length) return false;
      }
      return true;
    }),
    { numRuns: 200 },
  );
  t.pass();
});
