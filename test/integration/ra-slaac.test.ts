// Router advertisements against real kernels: a client namespace forms its
// SLAAC address and default route from what Leasehold sends, rdisc6
// decodes it, solicitations are answered (and bad ones, a hop limit below
// 255 among them, counted and dropped), a stop withdraws the router with
// three final RAs, another router's contradicting RAs are reported, a new
// link-local address is advertised from, and radvd configured the same
// way leaves the client in exactly the same state.
import test from 'ava';
import { sweepAround, useSegment } from '../harness/fixture.ts';
import type { Host } from '../harness/netns.ts';
import { pollUntil } from '../harness/poll.ts';
import {
  LAB_DNSSL,
  LAB_PREFIX,
  LAB_RDNSS,
  LAB_ROUTE,
  ROUTER_LINK_LOCAL,
  ROUTER_MAC,
  clientIpv6,
  eui64Address,
  labRa,
  labRadvdConf,
  prepareClient,
  prepareRouter,
  quietBridge,
  rsProbe,
  startLeasehold,
  startRaCapture,
  startRadvd,
  waitForClient,
  type ClientIpv6,
} from '../harness/ra-lab.ts';
import { routerSolicit } from '../../lib/ndp/router-solicit.ts';

const PREFIX = 'lt-ras';
sweepAround(test, PREFIX);

const CLIENT_MAC = '02:11:22:33:44:55';
const CLIENT_ADDRESS = eui64Address(LAB_PREFIX, CLIENT_MAC);
const DEFAULT_ROUTE = `default via ${ROUTER_LINK_LOCAL} proto ra metric 1024 mtu 1400 hoplimit 64 pref medium`;

async function routerAndClient(t: Parameters<typeof useSegment>[0], options: { forwarding?: boolean } = {}): Promise<{ router: Host; client: Host }> {
  const segment = await useSegment(t, PREFIX);
  await quietBridge(segment);
  const router = await segment.addHost('rtr', { mac: ROUTER_MAC, ipv4: '198.18.0.1/16' });
  const client = await segment.addHost('cli', { mac: CLIENT_MAC });
  await prepareRouter(router, options);
  return { router, client };
}

/** The counters the server logs as it exits. */
function stoppedCounters(output: string): Record<string, number> {
  const line = output.split('\n').find((l) => l.includes('"event":"stopped"'));
  return (JSON.parse(line ?? '{}') as { counters?: Record<string, number> }).counters ?? {};
}

const hasSlaac = (s: ClientIpv6) => s.addresses.includes(`${CLIENT_ADDRESS}/64 scope global dynamic mngtmpaddr`) && s.routes.includes(DEFAULT_ROUTE);

test('a client forms fd00:198:18::<EUI-64> and a default route via our link-local address', async (t) => {
  const { router, client } = await routerAndClient(t);
  await startLeasehold(router, labRa(router.ifname));
  await prepareClient(client, { routeInformation: true });
  const state = await waitForClient(client, 'SLAAC address and default route', hasSlaac);
  t.true(state.routes.includes(`${LAB_PREFIX} proto kernel metric 256 pref medium`), 'the prefix is on-link');
  t.true(state.routes.includes(`${LAB_ROUTE} via ${ROUTER_LINK_LOCAL} proto ra metric 1024 pref high`), 'the RFC 4191 route is installed');
  t.is(state.mtu, '1400');
});

test('unsolicited RAs alone configure a client, from our link-local address with hop limit 255', async (t) => {
  const { router, client } = await routerAndClient(t);
  await prepareClient(client, { solicit: false });
  const capture = await startRaCapture(client);
  // maxIntervalSeconds 4, minIntervalSeconds 3: the RFC's smallest.
  await startLeasehold(router, labRa(router.ifname, { maxIntervalSeconds: 4, minIntervalSeconds: 3 }));
  await waitForClient(client, 'SLAAC address from unsolicited RAs', hasSlaac);
  const ras = await capture.waitForCount(3, 15_000);
  for (const ra of ras) t.like(ra, { source: ROUTER_LINK_LOCAL, destination: 'ff02::1', hopLimit: 255 });
  const intervals = ras.slice(1).map((ra, i) => ra.time - ras[i].time);
  for (const interval of intervals) t.true(interval >= 2.95 && interval <= 4.2, `interval ${interval.toFixed(3)} s is within [3, 4] s`);
});

test('rdisc6 decodes our RA: prefix, RDNSS and DNSSL', async (t) => {
  const { router, client } = await routerAndClient(t);
  await startLeasehold(router, labRa(router.ifname));
  await prepareClient(client);
  const { stdout } = await client.segment.exec(client.netns, ['rdisc6', '-1', '-r', '2', '-w', '4000', client.ifname]);
  t.regex(stdout, /Router lifetime\s+:\s+1800 /);
  t.regex(stdout, new RegExp(`Prefix\\s+: ${LAB_PREFIX}\\n\\s+On-link\\s+:\\s+Yes\\n\\s+Autonomous address conf.:\\s+Yes\\n\\s+Valid time\\s+:\\s+86400 .*\\n\\s+Pref. time\\s+:\\s+14400 `));
  t.regex(stdout, new RegExp(`Recursive DNS server\\s+: ${LAB_RDNSS}\\n\\s+DNS server lifetime\\s+:\\s+1800 `));
  t.regex(stdout, new RegExp(`DNS search list\\s+: ${LAB_DNSSL} \\n\\s+DNS search list lifetime:\\s+1800 `));
  t.regex(stdout, new RegExp(`Source link-layer address: ${ROUTER_MAC.toUpperCase()}`));
  t.regex(stdout, new RegExp(`from ${ROUTER_LINK_LOCAL}`));
});

test('a solicitation is answered, by multicast after RFC 4861 delays or at once by unicast in the lab setting', async (t) => {
  const { router, client } = await routerAndClient(t);
  const rfc = await startLeasehold(router, labRa(router.ifname));
  await prepareClient(client);
  await client.segment.exec(client.netns, ['rdisc6', '-1', '-r', '2', '-w', '4000', client.ifname]);
  await rfc.waitForOutput(/"event":"rs-received".*"answer":\{"kind":"(multicast|covered)"/, 5000);
  // Its three final RAs take up to 9 s under rfc4861.
  await rfc.stop(15_000);

  const immediate = await startLeasehold(router, labRa(router.ifname, { solicitedResponse: 'immediate' }), { name: 'immediate' });
  const started = Date.now();
  await client.segment.exec(client.netns, ['rdisc6', '-1', '-r', '1', '-w', '1000', client.ifname]);
  t.true(Date.now() - started < 1000, 'answered within rdisc6 single 1 s wait');
  await immediate.waitForOutput(/"event":"rs-received".*"answer":\{"kind":"unicast","to":"fe80::11:22ff:fe33:4455"\}/, 5000);
});

test('invalid solicitations are counted and dropped, a valid one from :: is still answered', async (t) => {
  const { router, client } = await routerAndClient(t);
  // The client first, so that no solicitation of its kernel reaches the server.
  await prepareClient(client, { solicit: false });
  const server = await startLeasehold(router, labRa(router.ifname, { solicitedResponse: 'immediate' }));
  const slla = routerSolicit.encode({ options: [{ kind: 'source-link-layer-address', address: CLIENT_MAC }] }).toString('hex');
  await rsProbe(client, ['send', client.ifname, '8501000000000000']);
  await rsProbe(client, ['send', client.ifname, slla, '--from-unspecified']);
  await rsProbe(client, ['send', client.ifname, '85000000000000000100021122334455']);
  await rsProbe(client, ['send', client.ifname, '85000000000000']);
  for (const reason of ['code', 'slla-from-unspecified', 'bad-option', 'too-short']) {
    await server.waitForOutput(new RegExp(`"event":"rs-dropped".*"reason":"${reason}"`), 5000);
  }
  t.false(/"event":"rs-received"/.test(server.output), 'none of them was answered');
  await rsProbe(client, ['send', client.ifname, '8500000000000000', '--from-unspecified']);
  await server.waitForOutput(/"event":"rs-received","interface":"eth0","from":"::","answer":\{"kind":"multicast"/, 5000);
  await waitForClient(client, 'SLAAC address from the answer to the valid RS', hasSlaac);
  await server.stop(10_000);
  t.like(stoppedCounters(server.output), {
    rs_received: 5,
    rs_invalid_code: 1,
    rs_invalid_slla_from_unspecified: 1,
    rs_invalid_bad_option: 1,
    rs_invalid_too_short: 1,
  });
});

test('an RS with hop limit 254 is counted and not answered, the same RS with 255 is (RFC 4861 §6.1.1)', async (t) => {
  const { router, client } = await routerAndClient(t);
  await prepareClient(client, { solicit: false });
  const capture = await startRaCapture(client);
  const server = await startLeasehold(router, labRa(router.ifname, { solicitedResponse: 'immediate' }));
  const clientLinkLocal = eui64Address('fe80::/64', CLIENT_MAC);
  const unicastAnswers = () => capture.captured().filter((ra) => ra.destination === clientLinkLocal);
  const rs = routerSolicit.encode({ options: [{ kind: 'source-link-layer-address', address: CLIENT_MAC }] }).toString('hex');

  await rsProbe(client, ['send', client.ifname, rs, '--hop-limit', '254']);
  await server.waitForOutput(/"event":"rs-dropped","interface":"eth0","from":"fe80::11:22ff:fe33:4455","reason":"hop-limit","detail":"hop limit 254, not 255/, 5000);
  // Under `immediate` an answer would be on the wire within milliseconds.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.false(/"event":"rs-received"/.test(server.output), 'not acted on');
  t.deepEqual(unicastAnswers(), [], 'no RA was sent to the client');

  await rsProbe(client, ['send', client.ifname, rs]);
  await server.waitForOutput(/"event":"rs-received","interface":"eth0","from":"fe80::11:22ff:fe33:4455","answer":\{"kind":"unicast"/, 5000);
  const [answer] = await pollUntil('the unicast answer on the wire', () => unicastAnswers().length > 0 && unicastAnswers(), { timeoutMs: 5000 });
  t.like(answer, { source: ROUTER_LINK_LOCAL, hopLimit: 255, routerLifetime: 1800 });
  await server.stop(10_000);
  t.like(stoppedCounters(server.output), { rs_received: 2, rs_invalid_hop_limit: 1, ra_sent_unicast: 1 });
});

test('a stop sends three final RAs a moment apart: Router Lifetime 0, prefix deprecated (RFC 4861 §6.2.5)', async (t) => {
  const { router, client } = await routerAndClient(t);
  await prepareClient(client);
  const capture = await startRaCapture(client);
  const server = await startLeasehold(router, labRa(router.ifname, { solicitedResponse: 'immediate' }));
  await waitForClient(client, 'SLAAC address and default route', hasSlaac);
  const stopped = Date.now();
  t.deepEqual(await server.stop(10_000), { code: 0, signal: null });
  t.true(Date.now() - stopped < 3000, 'the stop is quick under immediate');
  // tshark prints with a lag: the finals are told apart by their Router Lifetime, not by their place.
  const finalRas = () => capture.captured().filter((ra) => ra.routerLifetime === 0);
  const finals = await pollUntil('three final RAs on the wire', () => finalRas().length >= 3 && finalRas(), { timeoutMs: 5000 });
  for (const ra of finals) t.like(ra, { source: ROUTER_LINK_LOCAL, destination: 'ff02::1', hopLimit: 255, preferredLifetime: 0 });
  const gaps = finals.slice(1).map((ra, i) => ra.time - finals[i].time);
  for (const gap of gaps) t.true(gap >= 0.25 && gap <= 0.6, `final RAs ${gap.toFixed(3)} s apart`);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.is(finalRas().length, 3, 'no more than MAX_FINAL_RTR_ADVERTISEMENTS');
  t.true(capture.captured().every((ra) => ra.time <= finals[2].time), 'and nothing after them');
  t.like(stoppedCounters(server.output), { ra_sent_final: 3 });
  await waitForClient(client, 'no default route', (s) => !s.routes.some((r) => r.startsWith('default')), 5000);
});

test("another router's RA that contradicts ours is logged, one line per value, and counted (RFC 4861 §6.2.7)", async (t) => {
  const { router } = await routerAndClient(t);
  const other = await router.segment.addHost('rt2', { mac: '02:00:00:00:00:02' });
  await prepareRouter(other);
  const server = await startLeasehold(router, labRa(router.ifname));
  // Hop limit 32 (ours 64), the lab prefix with other lifetimes (ours 86400/14400), the same MTU.
  await startRadvd(
    other,
    `interface ${other.ifname} {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  AdvCurHopLimit 32;
  AdvLinkMTU 1400;
  prefix ${LAB_PREFIX} { AdvValidLifetime 3600; AdvPreferredLifetime 1800; };
  prefix fd00:198:20::/64 { AdvValidLifetime 600; AdvPreferredLifetime 300; };
};
`,
  );
  const from = '"from":"fe80::ff:fe00:2"';
  await server.waitForOutput(new RegExp(`"event":"ra-inconsistent","interface":"eth0",${from},"field":"cur-hop-limit","ours":64,"theirs":32`), 10_000);
  await server.waitForOutput(
    new RegExp(`"event":"ra-inconsistent","interface":"eth0",${from},"field":"prefix-valid-lifetime","prefix":"fd00:198:18::/64","ours":86400,"theirs":3600`),
    5000,
  );
  await server.waitForOutput(
    new RegExp(`"event":"ra-inconsistent","interface":"eth0",${from},"field":"prefix-preferred-lifetime","prefix":"fd00:198:18::/64","ours":14400,"theirs":1800`),
    5000,
  );
  await server.stop(15_000);
  const counters = stoppedCounters(server.output);
  t.true(counters.ra_received >= 1);
  t.like(counters, {
    ra_received_inconsistent: counters.ra_received,
    ra_inconsistent_cur_hop_limit: counters.ra_received,
    ra_inconsistent_prefix_valid_lifetime: counters.ra_received,
    ra_inconsistent_prefix_preferred_lifetime: counters.ra_received,
  });
  for (const agreed of ['mtu', 'managed', 'other_config', 'reachable_time', 'retrans_timer']) {
    t.false(`ra_inconsistent_${agreed}` in counters, `${agreed} agrees`);
  }
  t.false(/"event":"ra-inconsistent".*fd00:198:20::/.test(server.output), 'a prefix only they advertise is no conflict');
});

test('when the link-local address goes, RAs come from the new one (RFC 4861 §6.2.8)', async (t) => {
  const { router, client } = await routerAndClient(t);
  const server = await startLeasehold(router, labRa(router.ifname, { solicitedResponse: 'immediate' }));
  await prepareClient(client, { solicit: false });
  const NEW_LINK_LOCAL = 'fe80::99';
  await router.segment.ip(router.netns, '-6', 'addr', 'add', `${NEW_LINK_LOCAL}/64`, 'dev', router.ifname, 'nodad');
  await router.segment.ip(router.netns, '-6', 'addr', 'del', `${ROUTER_LINK_LOCAL}/64`, 'dev', router.ifname);
  const { stdout } = await client.segment.exec(client.netns, ['rdisc6', '-1', '-r', '2', '-w', '2000', client.ifname]);
  t.regex(stdout, new RegExp(`from ${NEW_LINK_LOCAL}`));
  await server.waitForOutput(new RegExp(`"event":"ra-link-local-changed","interface":"eth0","from":"${ROUTER_LINK_LOCAL}","to":"${NEW_LINK_LOCAL}"`), 5000);
  await waitForClient(client, 'a default route via the new address', (s) => s.routes.some((r) => r.startsWith(`default via ${NEW_LINK_LOCAL} `)));
  await server.stop(10_000);
  t.like(stoppedCounters(server.output), { ra_link_local_changed: 1 });
});

test("a stop's final RA removes the default route and deprecates the address", async (t) => {
  const { router, client } = await routerAndClient(t);
  const server = await startLeasehold(router, labRa(router.ifname));
  await prepareClient(client);
  await waitForClient(client, 'SLAAC address and default route', hasSlaac);
  // Under rfc4861 the final RA may wait MIN_DELAY_BETWEEN_RAS (3 s) after the last one.
  // Under rfc4861 the final RAs keep MIN_DELAY_BETWEEN_RAS (3 s) from the last RA and from each other: up to 9 s.
  const status = await server.stop(15_000);
  t.deepEqual(status, { code: 0, signal: null });
  t.is(server.output.match(/"event":"ra-final-sent"/g)?.length, 3);
  const state = await waitForClient(client, 'no default route', (s) => !s.routes.some((r) => r.startsWith('default')), 5000);
  const address = (await client.segment.ip(client.netns, '-6', 'addr', 'show', 'dev', client.ifname)).stdout;
  t.regex(address, new RegExp(`${CLIENT_ADDRESS}/64 scope global deprecated dynamic mngtmpaddr \\n\\s+valid_lft 7\\d{3}sec preferred_lft 0sec`));
  t.false(state.routes.some((r) => r.startsWith(LAB_ROUTE)), 'the RFC 4191 route is gone too');
});

test('radvd and Leasehold with the same configuration give the client the same addresses and routes', async (t) => {
  // radvd sends Router Lifetime 0 unless the router forwards.
  const { router, client } = await routerAndClient(t, { forwarding: true });
  const rdisc6 = async () =>
    (await client.segment.exec(client.netns, ['rdisc6', '-1', '-r', '2', '-w', '4000', client.ifname])).stdout;

  const radvd = await startRadvd(router, labRadvdConf(router.ifname));
  await prepareClient(client, { routeInformation: true });
  const fromRadvd = await waitForClient(client, 'SLAAC from radvd', hasSlaac);
  const radvdSays = await rdisc6();
  await radvd.stop();
  await pollUntil('radvd to exit', () => !radvd.running, { timeoutMs: 5000 });

  await client.segment.ip(client.netns, 'link', 'set', client.ifname, 'down');
  t.deepEqual((await clientIpv6(client)).addresses, [], 'the client starts over');
  await startLeasehold(router, labRa(router.ifname));
  await client.segment.ip(client.netns, 'link', 'set', client.ifname, 'up');
  const fromLeasehold = await waitForClient(client, 'SLAAC from Leasehold', hasSlaac);
  const leaseholdSays = await rdisc6();

  t.deepEqual(fromLeasehold, fromRadvd);
  t.is(leaseholdSays, radvdSays, 'rdisc6 prints the same RA');
});
