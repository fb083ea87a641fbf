// The pure core of operations: every command's arguments (each missing or
// wrong-typed one named), the request shape, auth, the metric names and
// labels, the Prometheus text and Kea's statistic names.
import test from 'ava';
import { Counters } from '../../server/app/counters.ts';
import { COMMIT_SECONDS_BOUNDS, GROUP_SIZE_BOUNDS } from '../../server/app/store-commit-monitor.ts';
import { COMMANDS, readArguments, type CommandName } from '../../server/ops/command-arguments.ts';
import { authorized, parseBasicAuthFile, parseTokenFile } from '../../server/ops/control-auth.ts';
import { parseControlRequest } from '../../server/ops/control-protocol.ts';
import { keaStatistics } from '../../server/ops/kea-statistics.ts';
import { HISTOGRAMS, metricFamilies, type ApplianceGauges } from '../../server/ops/metric-catalog.ts';
import { formatPrometheus } from '../../server/ops/prometheus-text.ts';

/** For each command: arguments it accepts, and bad ones with the text that names the problem. */
const CASES: { [C in CommandName]: { good: object[]; bad: Array<[object, string]> } } = {
  'list-commands': { good: [{}], bad: [[{ x: 1 }, 'arguments.x: unknown field "x"']] },
  'status-get': { good: [{}], bad: [[{ full: true }, 'arguments.full: unknown field "full"']] },
  'config-get': { good: [{}], bad: [[{ x: 1 }, 'arguments.x: unknown field "x"']] },
  'config-test': { good: [{}, { Leasehold: { interfaces: [] } }], bad: [[{ Dhcp4: {} }, 'arguments.Dhcp4: unknown field "Dhcp4"']] },
  'config-reload': { good: [{}], bad: [[{ file: '/x' }, 'arguments.file: unknown field "file"']] },
  'statistic-get-all': { good: [{}], bad: [[{ name: 'x' }, 'arguments.name: unknown field "name"']] },
  'lease4-get': {
    good: [{ 'ip-address': '198.18.1.1' }, { 'identifier-type': 'hw-address', identifier: '02:00:00:00:00:01', 'subnet-id': 'lab' }, { 'identifier-type': 'client-id', identifier: '01:02', 'subnet-id': 1 }],
    bad: [
      [{}, 'arguments.ip-address: is required (or identifier-type, identifier and subnet-id)'],
      [{ 'ip-address': '198.18.1.256' }, 'arguments.ip-address: must be an IPv4 address, got "198.18.1.256"'],
      [{ 'identifier-type': 'duid', identifier: 'x', 'subnet-id': 'lab' }, 'arguments.identifier-type: must be one of "hw-address", "client-id", got "duid"'],
      [{ 'identifier-type': 'hw-address', identifier: 'zz', 'subnet-id': 'lab' }, 'arguments.identifier: must be a hardware address like "02:42:c6:12:00:0b", got "zz"'],
      [{ 'identifier-type': 'hw-address', identifier: '02:00:00:00:00:01' }, 'arguments.subnet-id: is required'],
      [{ 'identifier-type': 'client-id', identifier: '01:02', 'subnet-id': true }, 'arguments.subnet-id: must be a subnet id (a string, or an integer), got true'],
      [{ 'ip-address': '198.18.1.1', identifier: '01:02' }, 'arguments: give either ip-address, or identifier-type, identifier and subnet-id, not both'],
    ],
  },
  'lease4-get-all': {
    good: [{}, { subnets: ['lab', 2] }],
    bad: [[{ subnets: 'lab' }, 'arguments.subnets: must be a list, got "lab"']],
  },
  'lease4-get-page': {
    good: [{ from: 'start', limit: 10 }, { from: '198.18.1.5', limit: 1 }],
    bad: [
      [{ limit: 10 }, 'arguments.from: is required'],
      [{ from: 'start', limit: 0 }, 'arguments.limit: must be an integer from 1 to 100000, got 0'],
      [{ from: 'begin', limit: 5 }, 'arguments.from: must be an IPv4 address, got "begin"'],
    ],
  },
  'lease4-add': {
    good: [{ 'ip-address': '198.18.1.1', 'hw-address': '02:00:00:00:00:01', 'client-id': '0102', hostname: 'h', 'subnet-id': 'lab', 'valid-lft': 60 }],
    bad: [
      [{ 'hw-address': '02:00:00:00:00:01' }, 'arguments.ip-address: is required'],
      [{ 'ip-address': '198.18.1.1' }, 'arguments.hw-address: is required'],
      [{ 'ip-address': '198.18.1.1', 'hw-address': '02:00:00:00:00:01', 'valid-lft': -1 }, 'arguments.valid-lft: must be an integer from 1 to 4294967294, got -1'],
      [{ 'ip-address': '198.18.1.1', 'hw-address': '02:00:00:00:00:01', hostname: 'bad_name' }, 'arguments.hostname: must be a DNS name (letters, digits and hyphens, dot-separated labels of 1 to 63), got "bad_name"'],
    ],
  },
  'lease4-update': {
    good: [{ 'ip-address': '198.18.1.1', 'hw-address': '02:00:00:00:00:01', 'force-create': true }],
    bad: [[{ 'ip-address': '198.18.1.1', 'hw-address': '02:00:00:00:00:01', 'force-create': 'yes' }, 'arguments.force-create: must be true or false, got "yes"']],
  },
  'lease4-del': { good: [{ 'ip-address': '198.18.1.1' }], bad: [[{ 'ip-address': null }, 'arguments.ip-address: is required']] },
  'lease4-wipe': { good: [{ 'subnet-id': 'lab' }], bad: [[{}, 'arguments.subnet-id: is required']] },
  'reservation-add': {
    good: [{ reservation: { 'subnet-id': 'lab', 'ip-address': '198.18.0.9', 'hw-address': '02:00:00:00:00:01', hostname: 'p' } }, { reservation: { 'subnet-id': 3, 'ip-address': '198.18.0.9', 'client-id': '01020304' } }],
    bad: [
      [{}, 'arguments.reservation: is required'],
      [{ reservation: { 'subnet-id': 'lab', 'ip-address': '198.18.0.9' } }, 'arguments.reservation.hw-address: is required (or client-id)'],
      [{ reservation: { 'subnet-id': 'lab', 'ip-address': '198.18.0.9', 'hw-address': '02:00:00:00:00:01', 'client-id': '0102' } }, 'arguments.reservation: has both hw-address and client-id; give one'],
      [{ reservation: { 'ip-address': '198.18.0.9', 'hw-address': '02:00:00:00:00:01' } }, 'arguments.reservation.subnet-id: is required'],
      [{ reservation: { 'subnet-id': 'lab', 'ip-address': 9, 'hw-address': '02:00:00:00:00:01' } }, 'arguments.reservation.ip-address: must be an IPv4 address, got 9'],
    ],
  },
  'reservation-get': {
    good: [{ 'subnet-id': 'lab', 'ip-address': '198.18.0.9' }, { 'subnet-id': 'lab', 'identifier-type': 'client-id', identifier: '0102' }],
    bad: [
      [{ 'ip-address': '198.18.0.9' }, 'arguments.subnet-id: is required'],
      [{ 'subnet-id': 'lab' }, 'arguments.ip-address: is required (or identifier-type and identifier)'],
    ],
  },
  'reservation-get-all': { good: [{ 'subnet-id': 'lab' }], bad: [[{ 'subnet-id': '' }, 'arguments.subnet-id: must be a subnet id (a string, or an integer), got ""']] },
  'reservation-del': {
    good: [{ 'subnet-id': 'lab', 'identifier-type': 'hw-address', identifier: '02-00-00-00-00-01' }],
    bad: [[{ 'subnet-id': 'lab', 'identifier-type': 'client-id' }, 'arguments.identifier: is required']],
  },
};

test('every command has cases here', (t) => {
  t.deepEqual(Object.keys(CASES).sort(), Object.keys(COMMANDS).sort());
});

for (const [command, { good, bad }] of Object.entries(CASES) as Array<[CommandName, (typeof CASES)[CommandName]]>) {
  test(`${command}: its arguments are read, and each bad one is named`, (t) => {
    for (const args of good) t.true(readArguments(command, args as Record<string, unknown>).ok, JSON.stringify(args));
    for (const [args, text] of bad) {
      const r = readArguments(command, args as Record<string, unknown>);
      t.false(r.ok, JSON.stringify(args));
      if (!r.ok) t.is(r.text.replace(/ \(did you mean "[^"]*"\?\)/, ''), text);
    }
  });
}

test('arguments come out normalised: addresses canonical, identifiers in the store\'s form, integer subnet ids as text', (t) => {
  t.deepEqual(readArguments('reservation-add', { reservation: { 'subnet-id': 3, 'ip-address': '198.18.0.9', 'client-id': '01:02:AB' } }), {
    ok: true,
    args: { subnetId: '3', ip: '198.18.0.9', client: { type: 'client-id', clientId: '0102ab' } },
  });
  t.deepEqual(readArguments('lease4-get', { 'identifier-type': 'hw-address', identifier: '02-00-00-00-00-AA', 'subnet-id': 'lab' }), {
    ok: true,
    args: { by: 'client', client: { type: 'hw-address', hwAddress: '02:00:00:00:00:aa' }, subnetId: 'lab' },
  });
});

test('requests: JSON, a mapping, a string command, mapping arguments', (t) => {
  t.like(parseControlRequest('{"command":"status-get"}'), { ok: true, request: { command: 'status-get', arguments: {} } });
  t.like(parseControlRequest('{"command":"status-get","service":["dhcp4"]}'), { ok: true });
  const cases: Array<[string, RegExp]> = [
    ['not json', /^malformed JSON: /],
    ['[1]', /^the request must be a mapping, got a list$/],
    ['{}', /^command: is required$/],
    ['{"command": 7}', /^command: must be a non-empty string, got 7$/],
    ['{"command": "x", "arguments": [1]}', /^arguments: must be a mapping, got a list$/],
    ['{"command": "x", "argument": {}}', /^argument: unknown field "argument" \(did you mean "arguments"\?\)$/],
  ];
  for (const [body, text] of cases) {
    const r = parseControlRequest(body);
    t.false(r.ok, body);
    if (!r.ok) {
      t.is(r.response.result, 1);
      t.regex(r.response.text, text);
    }
  }
});

test('auth: bearer token and basic users, compared whole; files checked', (t) => {
  const token = parseTokenFile('0123456789abcdef-long\n', 't');
  t.true(authorized(token, 'Bearer 0123456789abcdef-long'));
  t.true(authorized(token, 'bearer 0123456789abcdef-long'));
  t.false(authorized(token, 'Bearer 0123456789abcdef-lon'));
  t.false(authorized(token, undefined));
  t.false(authorized(token, `Basic ${Buffer.from('a:0123456789abcdef-long').toString('base64')}`));
  const basic = parseBasicAuthFile('# operators\nalice:s3cret\nbob:pa:ss\n', 'u');
  t.true(authorized(basic, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`));
  t.true(authorized(basic, `Basic ${Buffer.from('bob:pa:ss').toString('base64')}`), 'a password may hold a colon');
  t.false(authorized(basic, `Basic ${Buffer.from('alice:wrong').toString('base64')}`));
  t.false(authorized(basic, `Basic ${Buffer.from('carol:s3cret').toString('base64')}`));
  t.throws(() => parseTokenFile('short\n', '/etc/t'), { message: 'control token file /etc/t: the token (its first line) must be at least 16 characters' });
  t.throws(() => parseBasicAuthFile('alice\n', '/etc/u'), { message: 'control basic-auth file /etc/u:1: want "user:password"' });
});

const GAUGES: ApplianceGauges = {
  subnets: [{ subnetId: 'lab', total: 100, assigned: 7, declined: 1 }],
  offersHeld: 2,
  ddns: { queued: 3, parked: 1, oldestAgeSeconds: 12.5 },
  config: { loadedAtSeconds: 1_700_000_001 },
};

function registry(): Counters {
  const c = new Counters();
  c.defineHistogram(HISTOGRAMS.storeCommitSeconds.name, COMMIT_SECONDS_BOUNDS);
  c.defineHistogram(HISTOGRAMS.storeGroupSize.name, GROUP_SIZE_BOUNDS);
  c.inc('packets_received', { interface: 'eth0', type: 'discover' }, 20);
  c.inc('packets_received', { interface: 'eth0', type: 'unparsable' }, 2);
  c.inc('replies_ack', { interface: 'eth0' }, 20);
  c.inc('replies_nak', { interface: 'eth0' });
  c.inc('packets_malformed', { interface: 'eth0' }, 2);
  c.inc('packets_dropped', { reason: 'malformed' }, 2);
  c.inc('packets_dropped', { reason: 'no_subnet' });
  c.inc('pool_exhausted', { subnet: 'lab' }, 4);
  c.inc('leases_reclaimed', { subnet: 'lab' }, 3);
  c.inc('rs_invalid_hop_limit', { interface: 'eth0' });
  c.inc('ra_sent_multicast', { interface: 'eth0' }, 5);
  c.inc('ddns_updates_sent', { zone: 'leasehold.test' }, 10);
  c.inc('ddns_updates_failed', { zone: 'leasehold.test', rcode: 'TIMEOUT' }, 2);
  c.inc('ddns_updates_failed', { zone: 'leasehold.test', rcode: 'SERVFAIL' });
  c.inc('something_new');
  c.observe('store_commit_seconds', 0.003);
  c.observe('store_commit_seconds', 0.2);
  c.observe('store_commit_group_size', 40);
  return c;
}

test('metric names and labels: the counters mapped to families, the gauges added, one family per name', (t) => {
  const c = registry();
  const families = metricFamilies(c.series(), c.histograms(), GAUGES);
  const find = (name: string) => families.find((f) => f.name === name);
  t.deepEqual(find('leasehold_dhcp4_packets_sent_total')?.samples, [
    { labels: { interface: 'eth0', type: 'ack' }, value: 20 },
    { labels: { interface: 'eth0', type: 'nak' }, value: 1 },
  ]);
  t.deepEqual(find('leasehold_ra_rs_invalid_total')?.samples, [{ labels: { interface: 'eth0', reason: 'hop_limit' }, value: 1 }]);
  t.deepEqual(find('leasehold_ra_sent_total')?.samples, [{ labels: { interface: 'eth0', type: 'multicast' }, value: 5 }]);
  t.is(find('leasehold_something_new_total')?.type, 'counter', 'a counter no rule names is still shown');
  t.deepEqual(find('leasehold_dhcp4_subnet_assigned_addresses')?.samples, [{ labels: { subnet: 'lab' }, value: 7 }]);
  t.is(find('leasehold_ddns_queue_oldest_age_seconds')?.samples[0].value, 12.5);
  t.is(find('leasehold_store_commit_duration_seconds')?.type, 'histogram');
  for (const f of families) {
    t.regex(f.name, /^leasehold_[a-z0-9_]+$/, f.name);
    t.is(f.type === 'counter', f.name.endsWith('_total'), `${f.name}: counters and only counters end in _total`);
  }
  t.deepEqual(families.map((f) => f.name), [...families.map((f) => f.name)].sort());
});

test('two registry counters on one series are summed into one sample: the receive guard\'s `dropped` and `packets_dropped`', (t) => {
  const c = new Counters();
  c.inc('packets_dropped', { reason: 'malformed' }, 2);
  c.inc('dropped', { reason: 'malformed' }, 3);
  c.inc('dropped', { reason: 'rate_limit', scope: 'client' }, 4);
  const dropped = metricFamilies(c.series(), c.histograms(), GAUGES).find((f) => f.name === 'leasehold_dhcp4_packets_dropped_total');
  t.deepEqual(dropped?.samples, [
    { labels: { reason: 'malformed' }, value: 5 },
    { labels: { reason: 'rate_limit', scope: 'client' }, value: 4 },
  ]);
});

test('the Prometheus text: HELP and TYPE per family, escaped labels, cumulative buckets to +Inf', (t) => {
  const c = registry();
  c.inc('control_requests', { command: 'x"y\\z', result: '1' });
  const text = formatPrometheus(metricFamilies(c.series(), c.histograms(), GAUGES));
  t.regex(text, /^# HELP leasehold_dhcp4_packets_sent_total DHCPv4 replies sent, by interface and message type\.\n# TYPE leasehold_dhcp4_packets_sent_total counter\nleasehold_dhcp4_packets_sent_total\{interface="eth0",type="ack"\} 20$/m);
  t.regex(text, /^leasehold_control_requests_total\{command="x\\"y\\\\z",result="1"\} 1$/m);
  t.regex(text, /^leasehold_store_commit_duration_seconds_bucket\{le="0.0025"\} 0\nleasehold_store_commit_duration_seconds_bucket\{le="0.005"\} 1$/m);
  t.regex(text, /^leasehold_store_commit_duration_seconds_bucket\{le="\+Inf"\} 2\nleasehold_store_commit_duration_seconds_sum 0.203\nleasehold_store_commit_duration_seconds_count 2$/m);
  t.regex(text, /^leasehold_ddns_queue_depth 3$/m);
  t.true(text.endsWith('\n'));
});

test('statistic-get-all: Kea\'s names, from the same families', (t) => {
  const c = registry();
  const stats = keaStatistics(metricFamilies(c.series(), c.histograms(), GAUGES), new Date(2024, 0, 2, 3, 4, 5, 6));
  const value = (name: string) => stats[name]?.[0][0];
  t.is(value('pkt4-received'), 22);
  t.is(value('pkt4-discover-received'), 20);
  t.is(value('pkt4-unknown-received'), 2);
  t.is(value('pkt4-ack-sent'), 20);
  t.is(value('pkt4-nak-sent'), 1);
  t.is(value('pkt4-sent'), 21);
  t.is(value('pkt4-parse-failed'), 2);
  t.is(value('pkt4-receive-drop'), 3);
  t.is(value('subnet[lab].total-addresses'), 100);
  t.is(value('subnet[lab].assigned-addresses'), 7);
  t.is(value('subnet[lab].declined-addresses'), 1);
  t.is(value('declined-addresses'), 1);
  t.is(value('subnet[lab].reclaimed-leases'), 3);
  t.is(value('subnet[lab].v4-allocation-fail'), 4);
  t.is(value('v4-allocation-fail'), 4);
  t.is(value('update-sent'), 10);
  t.is(value('update-timeout'), 2);
  t.is(value('update-error'), 1);
  t.is(value('update-success'), 7);
  t.is(stats['pkt4-received'][0][1], '2024-01-02 03:04:05.006000');
});

test('histograms of the registry: declared once, same bounds, an undeclared one is an error', (t) => {
  const c = new Counters();
  c.defineHistogram('h', [1, 2]);
  c.defineHistogram('h', [1, 2]);
  t.throws(() => c.defineHistogram('h', [1, 3]), { message: /other bounds/ });
  t.throws(() => c.defineHistogram('g', [2, 1]), { message: /ascend/ });
  t.throws(() => c.observe('nope', 1), { message: /not defined/ });
  c.observe('h', 1.5, { kind: 'a' });
  c.observe('h', 5, { kind: 'a' });
  t.deepEqual(c.histograms(), [{ name: 'h', labels: { kind: 'a' }, bounds: [1, 2], cumulative: [0, 1], sum: 6.5, count: 2 }]);
});

test('the hot paths\' counters (guard, sockets, DDNS batching, store commits) each land in one leasehold_ family, none under a fallback name', (t) => {
  const c = new Counters();
  c.inc('requests_dropped', { reason: 'stale' }, 2);
  c.inc('dropped', { reason: 'rate_limit', scope: 'global' });
  c.inc('replies_dropped', { reason: 'overflow' }, 3);
  c.inc('offer_holds_evicted', { subnet: 'lab', reason: 'subnet_cap' });
  c.inc('pool_exhausted', { subnet: 'lab' }, 4);
  c.inc('ddns_updates_sent', { zone: 'leasehold.test' }, 5);
  c.inc('ddns_updates_failed', { zone: 'leasehold.test', rcode: 'SERVFAIL' });
  c.inc('ddns_update_splits', { zone: 'leasehold.test' });
  c.inc('ddns_changes_coalesced', {}, 6);
  c.inc('store_commits', {}, 7);
  c.inc('store_commit_failures', {}, 8);
  const families = metricFamilies(c.series(), c.histograms(), GAUGES);
  const samples = (name: string) => families.find((f) => f.name === name)?.samples;
  t.deepEqual(samples('leasehold_dhcp4_packets_dropped_total'), [
    { labels: { reason: 'rate_limit', scope: 'global' }, value: 1 },
    { labels: { reason: 'stale' }, value: 2 },
  ]);
  t.deepEqual(samples('leasehold_dhcp4_replies_dropped_total'), [{ labels: { reason: 'overflow' }, value: 3 }]);
  t.deepEqual(samples('leasehold_dhcp4_offer_holds_evicted_total'), [{ labels: { subnet: 'lab', reason: 'subnet_cap' }, value: 1 }]);
  t.deepEqual(samples('leasehold_dhcp4_allocation_failures_total'), [{ labels: { subnet: 'lab' }, value: 4 }]);
  t.deepEqual(samples('leasehold_ddns_updates_sent_total'), [{ labels: { zone: 'leasehold.test' }, value: 5 }]);
  t.deepEqual(samples('leasehold_ddns_updates_failed_total'), [{ labels: { zone: 'leasehold.test', rcode: 'SERVFAIL' }, value: 1 }]);
  t.deepEqual(samples('leasehold_ddns_update_splits_total'), [{ labels: { zone: 'leasehold.test' }, value: 1 }]);
  t.deepEqual(samples('leasehold_ddns_changes_coalesced_total'), [{ labels: {}, value: 6 }]);
  t.deepEqual(samples('leasehold_store_commits_total'), [{ labels: {}, value: 7 }]);
  t.deepEqual(samples('leasehold_store_commit_failures_total'), [{ labels: {}, value: 8 }]);
  // Where the rule's family differs from the fallback's name: not shown twice.
  const fallbacks = ['requests_dropped', 'replies_dropped', 'offer_holds_evicted', 'pool_exhausted'];
  for (const name of fallbacks) t.is(samples(`leasehold_${name}_total`), undefined, `${name} has a rule, not the fallback family`);
});
