// Golden vectors: the RAs radvd 2.19 sent for a configuration, against the
// RAs Leasehold builds from the equivalent one, byte for byte with the
// checksum (as radvd's own test/send.c compares built RAs with expected
// bytes); and real Router Solicitations decoded. test/fixtures/ra/README.md
// says how they were captured.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { validateConfig } from '../../server/config/validate.ts';
import { buildFinalRouterAdvert, buildRouterAdvert } from '../../server/ra/advert-builder.ts';
import type { RaInterfaceConfig } from '../../server/ra/ra-config.ts';
import { routerAdvert, type RouterAdvert } from '../../lib/ndp/router-advert.ts';
import { routerSolicit } from '../../lib/ndp/router-solicit.ts';
import { withChecksum } from '../fixtures/ra/icmpv6-checksum.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/ra/${name}`, import.meta.url));

/** The capture's MAC and link-local address (test/fixtures/ra/README.md). */
const ROUTER_MAC = '02:00:00:00:00:01';
const ROUTER_LINK_LOCAL = 'fe80::ff:fe00:1';
const CLIENT_LINK_LOCAL = 'fe80::11:22ff:fe33:4455';

function withoutChecksum(message: Buffer): Buffer {
  const out = Buffer.from(message);
  out.writeUInt16BE(0, 2);
  return out;
}

/** One RA interface, validated as the server would load it. */
function raInterface(iface: Record<string, unknown>): RaInterfaceConfig {
  const config = validateConfig({
    interfaces: [{ name: 'eth0', address: '198.18.0.1' }],
    subnets: [{ id: 'lab', subnet: '198.18.0.0/16', interface: 'eth0', leaseTime: 3600 }],
    ra: { interfaces: [{ name: 'eth0', ...iface }] },
  });
  return config.ra!.interfaces[0];
}

/** test/fixtures/ra/radvd-lab.conf, in Leasehold's terms. */
const LAB = raInterface({
  minIntervalSeconds: 3,
  maxIntervalSeconds: 10,
  routerLifetimeSeconds: 1800,
  mtu: 1500,
  prefixes: [{ prefix: 'fd00:198:18::/64', onLink: true, autonomous: true, validLifetimeSeconds: 86400, preferredLifetimeSeconds: 14400 }],
  routes: [{ prefix: 'fd00:198:19::/48', preference: 'high', lifetimeSeconds: 1800 }],
  rdnss: ['fd00:198:18::2'],
  dnssl: ['leasehold.test'],
  dnsLifetimeSeconds: 1800,
});

/** test/fixtures/ra/radvd-full.conf, in Leasehold's terms. */
const FULL = raInterface({
  minIntervalSeconds: 3,
  maxIntervalSeconds: 10,
  managed: true,
  otherConfig: true,
  curHopLimit: 0,
  routerLifetimeSeconds: 9000,
  routerPreference: 'high',
  reachableTimeMs: 30000,
  retransTimerMs: 1000,
  mtu: 1400,
  prefixes: [
    { prefix: 'fd00:198:18::/64', validLifetimeSeconds: 0xffffffff, preferredLifetimeSeconds: 0xffffffff },
    { prefix: 'fd00:198:20::/48', autonomous: false, validLifetimeSeconds: 3600, preferredLifetimeSeconds: 0 },
  ],
  routes: [
    { prefix: '::/0', preference: 'low', lifetimeSeconds: 600 },
    { prefix: 'fd00:198:21::1:0/112', lifetimeSeconds: 0xffffffff },
  ],
  rdnss: ['fd00:198:18::2', 'fd00:198:18::3'],
  dnssl: ['leasehold.test', 'lab.leasehold.test'],
  dnsLifetimeSeconds: 600,
});

const toAllNodes = (ra: RouterAdvert) => withChecksum(routerAdvert.encode(ra), ROUTER_LINK_LOCAL, 'ff02::1').toString('hex');

test("the lab's RA is byte for byte the one radvd sends for the same configuration", (t) => {
  t.is(toAllNodes(buildRouterAdvert(LAB, ROUTER_MAC)), fixture('radvd-lab-ra.bin').toString('hex'));
});

test("the lab's final RA is byte for byte radvd's with DeprecatePrefix", (t) => {
  t.is(toAllNodes(buildFinalRouterAdvert(LAB, ROUTER_MAC)), fixture('radvd-lab-final-ra.bin').toString('hex'));
});

test('every header field and option kind is byte for byte radvd', (t) => {
  t.is(toAllNodes(buildRouterAdvert(FULL, ROUTER_MAC)), fixture('radvd-full-ra.bin').toString('hex'));
});

test('the final RA differs from radvd only where radvd is configured or wrong to', (t) => {
  const ours = buildFinalRouterAdvert(FULL, ROUTER_MAC);
  const radvd = routerAdvert.decode(fixture('radvd-full-final-ra.bin'));
  // RFC 4191 §2.2: preference medium once the router lifetime is 0; radvd keeps high.
  t.is(radvd.routerPreference, 'high');
  // radvd deprecates prefixes only with DeprecatePrefix, which radvd-full.conf leaves off.
  const deprecated = radvd.options.map((o) =>
    o.kind === 'prefix-information' ? { ...o, preferredLifetime: 0, validLifetime: Math.min(o.validLifetime, 7200) } : o,
  );
  t.deepEqual(ours, { ...radvd, routerPreference: 'medium', options: deprecated });
});

test("radvd's lab RA decodes to every field it was configured with", (t) => {
  const captured = fixture('radvd-lab-ra.bin');
  const ra = routerAdvert.decode(captured);
  t.deepEqual(ra, {
    curHopLimit: 64,
    managed: false,
    otherConfig: false,
    routerPreference: 'medium',
    routerLifetime: 1800,
    reachableTime: 0,
    retransTimer: 0,
    options: [
      { kind: 'prefix-information', prefixLength: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400, prefix: 'fd00:198:18::' },
      { kind: 'route-information', prefixLength: 48, preference: 'high', lifetime: 1800, prefix: 'fd00:198:19::' },
      { kind: 'rdnss', lifetime: 1800, servers: ['fd00:198:18::2'] },
      { kind: 'dnssl', lifetime: 1800, domains: ['leasehold.test'] },
      { kind: 'mtu', mtu: 1500 },
      { kind: 'source-link-layer-address', address: ROUTER_MAC },
    ],
  });
  t.is(routerAdvert.encode(ra).toString('hex'), withoutChecksum(captured).toString('hex'));
});

test("radvd's full RA decodes and re-encodes byte for byte", (t) => {
  const captured = fixture('radvd-full-ra.bin');
  const ra = routerAdvert.decode(captured);
  t.like(ra, { curHopLimit: 0, managed: true, otherConfig: true, routerPreference: 'high', routerLifetime: 9000, reachableTime: 30000, retransTimer: 1000 });
  t.deepEqual(ra.options.find((o) => o.kind === 'dnssl'), { kind: 'dnssl', lifetime: 600, domains: ['leasehold.test', 'lab.leasehold.test'] });
  t.deepEqual(ra.options.filter((o) => o.kind === 'route-information'), [
    { kind: 'route-information', prefixLength: 0, preference: 'low', lifetime: 600, prefix: '::' },
    { kind: 'route-information', prefixLength: 112, preference: 'medium', lifetime: 0xffffffff, prefix: 'fd00:198:21::1:0' },
  ]);
  t.is(routerAdvert.encode(ra).toString('hex'), withoutChecksum(captured).toString('hex'));
});

test("the Linux kernel's RS carries its MAC and re-encodes byte for byte", (t) => {
  const captured = fixture('linux-rs.bin');
  const rs = routerSolicit.decode(captured);
  t.deepEqual(rs, { options: [{ kind: 'source-link-layer-address', address: '02:11:22:33:44:55' }] });
  t.is(withChecksum(routerSolicit.encode(rs), CLIENT_LINK_LOCAL, 'ff02::2').toString('hex'), captured.toString('hex'));
});

test("rdisc6's RS has no options and re-encodes byte for byte", (t) => {
  const captured = fixture('rdisc6-rs.bin');
  const rs = routerSolicit.decode(captured);
  t.deepEqual(rs, { options: [] });
  t.is(withChecksum(routerSolicit.encode(rs), CLIENT_LINK_LOCAL, 'ff02::2').toString('hex'), captured.toString('hex'));
});
