// The control API and the metrics of a real server, run through its CLI in
// a namespace, with real udhcpc clients and a real BIND: what the API and
// /metrics report is what the clients did, lease4-del withdraws the names
// from DNS, reservations made through the API are served and survive a
// restart, HTTP off loopback authenticates, and a reload keeps the leases.
import test, { type ExecutionContext } from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expectDns, reverseV4, startBind } from '../harness/bind.ts';
import { startUdhcpc } from '../harness/clients.ts';
import { commandIn, httpIn, seriesValue } from '../harness/control-http.ts';
import { cliLeases, DDNS_DNS_IP, DDNS_SERVER_IP, SERVER_CLI, startCliServer, writeDdnsLabConfig, type DdnsLabConfig } from '../harness/ddns-lab.ts';
import { sweepAround, useSegment } from '../harness/fixture.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { execIn, type Host, type Segment } from '../harness/netns.ts';
import { pollUntil } from '../harness/poll.ts';
import { REPO_ROOT } from '../harness/run-command.ts';
import { runPerfdhcp } from '../bench/dora.ts';

const PREFIX = 'lt-op';
sweepAround(test, PREFIX);

const TOKEN = 'lab-token-0123456789abcdef';
const API = `http://${DDNS_SERVER_IP}:8000`;
/** A key BIND does not know: for the tests without BIND, whose DNS changes only wait in the queue. */
const UNUSED_KEY = { name: 'unused', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 1).toString('base64') };

interface Lab {
  segment: Segment;
  srv: Host;
  /** A namespace on the segment that is not the server's: the operator's side of HTTP. */
  ops: Host;
  configPath: string;
  config: DdnsLabConfig;
}

async function lab(t: ExecutionContext, overrides: Partial<DdnsLabConfig> = {}, zones?: DdnsLabConfig['zones']): Promise<Lab> {
  const segment = await useSegment(t, PREFIX);
  const srv = await segment.addHost('srv', { ipv4: `${DDNS_SERVER_IP}/16` });
  const ops = await segment.addHost('dns', { ipv4: `${DDNS_DNS_IP}/16` });
  const tokenFile = join(segment.tmpDir, 'control.token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const configPath = join(segment.tmpDir, 'leasehold.json');
  const config: DdnsLabConfig = {
    storePath: join(segment.tmpDir, 'leases.db'),
    zones: zones ?? [{ name: 'leasehold.test', key: UNUSED_KEY }],
    control: { http: { address: DDNS_SERVER_IP, port: 8000, tokenFile } },
    ...overrides,
  };
  await writeDdnsLabConfig(configPath, config);
  return { segment, srv, ops, configPath, config };
}

/** A CLI subcommand beside the server; its stdout, or the error naming its stderr. */
async function cli(l: Lab, args: readonly string[]): Promise<string> {
  const { stdout } = await execIn(l.srv.netns, [...SERVER_CLI, ...args, '--config', l.configPath], { cwd: REPO_ROOT });
  return stdout;
}

async function metrics(l: Lab): Promise<string> {
  const answer = await httpIn(l.ops.netns, `${API}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}: ${answer.body}`);
  return answer.body;
}

test('a lease udhcpc got: lease4-get finds it, /metrics counts it, lease4-del ends it and withdraws its A and PTR from BIND', async (t) => {
  const segment = await useSegment(t, PREFIX);
  const dnsHost = await segment.addHost('dns', { ipv4: `${DDNS_DNS_IP}/16` });
  const srv = await segment.addHost('srv', { ipv4: `${DDNS_SERVER_IP}/16` });
  const bind = await startBind(dnsHost);
  const key = { name: bind.key.name, algorithm: bind.key.algorithm, secretFile: join(bind.dir, 'keys.conf') };
  const tokenFile = join(segment.tmpDir, 'control.token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const configPath = join(segment.tmpDir, 'leasehold.json');
  const config: DdnsLabConfig = {
    storePath: join(segment.tmpDir, 'leases.db'),
    zones: bind.zones.map((z) => ({ name: z.name, key })),
    control: { http: { address: DDNS_SERVER_IP, port: 8000, tokenFile } },
  };
  await writeDdnsLabConfig(configPath, config);
  const l: Lab = { segment, srv, ops: dnsHost, configPath, config };
  const server = await startCliServer(srv, configPath);

  const health = await httpIn(dnsHost.netns, `${API}/healthz`);
  t.is(health.status, 200, health.body);

  const client = await startUdhcpc(await segment.addHost('c1'), { hostname: 'apiweb' });
  const bound = await client.waitFor('bound');
  const fqdn = 'apiweb.lab.leasehold.test';
  await expectDns(t, bind, fqdn, 'A', [bound.ip]);

  const got = await commandIn(dnsHost.netns, API, TOKEN, 'lease4-get', { 'ip-address': bound.ip });
  t.is(got.json.result, 0, got.json.text);
  t.like(got.json.arguments, { 'ip-address': bound.ip, hostname: 'apiweb', 'subnet-id': 'lab', 'state-name': 'bound', fqdn });
  const byMac = await commandIn(dnsHost.netns, API, TOKEN, 'lease4-get', { 'identifier-type': 'hw-address', identifier: client.host.mac, 'subnet-id': 'lab' });
  t.is(byMac.json.arguments?.['ip-address'], bound.ip);

  const text = await metrics(l);
  t.is(seriesValue(text, 'leasehold_dhcp4_packets_sent_total', { type: 'ack' }), 1);
  t.is(seriesValue(text, 'leasehold_dhcp4_packets_sent_total', { type: 'offer' }), 1);
  t.is(seriesValue(text, 'leasehold_dhcp4_packets_received_total', { type: 'discover' }), 1);
  t.is(seriesValue(text, 'leasehold_dhcp4_subnet_assigned_addresses', { subnet: 'lab' }), 1);
  t.is(seriesValue(text, 'leasehold_dhcp4_subnet_addresses', { subnet: 'lab' }), 191);
  t.truthy(seriesValue(text, 'leasehold_store_commit_duration_seconds_count'), 'the commits were timed');
  await pollUntil('the DDNS queue to drain', async () => seriesValue(await metrics(l), 'leasehold_ddns_queue_depth') === 0, { timeoutMs: 10_000 });

  // A wrong token changes nothing.
  const refused = await commandIn(dnsHost.netns, API, 'not-the-token-at-all', 'lease4-del', { 'ip-address': bound.ip });
  t.is(refused.status, 401);
  t.is((await commandIn(dnsHost.netns, API, undefined, 'lease4-get', { 'ip-address': bound.ip })).status, 401);
  t.is((await httpIn(dnsHost.netns, `${API}/metrics`)).status, 401, '/metrics also needs the token off loopback');
  t.is((await commandIn(dnsHost.netns, API, TOKEN, 'lease4-get', { 'ip-address': bound.ip })).json.result, 0, 'still there');

  // `leases` asks the running server; `lease del` goes through the API.
  t.deepEqual((await cliLeases(srv, configPath)).map((x) => [x.ip, x.state]), [[bound.ip, 'bound']]);
  t.regex(await cli(l, ['lease', 'del', bound.ip]), /IPv4 lease deleted/);
  await expectDns(t, bind, fqdn, 'A', []);
  await expectDns(t, bind, reverseV4(bound.ip), 'PTR', []);
  await expectDns(t, bind, fqdn, 'DHCID', []);
  const gone = await commandIn(dnsHost.netns, API, TOKEN, 'lease4-get', { 'ip-address': bound.ip });
  t.is(gone.json.result, 3, gone.json.text);
  t.is(seriesValue(await metrics(l), 'leasehold_dhcp4_subnet_assigned_addresses', { subnet: 'lab' }), 0);
  t.regex(server.output, /"event":"control-listening"/);
});

test('20 DORAs are 20 ACKs sent, 20 requests received and 20 assigned, in /metrics and in `stats`; a RELEASE brings assigned down', async (t) => {
  const l = await lab(t);
  await startCliServer(l.srv, l.configPath);
  const hosts = await l.segment.addHosts(Array.from({ length: 20 }, (_, i) => ({ name: `h${i}` })));
  const clients = await mapLimit(hosts, 10, async (host) => {
    const client = await startUdhcpc(host, { discoverTries: 5 });
    await client.waitFor('bound', 30_000);
    return client;
  });
  const text = await metrics(l);
  t.is(seriesValue(text, 'leasehold_dhcp4_packets_sent_total', { type: 'ack' }), 20);
  t.is(seriesValue(text, 'leasehold_dhcp4_packets_received_total', { type: 'request' }), 20);
  t.is(seriesValue(text, 'leasehold_dhcp4_subnet_assigned_addresses', { subnet: 'lab' }), 20);
  t.regex(text, /^# TYPE leasehold_dhcp4_packets_sent_total counter$/m);

  clients[0].release();
  await pollUntil('assigned to drop to 19', async () => seriesValue(await metrics(l), 'leasehold_dhcp4_subnet_assigned_addresses', { subnet: 'lab' }) === 19, { timeoutMs: 10_000 });
  const stats = JSON.parse(await cli(l, ['stats', '--json'])) as { result: number; arguments: Record<string, Array<[number, string]>> };
  t.is(stats.result, 0);
  t.is(stats.arguments['pkt4-ack-sent'][0][0], 20);
  t.is(stats.arguments['pkt4-release-received'][0][0], 1);
  t.is(stats.arguments['subnet[lab].assigned-addresses'][0][0], 19);
  t.is(stats.arguments['subnet[lab].total-addresses'][0][0], 191);
});

test('a reservation added through the CLI is what udhcpc gets, survives a restart, and a conflicting one is refused', async (t) => {
  const l = await lab(t);
  let server = await startCliServer(l.srv, l.configPath);
  const host = await l.segment.addHost('c1');
  const reserved = '198.18.1.150';
  t.regex(await cli(l, ['reservation', 'add', '--subnet', 'lab', '--ip', reserved, '--hw-address', host.mac, '--hostname', 'fixed']), /Host added/);
  // The same address for another MAC: refused, saying whose it is.
  const clash = await execIn(l.srv.netns, [...SERVER_CLI, 'reservation', 'add', '--subnet', 'lab', '--ip', reserved, '--hw-address', '02:00:00:00:00:99', '--config', l.configPath], { cwd: REPO_ROOT }).then(
    () => undefined,
    (err: Error) => err.message,
  );
  t.regex(clash ?? 'it succeeded', /reservation not added: .*198\.18\.1\.150/);

  const bound = await (await startUdhcpc(host)).waitFor('bound');
  t.is(bound.ip, reserved);

  server.signal('SIGTERM');
  await server.exited;
  server = await startCliServer(l.srv, l.configPath);
  const list = JSON.parse(await cli(l, ['reservation', 'list', '--subnet', 'lab', '--json'])) as { arguments: { hosts: Array<Record<string, unknown>> } };
  t.like(list.arguments.hosts, [{ 'ip-address': reserved, 'hw-address': host.mac, hostname: 'fixed' }]);
  t.regex(await cli(l, ['reservation', 'del', '--subnet', 'lab', '--ip', reserved]), /Host deleted/);
  const after = JSON.parse(await cli(l, ['reservation', 'list', '--subnet', 'lab', '--json'])) as { result: number; arguments: { hosts: unknown[] } };
  t.is(after.result, 3, 'no host left');
  t.deepEqual(after.arguments.hosts, []);
  t.regex(await cli(l, ['reservation', 'list', '--subnet', 'lab']), /0 reservation\(s\)/);
  t.truthy(server.running);
});

test('HTTP off loopback without a token file: the server refuses to start, naming the field', async (t) => {
  const l = await lab(t, { control: { http: { address: DDNS_SERVER_IP, port: 8000 } } });
  const child = l.segment.spawnIn(l.srv.netns, [...SERVER_CLI, '--config', l.configPath], { cwd: REPO_ROOT });
  const status = await child.exited;
  t.not(status.code, 0);
  t.regex(child.output, /control\.http\.address.*not loopback.*tokenFile/);
});

test('reload: an invalid file keeps the running configuration and says why; a valid one grows the pool; no lease is lost', async (t) => {
  const l = await lab(t, { pool: { start: '198.18.1.10', end: '198.18.1.12' } });
  const server = await startCliServer(l.srv, l.configPath);
  const hosts = await l.segment.addHosts([{ name: 'c1' }, { name: 'c2' }, { name: 'c3' }, { name: 'c4' }]);
  const first = await Promise.all(hosts.slice(0, 3).map(async (h) => (await startUdhcpc(h)).waitFor('bound')));
  const leasesBefore = (await cliLeases(l.srv, l.configPath)).map((x) => x.ip).sort();
  t.is(leasesBefore.length, 3);

  // An invalid file, by SIGHUP: refused, the log names the field.
  await writeDdnsLabConfig(l.configPath, { ...l.config, pool: { start: '198.18.1.10', end: '198.18.0.300' } });
  server.signal('SIGHUP');
  await server.waitForOutput(/"event":"config-reload-failed".*subnets\[0\]\.pools\[0\]\.end/, 10_000);
  // The same by config-reload; `reload` checks the file itself first and sends nothing.
  const invalid = await commandIn(l.ops.netns, API, TOKEN, 'config-reload');
  t.is(invalid.json.result, 1);
  t.regex(invalid.json.text, /configuration not reloaded, the running one stays: .*pools\[0\]\.end/);
  const byCli = await cli(l, ['reload']).then(() => 'it succeeded', (err: Error) => err.message);
  t.regex(byCli, /subnets\[0\]\.pools\[0\]\.end: must be an IPv4 address/);

  // The fourth client finds the pool full, then the valid, grown one lets it in.
  const fourth = await startUdhcpc(hosts[3], { discoverTries: 30 });
  await pollUntil('the full pool to be counted', async () => (seriesValue(await metrics(l), 'leasehold_dhcp4_allocation_failures_total', { subnet: 'lab' }) ?? 0) >= 1, { timeoutMs: 10_000 });
  await writeDdnsLabConfig(l.configPath, { ...l.config, pool: { start: '198.18.1.10', end: '198.18.1.20' } });
  t.regex(await cli(l, ['reload']), /Configuration successful/);
  const bound = await fourth.waitFor('bound', 40_000);
  t.truthy(bound.ip);
  const after = (await cliLeases(l.srv, l.configPath)).filter((x) => x.state === 'bound').map((x) => x.ip).sort();
  t.deepEqual(after.filter((ip) => ip !== bound.ip), leasesBefore, 'the three leases are still there');
  t.deepEqual(first.map((b) => b.ip).sort(), leasesBefore);
  const text = await metrics(l);
  t.is(seriesValue(text, 'leasehold_config_reloads_total', { outcome: 'applied' }), 1);
  t.is(seriesValue(text, 'leasehold_config_reloads_total', { outcome: 'invalid' }), 2);
  t.is(seriesValue(text, 'leasehold_dhcp4_subnet_addresses', { subnet: 'lab' }), 11);
  t.truthy((seriesValue(text, 'leasehold_dhcp4_allocation_failures_total', { subnet: 'lab' }) ?? 0) >= 1, 'the full pool was counted');
});

test('reload under perfdhcp load: a valid file (pool grown) and an invalid one lose no lease and stall no exchange', async (t) => {
  const l = await lab(t, { pool: { start: '198.18.1.10', end: '198.18.4.250' } });
  const server = await startCliServer(l.srv, l.configPath);
  const leases = async () => {
    const answer = await commandIn(l.ops.netns, API, TOKEN, 'lease4-get-all');
    return new Map(((answer.json.arguments?.leases ?? []) as Array<Record<string, unknown>>).map((x) => [x['ip-address'] as string, x]));
  };
  // perfdhcp relays from the operator's namespace (giaddr 198.18.0.2, in the subnet): 50 DORAs a second for 8 s.
  const load = runPerfdhcp(l.ops.netns, 50, 8, { clients: 400 });
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const beforeValid = await leases();
  await writeDdnsLabConfig(l.configPath, { ...l.config, pool: { start: '198.18.1.10', end: '198.18.8.250' } });
  server.signal('SIGHUP');
  await server.waitForOutput(/"event":"config-reloaded"/, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const beforeInvalid = await leases();
  await writeDdnsLabConfig(l.configPath, { ...l.config, pool: { start: '198.18.1.10', end: 'not-an-address' } });
  server.signal('SIGHUP');
  await server.waitForOutput(/"event":"config-reload-failed".*pools\[0\]\.end/, 10_000);
  const perf = await load;
  const after = await leases();

  t.true(beforeValid.size > 0 && beforeInvalid.size > beforeValid.size, `the load went on: ${beforeValid.size} then ${beforeInvalid.size} leases`);
  for (const [ip, lease] of [...beforeValid, ...beforeInvalid]) {
    t.like(after.get(ip), { 'hw-address': lease['hw-address'], 'state-name': 'bound' }, `${ip} is still leased to its client`);
  }
  t.true(perf.raStats.received > 0);
  t.true(perf.raStats.drops <= perf.raStats.sent * 0.02, `REQUEST-ACK: ${perf.raStats.drops} of ${perf.raStats.sent} dropped`);
  const text = await metrics(l);
  t.is(seriesValue(text, 'leasehold_dhcp4_subnet_addresses', { subnet: 'lab' }), 246 + 6 * 256 + 251, 'the grown pool is served, the invalid file did not apply');
  t.is(seriesValue(text, 'leasehold_config_reloads_total', { outcome: 'applied' }), 1);
  t.is(seriesValue(text, 'leasehold_config_reloads_total', { outcome: 'invalid' }), 1);
});
