import test from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger } from '../../lib/core/logger.ts';
import { Dhcp4MessageType as T, Opt } from '../../lib/dhcp4/option-defs.ts';
import { validateConfig } from '../../server/config/validate.ts';
import { Dhcp4Engine } from '../../server/dhcp4/dhcp4-engine.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { configIssues } from './helpers/config-issues.ts';
import { clientRequest, testMac } from './helpers/dhcp4-requests.ts';

// A /31 (RFC 3021) or /32 pool or reservation that the configuration accepts
// is one the engine hands out: validation and allocation share one rule.

/** A configuration whose only subnet is `cidr`, served on eth0, the server at `server`. */
function config(cidr: string, server: string, subnet: Record<string, unknown>) {
  return validateConfig({
    interfaces: [{ name: 'eth0', address: server }],
    subnets: [{ id: 'p2p', subnet: cidr, interface: 'eth0', leaseTime: 600, ...subnet }],
  });
}

function engineFor(cidr: string, server: string, subnet: Record<string, unknown>) {
  const c = config(cidr, server, subnet);
  return new Dhcp4Engine({
    subnets: c.subnets,
    store: new MemoryLeaseStore(),
    clock: new ManualClock(),
    logger: silentLogger,
    offerHoldSeconds: c.offerHoldSeconds,
    declineQuarantineSeconds: c.declineQuarantineSeconds,
    serverAddresses: [server],
  });
}

async function offer(engine: Dhcp4Engine, mac: string, server: string) {
  const outcome = await engine.handle(clientRequest({ type: T.Discover, mac }), { interfaceName: 'eth0', serverAddress: server });
  return outcome.kind === 'reply' ? outcome.reply : undefined;
}

test('the all-ones address of a /31 is a valid pool and is handed out; the /31 then has no more', async (t) => {
  const engine = engineFor('198.18.0.6/31', '198.18.0.6', { pools: [{ start: '198.18.0.7', end: '198.18.0.7' }] });
  const first = await offer(engine, testMac(1), '198.18.0.6');
  t.is(first?.yiaddr, '198.18.0.7');
  t.is(first?.options.get(Opt.SubnetMask), '255.255.255.254');
  t.is(await offer(engine, testMac(2), '198.18.0.6'), undefined, 'the other address is the server\'s');
});

test('the all-zeros address of a /31 is handed out when the server holds the other', async (t) => {
  const engine = engineFor('198.18.0.6/31', '198.18.0.7', { pools: [{ start: '198.18.0.6', end: '198.18.0.6' }] });
  t.is((await offer(engine, testMac(1), '198.18.0.7'))?.yiaddr, '198.18.0.6');
});

test('reservations on a /31 and a /32 are handed out', async (t) => {
  const p2p = engineFor('198.18.0.6/31', '198.18.0.7', { reservations: [{ hwAddress: testMac(1), ip: '198.18.0.6' }] });
  t.is((await offer(p2p, testMac(1), '198.18.0.7'))?.yiaddr, '198.18.0.6');
  const host = engineFor('198.18.0.9/32', '198.18.0.1', { reservations: [{ hwAddress: testMac(1), ip: '198.18.0.9' }] });
  t.is((await offer(host, testMac(1), '198.18.0.1'))?.yiaddr, '198.18.0.9');
});

test('a /31 or /32 advertises the limited broadcast in option 28; longer networks their directed broadcast', async (t) => {
  const p2p = engineFor('198.18.0.6/31', '198.18.0.6', { pools: [{ start: '198.18.0.7', end: '198.18.0.7' }] });
  t.is((await offer(p2p, testMac(1), '198.18.0.6'))?.options.get(Opt.BroadcastAddress), '255.255.255.255');
  const host = engineFor('198.18.0.9/32', '198.18.0.1', { reservations: [{ hwAddress: testMac(1), ip: '198.18.0.9' }] });
  t.is((await offer(host, testMac(1), '198.18.0.1'))?.options.get(Opt.BroadcastAddress), '255.255.255.255');
  const lan = engineFor('198.18.0.4/30', '198.18.0.5', { pools: [{ start: '198.18.0.6', end: '198.18.0.6' }] });
  const lanOffer = await offer(lan, testMac(1), '198.18.0.5');
  t.is(lanOffer?.yiaddr, '198.18.0.6');
  t.is(lanOffer?.options.get(Opt.BroadcastAddress), '198.18.0.7');
});

test('on a /30 the network and broadcast addresses stay refused, in a pool and in a reservation', (t) => {
  const base = { interfaces: [{ name: 'eth0', address: '198.18.0.5' }] };
  const subnet = { id: 'p2p', subnet: '198.18.0.4/30', interface: 'eth0', leaseTime: 600 };
  t.deepEqual(configIssues({ ...base, subnets: [{ ...subnet, pools: [{ start: '198.18.0.4', end: '198.18.0.7' }] }] }), [
    'subnets[0].pools[0].start: is the network address of 198.18.0.4/30',
    'subnets[0].pools[0].end: is the broadcast address of 198.18.0.4/30',
  ]);
  t.deepEqual(configIssues({ ...base, subnets: [{ ...subnet, reservations: [{ hwAddress: testMac(1), ip: '198.18.0.7' }] }] }), [
    'subnets[0].reservations[0].ip: is the broadcast address of 198.18.0.4/30',
  ]);
});
