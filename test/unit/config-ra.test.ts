// The `ra` section: RFC 4861 §6.2.1's router variables per interface, with
// the RFC's bounds and defaults, and the mistakes that would make hosts
// ignore what is advertised caught at start-up.
import test from 'ava';
import { loadConfigFile } from '../../server/config/load.ts';
import { validateConfig } from '../../server/config/validate.ts';
import { configIssues } from './helpers/config-issues.ts';

type Fields = Record<string, unknown>;

/** A valid configuration whose one RA interface gets `iface`'s fields. */
function withRa(iface: Fields, more: Fields[] = []): Fields {
  return {
    interfaces: [{ name: 'eth0', address: '198.18.0.1' }],
    subnets: [{ id: 'lab', subnet: '198.18.0.0/16', interface: 'eth0', leaseTime: 3600 }],
    ra: { interfaces: [{ name: 'eth0', ...iface }, ...more] },
  };
}

const issues = (iface: Fields, more: Fields[] = []) => configIssues(withRa(iface, more));
const P = 'ra.interfaces[0]';

test('an interface with nothing but its name gets the RFC 4861 §6.2.1 defaults', (t) => {
  const config = validateConfig(withRa({}));
  t.deepEqual(config.ra, {
    interfaces: [
      {
        name: 'eth0',
        maxIntervalSeconds: 600,
        minIntervalSeconds: 198,
        managed: false,
        otherConfig: false,
        curHopLimit: 64,
        routerLifetimeSeconds: 1800,
        routerPreference: 'medium',
        reachableTimeMs: 0,
        retransTimerMs: 0,
        sourceLinkLayerAddress: true,
        solicitedResponse: 'rfc4861',
        prefixes: [],
        routes: [],
        rdnss: [],
        dnssl: [],
        dnsLifetimeSeconds: 1800,
      },
    ],
  });
});

test('defaults follow maxIntervalSeconds: min interval at least 3 s, lifetimes 3 × max', (t) => {
  const iface = validateConfig(withRa({ maxIntervalSeconds: 4, prefixes: [{ prefix: 'fd00:198:18::/64' }], routes: [{ prefix: '::/0' }] })).ra!
    .interfaces[0];
  t.like(iface, { minIntervalSeconds: 3, routerLifetimeSeconds: 12, dnsLifetimeSeconds: 12 });
  t.deepEqual(iface.prefixes, [
    { prefix: 'fd00:198:18::', prefixLength: 64, onLink: true, autonomous: true, validLifetimeSeconds: 2592000, preferredLifetimeSeconds: 604800 },
  ]);
  t.deepEqual(iface.routes, [{ prefix: '::', prefixLength: 0, preference: 'medium', lifetimeSeconds: 12 }]);
  t.is(validateConfig(withRa({ maxIntervalSeconds: 1800 })).ra!.interfaces[0].routerLifetimeSeconds, 5400);
});

test('addresses, prefixes and domains come out in canonical form', (t) => {
  const iface = validateConfig(
    withRa({
      prefixes: [{ prefix: 'FD00:0198:0018:0000::/64' }],
      rdnss: ['FD00:198:18:0:0:0:0:2'],
      dnssl: ['LeaseHold.Test.'],
    }),
  ).ra!.interfaces[0];
  t.is(iface.prefixes[0].prefix, 'fd00:198:18::');
  t.deepEqual(iface.rdnss, ['fd00:198:18::2']);
  t.deepEqual(iface.dnssl, ['leasehold.test']);
});

test("the example configuration advertises the lab's prefix, resolver and domain", (t) => {
  const config = loadConfigFile(new URL('../../config/leasehold.example.yaml', import.meta.url).pathname);
  const [iface] = config.ra!.interfaces;
  t.like(iface, { name: 'eth0', rdnss: ['fd00:198:18::2'], dnssl: ['leasehold.test'], solicitedResponse: 'immediate', routerLifetimeSeconds: 1800 });
  t.like(iface.prefixes[0], { prefix: 'fd00:198:18::', prefixLength: 64, onLink: true, autonomous: true });
});

test('intervals stay within RFC 4861 §6.2.1', (t) => {
  t.deepEqual(issues({ maxIntervalSeconds: 3 }), [`${P}.maxIntervalSeconds: must be an integer from 4 to 1800, got 3`]);
  t.deepEqual(issues({ maxIntervalSeconds: 1801 }), [`${P}.maxIntervalSeconds: must be an integer from 4 to 1800, got 1801`]);
  t.deepEqual(issues({ minIntervalSeconds: 2 }), [`${P}.minIntervalSeconds: must be an integer from 3 to 1800, got 2`]);
  t.deepEqual(issues({ maxIntervalSeconds: 10, minIntervalSeconds: 8 }), [
    `${P}.minIntervalSeconds: must be at most 0.75 × maxIntervalSeconds (7), got 8`,
  ]);
  t.deepEqual(issues({ maxIntervalSeconds: 10, minIntervalSeconds: 7 }), []);
});

test('a router lifetime is 0 or at least the max interval, and preference medium when it is 0', (t) => {
  t.deepEqual(issues({ maxIntervalSeconds: 10, routerLifetimeSeconds: 5 }), [
    `${P}.routerLifetimeSeconds: must be 0 (not a default router) or at least maxIntervalSeconds (10), got 5`,
  ]);
  t.deepEqual(issues({ routerLifetimeSeconds: 9001 }), [`${P}.routerLifetimeSeconds: must be an integer from 0 to 9000, got 9001`]);
  t.deepEqual(issues({ routerLifetimeSeconds: 0, routerPreference: 'high' }), [
    `${P}.routerPreference: must be "medium" when routerLifetimeSeconds is 0 (RFC 4191 §2.2), got "high"`,
  ]);
  t.deepEqual(issues({ routerLifetimeSeconds: 0 }), []);
  t.deepEqual(issues({ routerPreference: 'reserved' }), [`${P}.routerPreference: must be one of "low", "medium", "high", got "reserved"`]);
});

test('header fields are checked against their ranges', (t) => {
  t.deepEqual(issues({ curHopLimit: 256, reachableTimeMs: 3_600_001, mtu: 1279, managed: 'yes' }), [
    `${P}.managed: must be true or false, got "yes"`,
    `${P}.curHopLimit: must be an integer from 0 to 255, got 256`,
    `${P}.reachableTimeMs: must be an integer from 0 to 3600000, got 3600001`,
    `${P}.mtu: must be an integer from 1280 to 65535, got 1279`,
  ]);
  t.deepEqual(issues({ solicitedResponse: 'fast' }), [`${P}.solicitedResponse: must be one of "rfc4861", "immediate", got "fast"`]);
});

test('an autonomous prefix must be a /64, and nothing link-local, multicast or with host bits', (t) => {
  t.deepEqual(issues({ prefixes: [{ prefix: 'fd00:198::/48' }] }), [
    `${P}.prefixes[0].prefix: must be a /64 to be autonomous (SLAAC addresses need one), got /48; or set autonomous: false`,
  ]);
  t.deepEqual(issues({ prefixes: [{ prefix: 'fd00:198::/48', autonomous: false }] }), []);
  t.deepEqual(issues({ prefixes: [{ prefix: 'fe80::/64' }] }), [`${P}.prefixes[0].prefix: is link-local (fe80::/10): hosts ignore it (RFC 4861 §4.6.2)`]);
  t.deepEqual(issues({ routes: [{ prefix: 'ff02::/16' }] }), [`${P}.routes[0].prefix: is multicast (ff00::/8)`]);
  t.deepEqual(issues({ prefixes: [{ prefix: 'fd00:198:18::1/64' }] }), [
    `${P}.prefixes[0].prefix: has host bits set (did you mean fd00:198:18::/64?)`,
  ]);
  t.deepEqual(issues({ prefixes: [{ prefix: '198.18.0.0/16' }] }), [
    `${P}.prefixes[0].prefix: must be an IPv6 prefix like fd00:198:18::/64, got "198.18.0.0/16"`,
  ]);
});

test('a prefix is preferred no longer than it is valid (RFC 4862 §5.5.3)', (t) => {
  const prefix = (lifetimes: Fields) => ({ prefixes: [{ prefix: 'fd00:198:18::/64', ...lifetimes }] });
  t.deepEqual(issues(prefix({ validLifetimeSeconds: 100, preferredLifetimeSeconds: 200 })), [
    `${P}.prefixes[0].preferredLifetimeSeconds: must not exceed validLifetimeSeconds (100)`,
  ]);
  t.deepEqual(issues(prefix({ validLifetimeSeconds: 100 })), [
    `${P}.prefixes[0].validLifetimeSeconds: must be at least preferredLifetimeSeconds (604800, the default)`,
  ]);
  t.deepEqual(issues(prefix({ preferredLifetimeSeconds: 2_592_001 })), [
    `${P}.prefixes[0].preferredLifetimeSeconds: must not exceed validLifetimeSeconds (2592000, the default)`,
  ]);
  t.deepEqual(issues(prefix({ validLifetimeSeconds: 4294967295, preferredLifetimeSeconds: 4294967295 })), []);
});

test('a prefix, a route or an interface is listed once', (t) => {
  t.deepEqual(issues({ prefixes: [{ prefix: 'fd00:198:18::/64' }, { prefix: 'FD00:198:18::/64' }] }), [
    `${P}.prefixes[1].prefix: duplicate prefix fd00:198:18::/64 (also ${P}.prefixes[0])`,
  ]);
  t.deepEqual(issues({ routes: [{ prefix: '::/0' }, { prefix: '0::/0', preference: 'low' }] }), [
    `${P}.routes[1].prefix: duplicate prefix ::/0 (also ${P}.routes[0])`,
  ]);
  t.deepEqual(issues({}, [{ name: 'eth0' }]), ['ra.interfaces[1].name: duplicate interface "eth0" (also ra.interfaces[0])']);
});

test('resolvers are IPv6 unicast addresses, domains DNS names, valid longer than the interval', (t) => {
  t.deepEqual(issues({ rdnss: ['198.18.0.2', 'ff02::1', '::'], dnssl: ['bad_name'] }), [
    `${P}.rdnss[0]: must be an IPv6 address, got "198.18.0.2"`,
    `${P}.rdnss[1]: must be a unicast address, got "ff02::1"`,
    `${P}.rdnss[2]: must be a unicast address, got "::"`,
    `${P}.dnssl[0]: must be a DNS name (letters, digits and hyphens, dot-separated labels of 1 to 63), got "bad_name"`,
  ]);
  t.deepEqual(issues({ maxIntervalSeconds: 600, dnsLifetimeSeconds: 599 }), [
    `${P}.dnsLifetimeSeconds: must be at least maxIntervalSeconds (600), or hosts drop the resolvers between two RAs (RFC 8106 §5.1)`,
  ]);
});

test('an RA that would not fit in one packet is refused', (t) => {
  const domains = Array.from({ length: 40 }, (_, i) => `domain-number-${i}.leasehold.test`);
  t.deepEqual(issues({ dnssl: domains }), [
    `${P}: its RA would be 1344 bytes, more than the 1240 that fit in one packet of 1280 bytes; advertise fewer prefixes, routes, resolvers or domains`,
  ]);
  t.deepEqual(issues({ dnssl: domains, mtu: 1500 }), []);
});

test('unknown fields are refused with a suggestion', (t) => {
  t.deepEqual(issues({ rdnnss: ['fd00:198:18::2'] }), [`${P}.rdnnss: unknown field "rdnnss" (did you mean "rdnss"?)`]);
  t.deepEqual(configIssues({ ...withRa({}), ra: { interface: [] } }), [
    'ra.interface: unknown field "interface" (did you mean "interfaces"?)',
    'ra.interfaces: is required',
  ]);
});
