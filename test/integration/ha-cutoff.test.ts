import test from 'ava';
import { startDhcpCapture, type CapturedDhcp } from '../harness/capture.ts';
import { startUdhcpc } from '../harness/clients.ts';
import {
  boundRows, cutOffFromDatabase, droppedByCut, HA_NAMES, HA_SERVER_ADDRESSES, HA_TIMERS, macsOwnedBy, reconnectToDatabase, startHaPair, stoppedCounters,
  waitForLiveSet,
} from '../harness/ha-lab.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { sweepStale } from '../harness/netns.ts';
import { usePostgres } from '../harness/postgres.ts';

// Issue 14: one server cut off from PostgreSQL (nft in its own namespace,
// both directions, its open sessions included) stops answering rather than
// answering from stale state, the other takes its buckets, and it takes
// them back once the rule is gone. Judged on the wire: tshark on the cut
// server's own interface sees every packet it sends.

const PREFIX = 'lt-hc';
test.before(() => sweepStale(PREFIX));
test.after.always(() => sweepStale(PREFIX));
const cluster = usePostgres(test, PREFIX);

const [A, B] = HA_SERVER_ADDRESSES;
/** A reply already being sent when the fence fell may still leave; nothing after this. */
const SEND_MARGIN_MS = 500;
const OFFER = 2;
const ACK = 5;
const NAK = 6;
const fromServer = (address: string) => (p: CapturedDhcp) => p.ipSrc === address && [OFFER, ACK, NAK].includes(p.messageType);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.serial('a server cut off from PostgreSQL sends nothing; the other serves its buckets; back, it serves them again', async (t) => {
  // Service delay off: the survivor answers ha-1's clients only because it took ha-1's buckets.
  const { segment, db, hosts, servers } = await startHaPair(t, { prefix: PREFIX, name: 'cut', cluster: cluster(), subnetTimes: { leaseTime: 600 }, ha: { loadBalanceMaxSecs: 0 } });
  const capture = await startDhcpCapture(hosts[0]);

  // Before the cut ha-1 answers its bucket, and the capture sees it do so (its silence later is not a blind capture).
  const [earlyHost] = await segment.addHosts([{ name: 'e0', mac: macsOwnedBy('ha-1', 1, 0x10)[0] }]);
  const early = await startUdhcpc(earlyHost, {});
  t.teardown(() => early.stop());
  const bound = await early.waitFor('bound', 30_000);
  t.is(bound.serverid, A);
  await capture.waitFor('ha-1 ACKing e0', (p) => fromServer(A)(p) && p.messageType === ACK && p.chaddr === earlyHost.mac);

  const marks = servers.map((s) => s.output.length);
  await cutOffFromDatabase(hosts[0]);
  // Every heartbeat ha-1 wrote was sent before this instant, so by fenceAfterMs after it ha-1 is fenced.
  const silentFrom = Date.now() + HA_TIMERS.fenceAfterMs + SEND_MARGIN_MS;
  await waitForLiveSet(servers[1], ['ha-2'], 10_000, marks[1]);
  await sleep(silentFrom - Date.now());

  // ha-1's table still says it granted e0's address: a unicast RENEW to it must go unanswered,
  // and the REBIND broadcast after it (busybox: 3 unicast tries, -T 1 s apart) is ACKed by ha-2 from the shared table.
  early.renew();
  const macs = macsOwnedBy('ha-1', 6, 0x11);
  const clients = await segment.addHosts(macs.map((mac, i) => ({ name: `f${i}`, mac })));
  const granted = await mapLimit(clients, macs.length, async (host) => {
    const client = await startUdhcpc(host, { oneShot: true, discoverTries: 20 });
    const lease = await client.waitFor('bound', 60_000);
    await client.process.exited;
    return lease;
  });
  t.deepEqual(granted.map((l) => l.serverid), macs.map(() => B), 'ha-1\'s clients bound by ha-2 while ha-1 is cut off');
  const renewed = await early.waitFor('renew', 30_000);
  t.deepEqual([renewed.ip, renewed.serverid], [bound.ip, B], 'e0 keeps its address, rebound by ha-2');
  const rows = new Map((await boundRows(db)).map((r) => [r.hw_address, r.granted_by]));
  t.deepEqual([earlyHost.mac, ...macs].map((mac) => rows.get(mac)), [earlyHost.mac, ...macs].map(() => 'ha-2'), 'the table says ha-2 granted them');

  const dropped = await droppedByCut(hosts[0]);
  const reconnectedAt = Date.now();
  const marksBack = servers.map((s) => s.output.length);
  await reconnectToDatabase(hosts[0]);
  t.log(`the rule dropped ${dropped.out} packets to PostgreSQL, ${dropped.in} from it`);
  t.true(dropped.out > 0, 'ha-1 kept trying to reach PostgreSQL');

  const cutLog = servers[0].output.slice(marks[0], marksBack[0]);
  t.regex(cutLog, /"event":"ha-fenced"/);
  t.notRegex(cutLog, /"event":"ha-unfenced"/);

  // Back: ha-1 writes its heartbeat again, ha-2 gives its buckets back, a new client of ha-1's bucket is ha-1's.
  await servers[0].waitForOutput(/"event":"ha-unfenced"/, 15_000, marksBack[0]);
  await waitForLiveSet(servers[1], HA_NAMES, 15_000, marksBack[1]);
  const [backHost] = await segment.addHosts([{ name: 'b0', mac: macsOwnedBy('ha-1', 1, 0x12)[0] }]);
  const back = await startUdhcpc(backHost, { oneShot: true, discoverTries: 20 });
  const backLease = await back.waitFor('bound', 30_000);
  t.is(backLease.serverid, A, 'ha-1 answers its buckets again');
  await capture.waitFor('ha-1 ACKing b0', (p) => fromServer(A)(p) && p.messageType === ACK && p.chaddr === backHost.mac);

  // tshark prints in capture order: with b0's ACK printed, every packet of the cut is too.
  const inWindow = capture.packets().filter((p) => p.at >= silentFrom && p.at < reconnectedAt);
  t.true(inWindow.some((p) => p.messageType === 1 && macs.includes(p.chaddr)), 'ha-1 heard the new clients\' DISCOVERs');
  t.true(inWindow.some((p) => p.messageType === 3 && p.ipDst === A && p.chaddr === earlyHost.mac), 'ha-1 heard e0\'s unicast RENEW');
  t.deepEqual(inWindow.filter(fromServer(A)), [], 'ha-1 sent no OFFER, ACK or NAK while cut off');

  await Promise.all(servers.map((s) => s.stop()));
  const counters = stoppedCounters(servers[0]);
  t.log(`ha-1: ${JSON.stringify(counters)}`);
  // ha-1's table learns what ha-2 bound meanwhile only by losing the insert (engine `apply`): each such address costs b0 a NAK.
  const naksBack = capture.packets().filter((p) => p.at >= reconnectedAt && p.ipSrc === A && p.messageType === NAK).length;
  t.log(`after its return ha-1 NAKed ${naksBack} REQUESTs (offers of addresses ha-2 had bound while it was cut off)`);
});
