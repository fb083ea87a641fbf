// Router advertisements against real kernels: a client namespace forms its
// SLAAC address and default route from what Leasehold sends, rdisc6
// decodes it, solicitations are answered (and bad ones counted and
// dropped), a stop withdraws the router, and radvd configured the same way
// leaves the client in exactly the same state.
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
import { routerSolicit } from '../../server/ra/router-solicit.ts';

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
  await rfc.stop(10_000);

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
  const stopped = JSON.parse(server.output.split('\n').find((l) => l.includes('"event":"stopped"')) ?? '{}') as { counters: Record<string, number> };
  t.like(stopped.counters, {
    rs_received: 5,
    rs_invalid_code: 1,
    rs_invalid_slla_from_unspecified: 1,
    rs_invalid_bad_option: 1,
    rs_invalid_too_short: 1,
  });
});

test("a stop's final RA removes the default route and deprecates the address", async (t) => {
  const { router, client } = await routerAndClient(t);
  const server = await startLeasehold(router, labRa(router.ifname));
  await prepareClient(client);
  await waitForClient(client, 'SLAAC address and default route', hasSlaac);
  // Under rfc4861 the final RA may wait MIN_DELAY_BETWEEN_RAS (3 s) after the last one.
  const status = await server.stop(10_000);
  t.deepEqual(status, { code: 0, signal: null });
  t.regex(server.output, /"event":"ra-final-sent"/);
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
