import test from 'ava';
import { loadConfigFile } from '../../server/config/load.ts';
import { validateConfig } from '../../server/config/validate.ts';
import { TSIG_ALGORITHMS } from '../../server/ddns/ddns-config.ts';
import { isTsigAlgorithm } from '../../lib/dns/tsig.ts';
import { configIssues } from './helpers/config-issues.ts';

type Fields = Record<string, unknown>;

const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=';

interface RawConfig extends Fields {
  ddns?: Fields;
  subnets: Array<Fields & { ddns?: Fields }>;
}

/** A small valid configuration with DDNS; each test breaks one thing in it. */
function base(): RawConfig & { ddns: Fields; subnets: Array<Fields & { ddns: Fields }> } {
  return {
    interfaces: [{ name: 'eth0', address: '198.18.0.1' }],
    subnets: [
      {
        id: 'lab',
        subnet: '198.18.0.0/16',
        interface: 'eth0',
        pools: [{ start: '198.18.1.0', end: '198.18.1.255' }],
        leaseTime: 3600,
        ddns: { domain: 'leasehold.test', defaultApp: 'lab' },
      },
    ],
    ddns: {
      zones: [
        { name: 'leasehold.test', servers: [{ address: '198.18.0.2' }], key: { name: 'lh-key', secret: SECRET } },
        { name: '18.198.in-addr.arpa', servers: [{ address: '198.18.0.2' }] },
      ],
    },
  };
}

const issues = configIssues;

test('a ddns section gets its defaults', (t) => {
  const config = validateConfig(base());
  t.deepEqual(config.ddns, {
    enabled: true,
    zones: [
      {
        name: 'leasehold.test',
        servers: [{ address: '198.18.0.2', port: 53 }],
        key: { name: 'lh-key', algorithm: 'hmac-sha256', secret: SECRET },
      },
      { name: '18.198.in-addr.arpa', servers: [{ address: '198.18.0.2', port: 53 }] },
    ],
    conflictResolution: 'check-with-dhcid',
    ttl: { floor: 60, cap: 86400 },
    onRefusedName: 'generate',
    updateOnRenew: false,
    retry: { initialMs: 1000, maxMs: 60000 },
    reconcileIntervalSeconds: 300,
    claimSeconds: 30,
  });
  t.deepEqual(config.subnets[0].ddns, { domain: 'leasehold.test', defaultApp: 'lab' });
});

test('every ddns field given explicitly is kept, in canonical form', (t) => {
  const raw = base();
  raw.ddns = {
    enabled: false,
    zones: [
      {
        name: 'LeaseHold.Test.',
        servers: [{ address: 'FD00:198:18:0::2', port: 5353 }, { address: '198.18.0.3' }],
        key: { name: 'LH-Key.', algorithm: 'hmac-sha512', secretFile: '/etc/leasehold/ddns.key' },
      },
    ],
    conflictResolution: 'no-check-without-dhcid',
    ttl: { floor: 0, cap: 300 },
    onRefusedName: 'skip',
    updateOnRenew: true,
    retry: { initialMs: 10, maxMs: 10 },
    reconcileIntervalSeconds: 0,
    claimSeconds: 30,
  };
  raw.subnets[0].ddns = {
    domain: 'Lab.LeaseHold.Test.',
    defaultApp: 'Lab',
    allowedApps: ['Web', 'LAB'],
    slaacPrefix: 'FD00:0198:0018:0000::/64',
  };
  const config = validateConfig(raw);
  t.deepEqual(config.ddns, {
    enabled: false,
    zones: [
      {
        name: 'leasehold.test',
        servers: [
          { address: 'fd00:198:18::2', port: 5353 },
          { address: '198.18.0.3', port: 53 },
        ],
        key: { name: 'lh-key', algorithm: 'hmac-sha512', secretFile: '/etc/leasehold/ddns.key' },
      },
    ],
    conflictResolution: 'no-check-without-dhcid',
    ttl: { floor: 0, cap: 300 },
    onRefusedName: 'skip',
    updateOnRenew: true,
    retry: { initialMs: 10, maxMs: 10 },
    reconcileIntervalSeconds: 0,
    claimSeconds: 30,
  });
  t.deepEqual(config.subnets[0].ddns, {
    domain: 'lab.leasehold.test',
    defaultApp: 'lab',
    allowedApps: ['web', 'lab'],
    slaacPrefix: 'fd00:198:18::/64',
  });
});

test('without ddns sections there is no ddns in the result', (t) => {
  const raw: RawConfig = base();
  delete raw.ddns;
  delete raw.subnets[0].ddns;
  const config = validateConfig(raw);
  t.false('ddns' in config);
  t.false('ddns' in config.subnets[0]);
});

test('a subnet ddns needs the top-level section and a domain inside its zones', (t) => {
  const alone: RawConfig = base();
  delete alone.ddns;
  t.deepEqual(issues(alone), ['subnets[0].ddns: needs the top-level ddns section, whose zones say where names are updated']);

  const outside = base();
  outside.subnets[0].ddns.domain = 'other.test';
  t.deepEqual(issues(outside), ['subnets[0].ddns.domain: "other.test" is in none of ddns.zones (leasehold.test, 18.198.in-addr.arpa)']);
  // A zone's apex name counts as inside it; a look-alike suffix does not.
  outside.subnets[0].ddns.domain = 'xleasehold.test';
  t.is(issues(outside).length, 1);

  // A broken top-level section is reported once, not again through every subnet.
  const broken = base();
  broken.ddns.zones = 'leasehold.test';
  t.deepEqual(issues(broken), ['ddns.zones: must be a list, got "leasehold.test"']);
});

test('subnet ddns fields are checked', (t) => {
  const raw = base();
  raw.subnets[0].ddns = {
    domain: 'bad_domain.test',
    defaultApp: 'two.labels',
    allowedApps: ['web', '-db'],
    slaacPrefix: 'fd00:198:18::/48',
    extra: 1,
  };
  t.deepEqual(issues(raw), [
    'subnets[0].ddns.extra: unknown field "extra"',
    'subnets[0].ddns.domain: must be a DNS name (letters, digits and hyphens, dot-separated labels of 1 to 63), got "bad_domain.test"',
    'subnets[0].ddns.defaultApp: must be one DNS label (letters, digits and hyphens, 1 to 63, no hyphen first or last), got "two.labels"',
    'subnets[0].ddns.allowedApps[1]: must be one DNS label (letters, digits and hyphens, 1 to 63, no hyphen first or last), got "-db"',
    'subnets[0].ddns.slaacPrefix: must be a /64 (SLAAC addresses need one), got /48',
  ]);
});

test('defaultApp must be one of allowedApps; required fields are required', (t) => {
  const raw = base();
  raw.subnets[0].ddns = { domain: 'leasehold.test', defaultApp: 'lab', allowedApps: ['web'] };
  t.deepEqual(issues(raw), ['subnets[0].ddns.defaultApp: "lab" is not in allowedApps']);
  raw.subnets[0].ddns = { slaacPrefix: 'fd00:198:18::1/64' };
  t.deepEqual(issues(raw), [
    'subnets[0].ddns.domain: is required',
    'subnets[0].ddns.defaultApp: is required',
    'subnets[0].ddns.slaacPrefix: has host bits set (did you mean fd00:198:18::/64?)',
  ]);
});

test('zones: required, named once, with servers and a well-formed key', (t) => {
  const raw = base();
  raw.ddns = {
    zones: [
      { name: 'leasehold.test', servers: [{ address: 'dns1', port: 0 }] },
      { name: 'LEASEHOLD.test', servers: [] },
      { name: '18.198.in-addr.arpa', servers: [{ address: '198.18.0.2' }], key: { name: 'k', algorithm: 'hmac-md5' } },
      {
        name: '19.198.in-addr.arpa',
        servers: [{ address: '198.18.0.2' }],
        key: { name: 'k', secret: 'not base64!', secretFile: '/k' },
      },
    ],
  };
  t.deepEqual(issues(raw), [
    'ddns.zones[0].servers[0].address: must be an IPv4 or IPv6 address, got "dns1"',
    'ddns.zones[0].servers[0].port: must be an integer from 1 to 65535, got 0',
    'ddns.zones[1].servers: must list at least one item',
    'ddns.zones[2].key: needs exactly one of secret and secretFile',
    'ddns.zones[2].key.algorithm: must be one of "hmac-sha1", "hmac-sha256", "hmac-sha512", got "hmac-md5"',
    'ddns.zones[3].key: needs exactly one of secret and secretFile',
    'ddns.zones[3].key.secret: must be the base64 secret, as tsig-keygen prints it',
  ]);
  raw.ddns = { zones: [{ name: 'leasehold.test', servers: [{ address: '198.18.0.2' }] }, { name: 'LeaseHold.Test.', servers: [{ address: '198.18.0.3' }] }] };
  t.deepEqual(issues(raw), ['ddns.zones[1].name: duplicate zone "leasehold.test" (also ddns.zones[0])']);
  raw.ddns = {};
  t.deepEqual(issues(raw), ['ddns.zones: is required']);
});

test('ddns settings: modes, booleans, TTL and retry bounds', (t) => {
  const raw = base();
  Object.assign(raw.ddns, {
    enabled: 'yes',
    conflictResolution: 'check',
    onRefusedName: 'drop',
    updateOnRenew: 1,
    ttl: { floor: 600, cap: 60 },
    retry: { initialMs: 5000, maxMs: 1000 },
    zone: [],
  });
  t.deepEqual(issues(raw), [
    'ddns.zone: unknown field "zone" (did you mean "zones"?)',
    'ddns.enabled: must be true or false, got "yes"',
    'ddns.conflictResolution: must be one of "check-with-dhcid", "no-check-with-dhcid", "check-exists-with-dhcid", "no-check-without-dhcid", got "check"',
    'ddns.ttl.cap: must be at least floor (600)',
    'ddns.onRefusedName: must be one of "generate", "skip", got "drop"',
    'ddns.updateOnRenew: must be true or false, got 1',
    'ddns.retry.maxMs: must be at least initialMs (5000)',
  ]);
  const defaults = base();
  Object.assign(defaults.ddns, { ttl: { floor: 100000 }, retry: { initialMs: 120000 } });
  t.deepEqual(issues(defaults), [
    'ddns.ttl.floor: must not exceed cap (86400, the default)',
    'ddns.retry.initialMs: must not exceed maxMs (60000, the default)',
  ]);
  const bounds = base();
  Object.assign(bounds.ddns, { ttl: { floor: -1, cap: 2 ** 31 }, retry: { initialMs: 0, maxMs: 1.5 } });
  t.deepEqual(issues(bounds), [
    'ddns.ttl.floor: must be an integer from 0 to 2147483647, got -1',
    'ddns.ttl.cap: must be an integer from 1 to 2147483647, got 2147483648',
    'ddns.retry.initialMs: must be an integer from 1 to 2147483647, got 0',
    'ddns.retry.maxMs: must be an integer from 1 to 2147483647, got 1.5',
  ]);
});

test('every algorithm the configuration accepts is one TSIG can sign with', (t) => {
  for (const algorithm of TSIG_ALGORITHMS) t.true(isTsigAlgorithm(algorithm), algorithm);
});

test('the example configuration publishes the lab in DNS', (t) => {
  const config = loadConfigFile(new URL('../../config/leasehold.example.yaml', import.meta.url).pathname);
  t.like(config.ddns, { enabled: true, conflictResolution: 'check-with-dhcid', onRefusedName: 'generate' });
  t.deepEqual(
    config.ddns?.zones.map((z) => z.name),
    ['leasehold.test', '18.198.in-addr.arpa', '0.0.0.0.8.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa'],
  );
  t.true(config.ddns?.zones.every((z) => z.key?.name === 'leasehold-ddns' && z.key.secretFile !== undefined));
  t.deepEqual(config.subnets[0].ddns, { domain: 'leasehold.test', defaultApp: 'lab', slaacPrefix: 'fd00:198:18::/64' });
});

test('DNS updates and a lease store shared by several servers go together; claimSeconds is checked and named', (t) => {
  const shared = { type: 'postgresql', url: 'postgresql://lh@198.18.0.4/lh', shared: true };
  t.deepEqual(issues({ ...base(), leaseStore: shared }), []);
  t.deepEqual(issues({ ...base(), ddns: { ...base().ddns, claimSeconds: 6 }, leaseStore: shared }), []);
  t.deepEqual(issues({ ...base(), ddns: { ...base().ddns, claimSeconds: 2 }, leaseStore: shared }), ['ddns.claimSeconds: must be an integer from 3 to 3600, got 2']);
});
