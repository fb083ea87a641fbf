import test from 'ava';
import { ConfigError } from '../../server/config/config-error.ts';
import { validateConfig } from '../../server/config/validate.ts';
import { configIssues } from './helpers/config-issues.ts';

type Fields = Record<string, unknown>;
interface RawSubnet extends Fields {
  pools: Fields[];
  options: Fields;
  reservations: Fields[];
}
interface RawConfig extends Fields {
  interfaces: Fields[];
  subnets: RawSubnet[];
}

/** A small valid configuration; each test breaks one thing in it. */
function base(): RawConfig {
  return {
    interfaces: [{ name: 'eth0', address: '198.18.0.1' }],
    subnets: [
      {
        id: 'lab',
        subnet: '198.18.0.0/16',
        interface: 'eth0',
        pools: [{ start: '198.18.1.0', end: '198.18.1.255' }],
        leaseTime: 3600,
        options: { routers: ['198.18.0.1'], dnsServers: ['198.18.0.2'] },
        reservations: [{ hwAddress: '02:00:00:00:00:01', ip: '198.18.0.20' }],
      },
    ],
  };
}

const issues = configIssues;

test('a valid configuration gets its defaults', (t) => {
  t.deepEqual(validateConfig(base()), {
    interfaces: [{ name: 'eth0', address: '198.18.0.1' }],
    subnets: [
      {
        id: 'lab',
        subnet: '198.18.0.0/16',
        interface: 'eth0',
        pools: [{ start: '198.18.1.0', end: '198.18.1.255' }],
        leaseTime: 3600,
        renewTime: 1800,
        rebindTime: 3150,
        options: { routers: ['198.18.0.1'], dnsServers: ['198.18.0.2'] },
        reservations: [{ hwAddress: '02:00:00:00:00:01', ip: '198.18.0.20' }],
      },
    ],
    leaseStore: { type: 'sqlite', path: '/var/lib/leasehold/leases.db' },
    offerHoldSeconds: 30,
    declineQuarantineSeconds: 86400,
    protection: {
      heldOffersPercentOfPool: 50,
      heldOffersMax: 262144,
      rateLimits: {
        global: { perSecond: 50000, burst: 50000 },
        perInterface: { perSecond: 20000, burst: 20000 },
        perRelay: { perSecond: 20000, burst: 20000 },
        perClient: { perSecond: 10, burst: 20 },
      },
    },
    expiredReclaimIntervalSeconds: 10,
    log: { level: 'info' },
    control: { maxBodyBytes: 1 << 20 },
    dhcp4Sockets: { implementation: 'auto', maxQueuedReplies: 1024, requestDeadlineMs: 2000, replyDeadlineMs: 3000 },
  });
});

test('dhcp4Sockets: fields are kept, bad ones named, and a request deadline past the reply deadline refused', (t) => {
  const given = { implementation: 'dgram', maxQueuedReplies: 64, requestDeadlineMs: 500, replyDeadlineMs: 900 };
  t.deepEqual(validateConfig({ ...base(), dhcp4Sockets: given }).dhcp4Sockets, given);
  const err = t.throws(() => validateConfig({ ...base(), dhcp4Sockets: { implementation: 'raw', maxQueuedReplies: 0, requestDeadlineMs: 4000, bogus: 1 } }));
  t.regex(err.message, /dhcp4Sockets\.implementation: must be one of "auto", "native", "dgram", got "raw"/);
  t.regex(err.message, /dhcp4Sockets\.maxQueuedReplies/);
  t.regex(err.message, /dhcp4Sockets\.requestDeadlineMs: 4000 is later than replyDeadlineMs \(3000\)/);
  t.regex(err.message, /bogus/);
});

test('protection: given fields are kept, the others default; perSecond 0 turns a limit off', (t) => {
  const raw = base();
  Object.assign(raw, {
    protection: { heldOffersPercentOfPool: 10, rateLimits: { perClient: { perSecond: 2, burst: 4 }, global: { perSecond: 0 } } },
  });
  const { protection } = validateConfig(raw);
  t.is(protection.heldOffersPercentOfPool, 10);
  t.is(protection.heldOffersMax, 262144);
  t.deepEqual(protection.rateLimits.perClient, { perSecond: 2, burst: 4 });
  t.deepEqual(protection.rateLimits.global, { perSecond: 0, burst: 1 });
  t.deepEqual(protection.rateLimits.perRelay, { perSecond: 20000, burst: 20000 });
});

test('every field given explicitly is kept, in canonical form', (t) => {
  const raw = base();
  Object.assign(raw, {
    serverId: '198.18.0.1',
    leaseStore: { type: 'sqlite', path: '/tmp/x.db' },
    offerHoldSeconds: 5,
    declineQuarantineSeconds: 0,
    expiredReclaimIntervalSeconds: 1,
    log: { level: 'debug' },
  });
  Object.assign(raw.subnets[0], {
    renewTime: 100,
    rebindTime: 200,
    pools: [],
    options: {
      routers: ['198.18.0.1'],
      dnsServers: ['198.18.0.2', '198.19.0.2'],
      domainName: 'leasehold.test.',
      domainSearch: ['lab.leasehold.test', 'leasehold.test'],
      classlessRoutes: [
        { destination: '0.0.0.0/0', router: '198.18.0.1' },
        { destination: '10.0.0.0/8', router: '0.0.0.0' },
      ],
      mtu: 9000,
      ntpServers: ['198.18.0.3'],
    },
    reservations: [
      { hwAddress: '02-AA-00-00-00-01', ip: '198.18.0.20', hostname: 'printer' },
      { clientId: '01:02:AA:00:00:00:02', ip: '198.18.0.21' },
      { clientId: 'FF00', ip: '198.18.0.22' },
    ],
  });
  const config = validateConfig(raw);
  t.is(config.serverId, '198.18.0.1');
  t.deepEqual(config.leaseStore, { type: 'sqlite', path: '/tmp/x.db' });
  t.is(config.offerHoldSeconds, 5);
  t.is(config.declineQuarantineSeconds, 0);
  t.is(config.expiredReclaimIntervalSeconds, 1);
  t.is(config.log.level, 'debug');
  const s = config.subnets[0];
  t.is(s.renewTime, 100);
  t.is(s.rebindTime, 200);
  t.deepEqual(s.pools, []);
  t.is(s.options.domainName, 'leasehold.test');
  t.is(s.options.mtu, 9000);
  t.deepEqual(s.options.classlessRoutes?.[1], { destination: '10.0.0.0/8', router: '0.0.0.0' });
  t.deepEqual(s.reservations, [
    { hwAddress: '02:aa:00:00:00:01', ip: '198.18.0.20', hostname: 'printer' },
    { clientId: '0102aa00000002', ip: '198.18.0.21' },
    { clientId: 'ff00', ip: '198.18.0.22' },
  ]);
});

test('all problems are collected into one ConfigError, one line each', (t) => {
  const raw = base();
  raw.subnets[0].pools[0].end = '198.18.1';
  raw.subnets[0].leasetime = 60;
  raw.log = { level: 'loud' };
  const err = t.throws(() => validateConfig(raw), { instanceOf: ConfigError });
  t.is(err.code, 'E_CONFIG');
  t.is(err.issues.length, 3);
  t.is(err.path, 'subnets[0].leasetime');
  t.is(err.problem, 'unknown field "leasetime" (did you mean "leaseTime"?)');
  t.deepEqual(err.message.split('\n'), [
    'subnets[0].leasetime: unknown field "leasetime" (did you mean "leaseTime"?)',
    'subnets[0].pools[0].end: must be an IPv4 address, got "198.18.1"',
    'log.level: must be one of "debug", "info", "warn", "error", got "loud"',
  ]);
});

const cases: Array<[string, (raw: RawConfig) => void, string[]]> = [
  ['an empty configuration', (raw) => Object.keys(raw).forEach((k) => delete raw[k]), ['interfaces: is required', 'subnets: is required']],
  ['unknown top-level field without a likely match', (raw) => (raw.colour = 'blue'), ['colour: unknown field "colour"']],
  ['misspelt option', (raw) => (raw.subnets[0].options.dnsservers = ['198.18.0.2']),
    ['subnets[0].options.dnsservers: unknown field "dnsservers" (did you mean "dnsServers"?)']],
  ['no subnets', (raw) => (raw.subnets = []), ['subnets: must list at least one item']],
  ['pool end not an address', (raw) => (raw.subnets[0].pools[0].end = 198),
    ['subnets[0].pools[0].end: must be an IPv4 address, got 198']],
  ['pool outside the subnet', (raw) => (raw.subnets[0].pools[0].end = '198.19.0.10'),
    ['subnets[0].pools[0].end: is outside subnet 198.18.0.0/16']],
  ['pool start after end', (raw) => (raw.subnets[0].pools[0] = { start: '198.18.1.9', end: '198.18.1.1' }),
    ['subnets[0].pools[0]: start 198.18.1.9 is after end 198.18.1.1']],
  ['overlapping pools', (raw) => raw.subnets[0].pools.push({ start: '198.18.2.0', end: '198.18.2.9' }, { start: '198.18.1.250', end: '198.18.2.0' }),
    ['subnets[0].pools[2]: overlaps pool subnets[0].pools[0] (198.18.1.0-198.18.1.255)']],
  ['pool includes the network address', (raw) => (raw.subnets[0].pools[0].start = '198.18.0.0'),
    ['subnets[0].pools[0].start: is the network address of 198.18.0.0/16']],
  ['pool includes the broadcast address', (raw) => (raw.subnets[0].pools[0].end = '198.18.255.255'),
    ['subnets[0].pools[0].end: is the broadcast address of 198.18.0.0/16']],
  ['pool includes the server and a DNS server', (raw) => (raw.subnets[0].pools[0].start = '198.18.0.1'),
    ['subnets[0].pools[0]: contains 198.18.0.1, already in use as the address of interface eth0',
      'subnets[0].pools[0]: contains 198.18.0.2, already in use as DNS server']],
  ['subnet with host bits', (raw) => (raw.subnets[0].subnet = '198.18.0.1/16'),
    ['subnets[0].subnet: has host bits set (did you mean 198.18.0.0/16?)']],
  ['subnet not in CIDR form', (raw) => (raw.subnets[0].subnet = '198.18.0.0/33'),
    ['subnets[0].subnet: must be a network in CIDR form like 198.18.0.0/16, got "198.18.0.0/33"']],
  ['duplicate subnet id and overlapping subnets', (raw) => raw.subnets.push({ id: 'lab', subnet: '198.18.4.0/24', leaseTime: 60, pools: [], options: {}, reservations: [] }),
    ['subnets[1].id: duplicate subnet id "lab" (also subnets[0])',
      'subnets[1].subnet: overlaps subnets[0].subnet (198.18.0.0/16)']],
  ['subnet on an unlisted interface', (raw) => (raw.subnets[0].interface = 'eth1'),
    ['subnets[0].interface: names interface "eth1", which is not listed in interfaces']],
  ['lease time missing', (raw) => delete raw.subnets[0].leaseTime, ['subnets[0].leaseTime: is required']],
  ['lease time too short', (raw) => (raw.subnets[0].leaseTime = 5),
    ['subnets[0].leaseTime: must be an integer from 10 to 4294967294, got 5']],
  ['renewTime not below the default rebindTime', (raw) => (raw.subnets[0].renewTime = 3150),
    ['subnets[0].renewTime: must be less than rebindTime (3150, the default 0.875 × leaseTime)']],
  ['rebindTime not above the default renewTime', (raw) => (raw.subnets[0].rebindTime = 1800),
    ['subnets[0].rebindTime: must be greater than renewTime (1800, the default 0.5 × leaseTime)']],
  ['renewTime not below rebindTime', (raw) => Object.assign(raw.subnets[0], { renewTime: 600, rebindTime: 600 }),
    ['subnets[0].renewTime: must be less than rebindTime (600)']],
  ['rebindTime not below leaseTime', (raw) => (raw.subnets[0].rebindTime = 3600),
    ['subnets[0].rebindTime: must be less than leaseTime (3600)']],
  ['mtu too small', (raw) => (raw.subnets[0].options.mtu = 67),
    ['subnets[0].options.mtu: must be an integer from 68 to 65535, got 67']],
  ['mtu too large', (raw) => (raw.subnets[0].options.mtu = 65536),
    ['subnets[0].options.mtu: must be an integer from 68 to 65535, got 65536']],
  ['router outside the subnet', (raw) => (raw.subnets[0].options.routers = ['198.19.0.1']),
    ['subnets[0].options.routers[0]: is outside subnet 198.18.0.0/16']],
  ['empty DNS server list', (raw) => (raw.subnets[0].options.dnsServers = []),
    ['subnets[0].options.dnsServers: must list at least one item']],
  ['bad domain name', (raw) => (raw.subnets[0].options.domainSearch = ['ok.test', 'bad_name.test']),
    ['subnets[0].options.domainSearch[1]: must be a DNS name (letters, digits and hyphens, dot-separated labels of 1 to 63), got "bad_name.test"']],
  ['classless routes without a default route', (raw) => (raw.subnets[0].options.classlessRoutes = [{ destination: '10.0.0.0/8', router: '198.18.0.1' }]),
    ['subnets[0].options.classlessRoutes: has no default route 0.0.0.0/0: clients that get classless routes ignore routers (RFC 3442), so add { destination: 0.0.0.0/0, router: 198.18.0.1 }']],
  ['classless route with a bad destination and an off-link router', (raw) => (raw.subnets[0].options.classlessRoutes = [{ destination: '10.0.0.1/8', router: '10.0.0.1' }]),
    ['subnets[0].options.classlessRoutes[0].destination: has host bits set (did you mean 10.0.0.0/8?)',
      'subnets[0].options.classlessRoutes[0].router: is outside subnet 198.18.0.0/16']],
  ['duplicate reservation ip', (raw) => raw.subnets[0].reservations.push({ hwAddress: '02:00:00:00:00:02', ip: '198.18.0.20' }),
    ['subnets[0].reservations[1].ip: reservation ip 198.18.0.20 is used by reservations[0]']],
  ['client reserved twice', (raw) => raw.subnets[0].reservations.push({ hwAddress: '02:00:00:00:00:01', ip: '198.18.0.21' }),
    ['subnets[0].reservations[1].hwAddress: hwAddress 02:00:00:00:00:01 is already reserved by reservations[0]']],
  ['reservation outside the subnet', (raw) => (raw.subnets[0].reservations[0].ip = '198.19.0.20'),
    ['subnets[0].reservations[0].ip: is outside subnet 198.18.0.0/16']],
  ['reservation on the router', (raw) => (raw.subnets[0].reservations[0].ip = '198.18.0.1'),
    ['subnets[0].reservations[0].ip: 198.18.0.1 is already in use as the address of interface eth0']],
  ['malformed hwAddress', (raw) => (raw.subnets[0].reservations[0].hwAddress = '02:00:00:00:00:1'),
    ['subnets[0].reservations[0].hwAddress: must be a hardware address like 02:42:c6:12:00:0b, got "02:00:00:00:00:1"']],
  ['clientId not hex', (raw) => (raw.subnets[0].reservations[0] = { clientId: '01:zz', ip: '198.18.0.20' }),
    ['subnets[0].reservations[0].clientId: must be at least two hex octets, quoted, like "01:02:42:c6:12:00:0b", got "01:zz"']],
  ['clientId as a YAML number', (raw) => (raw.subnets[0].reservations[0] = { clientId: 102, ip: '198.18.0.20' }),
    ['subnets[0].reservations[0].clientId: must be at least two hex octets, quoted, like "01:02:42:c6:12:00:0b", got 102']],
  ['reservation with both identities', (raw) => (raw.subnets[0].reservations[0].clientId = '0102'),
    ['subnets[0].reservations[0]: has both hwAddress and clientId; give one']],
  ['reservation with no identity', (raw) => delete raw.subnets[0].reservations[0].hwAddress,
    ['subnets[0].reservations[0]: needs hwAddress or clientId']],
  ['interface name too long and duplicated', (raw) => raw.interfaces.push({ name: 'a-very-long-ifname' }, { name: 'eth0' }),
    ['interfaces[1].name: must be a Linux interface name (1 to 15 characters, no "/", ":" or spaces), got "a-very-long-ifname"',
      'interfaces[2].name: duplicate interface "eth0" (also interfaces[0])']],
  ['unsupported lease store', (raw) => (raw.leaseStore = { type: 'postgres', path: 'x' }),
    ['leaseStore.type: must be one of "sqlite", "postgresql", got "postgres"']],
  ['negative offer hold', (raw) => (raw.offerHoldSeconds = -1),
    ['offerHoldSeconds: must be an integer from 1 to 86400, got -1']],
  ['held-offer cap above 100 % and a misspelt rate-limit scope', (raw) => (raw.protection = { heldOffersPercentOfPool: 150, rateLimits: { perClinet: { perSecond: 1 } } }),
    ['protection.rateLimits.perClinet: unknown field "perClinet" (did you mean "perClient"?)',
      'protection.heldOffersPercentOfPool: must be an integer from 1 to 100, got 150']],
  ['rate limit without perSecond, and a burst of 0', (raw) => (raw.protection = { rateLimits: { perRelay: { burst: 5 }, perInterface: { perSecond: 5, burst: 0 } } }),
    ['protection.rateLimits.perInterface.burst: must be an integer from 1 to 10000000, got 0',
      'protection.rateLimits.perRelay.perSecond: is required']],
];

for (const [name, breakIt, expected] of cases) {
  test(`rejects: ${name}`, (t) => {
    const raw = base();
    breakIt(raw);
    t.deepEqual(issues(raw), expected);
  });
}

test('a top level that is not a mapping', (t) => {
  t.deepEqual(issues([]), ['(top level): must be a mapping, got a list']);
  t.deepEqual(issues(null), ['(top level): must be a mapping, got nothing']);
});

test('a relayed subnet needs no interface and may have only reservations', (t) => {
  const raw = base();
  (raw.subnets as Fields[]).push({
    id: 'relayed',
    subnet: '198.19.0.0/24',
    leaseTime: 600,
    reservations: [{ clientId: '0102', ip: '198.19.0.5' }],
  });
  const relayed = validateConfig(raw).subnets[1];
  t.is(relayed.interface, undefined);
  t.deepEqual(relayed.pools, []);
  t.deepEqual(relayed.options, {});
  t.is(relayed.rebindTime, 525);
});

test('control: HTTP on loopback by default at port 8000; paths kept as given', (t) => {
  const raw = { ...base(), control: { socket: '/run/lh.sock', http: { tokenFile: '/etc/lh/token' } } };
  t.deepEqual(validateConfig(raw).control, {
    socket: '/run/lh.sock',
    maxBodyBytes: 1 << 20,
    http: { address: '127.0.0.1', port: 8000, tokenFile: '/etc/lh/token' },
  });
  t.deepEqual(issues({ ...base(), control: { http: {} } }), [], 'loopback needs no authentication');
});

test('control: a non-loopback address needs authentication; TLS needs both files; one kind of auth', (t) => {
  t.deepEqual(issues({ ...base(), control: { http: { address: '198.18.0.1', port: 8000 } } }), [
    'control.http.address: 198.18.0.1 is not loopback: anyone who reaches it could run commands, so give tokenFile or basicAuthFile',
  ]);
  t.deepEqual(issues({ ...base(), control: { http: { address: '198.18.0.1', basicAuthFile: 'users', tlsCert: 'c.pem' } } }), [
    'control.http: TLS needs both tlsCert and tlsKey',
  ]);
  t.deepEqual(issues({ ...base(), control: { http: { tokenFile: 't', basicAuthFile: 'u' } } }), ['control.http: has both tokenFile and basicAuthFile; give one']);
  t.deepEqual(issues({ ...base(), control: { htp: {}, maxBodyBytes: 10 } }), [
    'control.htp: unknown field "htp" (did you mean "http"?)',
    'control.maxBodyBytes: must be an integer from 1024 to 67108864, got 10',
  ]);
  t.deepEqual(issues({ ...base(), control: { http: { port: 70000 } } }), ['control.http.port: must be an integer from 1 to 65535, got 70000']);
});
