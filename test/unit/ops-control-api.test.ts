// The control API and /metrics on a whole appliance without root: the
// DHCPv4 sockets replaced by a transport the test feeds datagrams into,
// the lease store in memory, the control socket (a real unix socket) and
// HTTP on loopback in a temp dir. Each command's result codes and texts,
// auth refusals, oversized bodies, reload, and counters that match what
// the clients did.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ManualClock } from '../../lib/core/clock.ts';
import { silentLogger } from '../../lib/core/logger.ts';
import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4Message as Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType as T, Opt } from '../../lib/dhcp4/option-defs.ts';
import { buildAppliance, type Appliance, type ApplianceOptions } from '../../server/app/appliance.ts';
import { sendCommand } from '../../server/cli/control-client.ts';
import type { ServerConfig } from '../../server/config/config.ts';
import { ConfigError } from '../../server/config/config-error.ts';
import { validateConfig } from '../../server/config/validate.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import type { HeartbeatRow, ServerRegistry } from '../../server/leases/pg/pg-server-registry.ts';
import type { TransportHandlers } from '../../server/net/dhcp4-transport.ts';
import type { ControlResponse } from '../../server/ops/control-protocol.ts';
import { clientRequest, testMac } from './helpers/dhcp4-requests.ts';

const SERVER = '198.18.0.1';
const TOKEN = 'a-token-of-enough-length-0123';

function rawConfig(dir: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    interfaces: [{ name: 'lo', address: SERVER }],
    subnets: [
      {
        id: 'lab',
        subnet: '198.18.0.0/16',
        interface: 'lo',
        pools: [{ start: '198.18.1.10', end: '198.18.1.200' }],
        leaseTime: 600,
        options: { routers: [SERVER] },
        reservations: [{ hwAddress: '02:00:00:00:0f:01', ip: '198.18.0.50' }],
      },
    ],
    leaseStore: { path: join(dir, 'leases.db') },
    control: { http: { address: '127.0.0.1', port: 8000, tokenFile: join(dir, 'token') } },
    ...over,
  };
}

interface Rig {
  appliance: Appliance;
  store: MemoryLeaseStore;
  clock: ManualClock;
  socket: string;
  dir: string;
  /** The next configuration `config-reload` reads (raw, validated at the reload). */
  nextConfig: Record<string, unknown>;
  command(command: string, args?: object): Promise<ControlResponse>;
  /** One client's datagram in; the reply the server sent, if any. */
  exchange(req: Dhcp4Message): Promise<Dhcp4Message | undefined>;
  dora(mac: string): Promise<Dhcp4Message>;
  http(method: string, path: string, opts?: { body?: string | Buffer; auth?: string }): Promise<{ status: number; body: string }>;
  failStore: { on: boolean };
}

async function rig(t: ExecutionContext, over: Record<string, unknown> = {}, seams: Pick<ApplianceOptions, 'openServerRegistry'> = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'lt-ops-'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const clock = new ManualClock(Date.now());
  const failStore = { on: false };
  let store!: MemoryLeaseStore;
  let handlers!: TransportHandlers;
  const replies: Dhcp4Message[] = [];
  const config: ServerConfig = validateConfig(rawConfig(dir, over));
  const r: Partial<Rig> = { dir, clock, failStore, socket: join(dir, 'control.sock'), nextConfig: rawConfig(dir, over) };
  const appliance = buildAppliance(config, {
    logger: silentLogger,
    clock,
    openStore: (observer) => (store = new MemoryLeaseStore([], { observer, failWith: () => (failStore.on ? new Error('disk full') : undefined) })),
    openTransport: async (_links, _port, h) => {
      handlers = h;
      return {
        kind: 'dgram',
        linkLayerSends: false,
        send: (_iface, data) => {
          replies.push(Message.decode(data));
        },
        close: async () => {},
      };
    },
    loadConfig: () => {
      try {
        return validateConfig(r.nextConfig);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw err;
      }
    },
    ops: { httpPort: 0 },
    ...seams,
  });
  await appliance.start();
  t.teardown(async () => {
    await appliance.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const exchange = async (req: Dhcp4Message) => {
    const before = replies.length;
    handlers.onDatagram({ data: req.encode(), interfaceName: 'lo', from: { address: '0.0.0.0', port: 68 }, receivedAt: performance.now() });
    for (let i = 0; i < 200 && replies.length === before; i++) await new Promise((res) => setTimeout(res, 2));
    await new Promise((res) => setTimeout(res, 5));
    return replies.length > before ? replies[replies.length - 1] : undefined;
  };
  const port = appliance.ops!.httpAddress!.port;
  return Object.assign(r, {
    appliance,
    store,
    command: async (command: string, args?: object) => (await sendCommand(r.socket!, command, args))!,
    exchange,
    dora: async (mac: string) => {
      const offer = (await exchange(clientRequest({ type: T.Discover, mac })))!;
      return (await exchange(clientRequest({ type: T.Request, mac, requestedIp: offer.yiaddr, serverId: SERVER })))!;
    },
    http: (method: string, path: string, opts: { body?: string | Buffer; auth?: string } = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path, headers: opts.auth ? { Authorization: opts.auth } : {} }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve({ status: -1, body: err.code }) : reject(err)));
        req.end(opts.body);
      }),
  }) as Rig;
}

const bearer = `Bearer ${TOKEN}`;

test('the control socket is mode 0600; list-commands names every command', async (t) => {
  const r = await rig(t);
  t.is(statSync(r.socket).mode & 0o777, 0o600);
  const answer = await r.command('list-commands');
  t.is(answer.result, 0);
  t.true((answer.arguments as string[]).includes('reservation-add'));
  t.is((answer.arguments as string[]).length, 17);
});

test('bad input: malformed JSON, unknown command (result 2, as Kea), bad arguments named', async (t) => {
  const r = await rig(t);
  const post = (body: string) => r.http('POST', '/', { body, auth: bearer });
  const malformed = await post('{"command": ');
  t.is(malformed.status, 400);
  t.like(JSON.parse(malformed.body), { result: 1 });
  t.regex(JSON.parse(malformed.body).text, /^malformed JSON/);
  t.deepEqual(JSON.parse((await post('{"command": "frobnicate"}')).body), { result: 2, text: "'frobnicate' command not supported." });
  t.deepEqual(JSON.parse((await post('{"comand": "list-commands"}')).body).result, 1);
  t.deepEqual(await r.command('lease4-get', {}), { result: 1, text: 'arguments.ip-address: is required (or identifier-type, identifier and subnet-id)' });
  t.deepEqual(await r.command('lease4-get', { 'ip-address': 5 }), { result: 1, text: 'arguments.ip-address: must be an IPv4 address, got 5' });
  t.deepEqual(await r.command('lease4-wipe', { subnet_id: 'lab' }), {
    result: 1,
    text: 'arguments.subnet_id: unknown field "subnet_id" (did you mean "subnet-id"?); arguments.subnet-id: is required',
  });
  t.is(r.appliance.counters.get('control_requests', { command: 'unknown', result: '2' }), 1);
});

test('HTTP: a missing or wrong token is 401 and changes nothing; /healthz is open; oversized bodies are refused', async (t) => {
  const r = await rig(t);
  const add = JSON.stringify({ command: 'reservation-add', arguments: { reservation: { 'subnet-id': 'lab', 'ip-address': '198.18.0.60', 'hw-address': '02:00:00:00:0f:02' } } });
  const none = await r.http('POST', '/', { body: add });
  const wrong = await r.http('POST', '/', { body: add, auth: 'Bearer not-the-token-at-all-000' });
  t.is(none.status, 401);
  t.is(wrong.status, 401);
  t.is((await r.http('GET', '/metrics')).status, 401);
  t.deepEqual(r.store.loadReservations(), [], 'nothing was added');
  t.is((await r.http('GET', '/healthz')).status, 200);
  const big = await r.http('POST', '/', { body: Buffer.alloc(2 << 20, 0x20), auth: bearer });
  t.true(big.status === 413 || big.status === -1, `status ${big.status}`);
  const ok = await r.http('POST', '/', { body: add, auth: bearer });
  t.is(JSON.parse(ok.body).text, 'Host added.');
  t.is(r.appliance.counters.get('control_refused', { status: '401' }), 3);
});

test('reservation-add: stored, served at once; conflicts refused with a clear text; del withdraws it', async (t) => {
  const r = await rig(t);
  const leased = await r.dora(testMac(1));
  const reserve = (ip: string, mac: string) => r.command('reservation-add', { reservation: { 'subnet-id': 'lab', 'ip-address': ip, 'hw-address': mac } });
  t.deepEqual(await reserve('198.18.0.70', '02:00:00:00:0f:03'), { result: 0, text: 'Host added.' });
  t.deepEqual(r.store.loadReservations(), [{ subnetId: 'lab', ip: '198.18.0.70', hwAddress: '02:00:00:00:0f:03' }]);
  const offer = await r.exchange(clientRequest({ type: T.Discover, mac: '02:00:00:00:0f:03' }));
  t.is(offer?.yiaddr, '198.18.0.70', 'the client is offered its reservation');

  t.regex((await reserve(leased.yiaddr, '02:00:00:00:0f:04')).text, new RegExp(`reservation not added: ${leased.yiaddr.replace(/\./g, '\\.')} is leased to another client \\(client-id|hw-address`));
  t.is((await reserve('198.18.0.50', '02:00:00:00:0f:05')).text, 'reservation not added: 198.18.0.50 is already reserved in subnet lab (198.18.0.0/16) for hw-address 02:00:00:00:0f:01');
  t.is((await reserve('198.18.0.71', '02:00:00:00:0f:03')).text, 'reservation not added: hw-address 02:00:00:00:0f:03 already has a reservation in subnet lab (198.18.0.0/16): 198.18.0.70');
  t.is((await reserve(SERVER, '02:00:00:00:0f:06')).text, "reservation not added: 198.18.0.1 is the server's own address");
  t.is((await reserve('198.19.0.1', '02:00:00:00:0f:06')).text, 'reservation not added: 198.19.0.1 is outside subnet lab (198.18.0.0/16)');
  t.is((await r.command('reservation-add', { reservation: { 'subnet-id': 'nope', 'ip-address': '198.18.0.9', 'client-id': '0102' } })).text, 'reservation not added: no subnet "nope" is configured');

  const got = await r.command('reservation-get', { 'subnet-id': 'lab', 'identifier-type': 'hw-address', identifier: '02:00:00:00:0f:03' });
  t.deepEqual(got.arguments, { 'subnet-id': 'lab', 'ip-address': '198.18.0.70', 'hw-address': '02:00:00:00:0f:03', hostname: '', source: 'api' });
  const all = await r.command('reservation-get-all', { 'subnet-id': 'lab' });
  t.deepEqual((all.arguments as { hosts: Array<{ source: string }> }).hosts.map((h) => h.source), ['config', 'api']);
  t.is((await r.command('reservation-del', { 'subnet-id': 'lab', 'ip-address': '198.18.0.50' })).result, 1, 'a config file reservation is not the API\'s to delete');
  t.deepEqual(await r.command('reservation-del', { 'subnet-id': 'lab', 'ip-address': '198.18.0.70' }), { result: 0, text: 'Host deleted.' });
  t.deepEqual(r.store.loadReservations(), []);
  t.is((await r.command('reservation-get', { 'subnet-id': 'lab', 'ip-address': '198.18.0.70' })).result, 3);
});

test('lease4-*: get by address, hw-address and client-id; all; pages; add, update, del and wipe', async (t) => {
  const r = await rig(t);
  const acks = [];
  for (let i = 1; i <= 3; i++) acks.push(await r.dora(testMac(i)));
  const [a] = acks;
  t.is((await r.command('lease4-get', { 'ip-address': a.yiaddr })).result, 0);
  const byHw = await r.command('lease4-get', { 'identifier-type': 'hw-address', identifier: testMac(1), 'subnet-id': 'lab' });
  t.like(byHw.arguments, { 'ip-address': a.yiaddr, 'hw-address': testMac(1), 'subnet-id': 'lab', state: 0, 'valid-lft': 600 });
  t.is((await r.command('lease4-get', { 'ip-address': '198.18.9.9' })).result, 3);

  const page1 = await r.command('lease4-get-page', { from: 'start', limit: 2 });
  const leases1 = (page1.arguments as { leases: Array<{ 'ip-address': string }>; count: number });
  t.is(leases1.count, 2);
  const page2 = await r.command('lease4-get-page', { from: leases1.leases[1]['ip-address'], limit: 2 });
  t.is((page2.arguments as { count: number }).count, 1);
  const page3 = await r.command('lease4-get-page', { from: acks.map((x) => x.yiaddr).sort().at(-1), limit: 2 });
  t.is(page3.result, 3);

  t.deepEqual(await r.command('lease4-add', { 'ip-address': '198.18.2.1', 'hw-address': '02:00:00:00:0e:01', 'client-id': '01:02:00:00:00:0e:01', 'valid-lft': 120 }), {
    result: 0, text: 'Lease for address 198.18.2.1, subnet-id lab added.',
  });
  const byId = await r.command('lease4-get', { 'identifier-type': 'client-id', identifier: '0102000000 0e01'.replace(' ', ''), 'subnet-id': 'lab' });
  t.like(byId.arguments, { 'ip-address': '198.18.2.1', 'client-id': '01:02:00:00:00:0e:01', 'valid-lft': 120 });
  t.regex((await r.command('lease4-add', { 'ip-address': '198.18.2.1', 'hw-address': '02:00:00:00:0e:02' })).text, /IPv4 lease already exists/);
  t.regex((await r.command('lease4-add', { 'ip-address': '198.18.0.50', 'hw-address': '02:00:00:00:0e:02' })).text, /reserved for another client/);
  t.is((await r.command('lease4-add', { 'ip-address': '10.0.0.1', 'hw-address': '02:00:00:00:0e:02' })).text, 'no configured subnet contains 10.0.0.1');
  t.is((await r.command('lease4-update', { 'ip-address': '198.18.2.1', 'hw-address': '02:00:00:00:0e:01', hostname: 'renamed' })).text, 'IPv4 lease updated.');
  t.is(r.store.loadAll().find((l) => l.ip === '198.18.2.1')?.hostname, 'renamed');
  t.is((await r.command('lease4-update', { 'ip-address': '198.18.2.9', 'hw-address': '02:00:00:00:0e:09' })).result, 1);

  t.deepEqual(await r.command('lease4-del', { 'ip-address': '198.18.2.1' }), { result: 0, text: 'IPv4 lease deleted.' });
  t.is((await r.command('lease4-del', { 'ip-address': '198.18.2.1' })).result, 3);
  t.false(r.store.loadAll().some((l) => l.ip === '198.18.2.1'));
  t.deepEqual(await r.command('lease4-wipe', { 'subnet-id': 'lab' }), { result: 0, text: 'Deleted 3 IPv4 lease(s) from subnet(s) lab' });
  t.is((await r.command('lease4-get-all')).result, 3);
  t.deepEqual(r.store.loadAll(), []);
});

test('counters match what the clients did: 20 DORAs are 20 ACKs, in /metrics and statistic-get-all; a RELEASE twice never goes negative', async (t) => {
  const r = await rig(t);
  const acks: Dhcp4Message[] = [];
  for (let i = 1; i <= 20; i++) acks.push(await r.dora(testMac(i)));
  t.true(acks.every((ack) => ack.options.get(Opt.MessageType) === T.Ack));
  const metrics = (await r.http('GET', '/metrics', { auth: bearer })).body;
  t.regex(metrics, /^leasehold_dhcp4_packets_sent_total\{interface="lo",type="ack"\} 20$/m);
  t.regex(metrics, /^leasehold_dhcp4_packets_sent_total\{interface="lo",type="offer"\} 20$/m);
  t.regex(metrics, /^leasehold_dhcp4_packets_received_total\{interface="lo",type="discover"\} 20$/m);
  t.regex(metrics, /^leasehold_dhcp4_subnet_assigned_addresses\{subnet="lab"\} 20$/m);
  t.regex(metrics, /^leasehold_dhcp4_subnet_addresses\{subnet="lab"\} 191$/m);
  t.regex(metrics, /^# TYPE leasehold_store_commit_duration_seconds histogram$/m);
  // The process's own, by prom-client's default collectors, once each.
  t.regex(metrics, /^process_resident_memory_bytes \d+$/m);
  t.regex(metrics, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
  const typeLines = metrics.split('\n').filter((l) => l.startsWith('# TYPE '));
  t.is(new Set(typeLines).size, typeLines.length, 'no family twice');
  t.regex(metrics, /^leasehold_store_commit_group_size_count \d+$/m);
  const stats = (await r.command('statistic-get-all')).arguments as Record<string, Array<[number, string]>>;
  t.is(stats['pkt4-ack-sent'][0][0], 20);
  t.is(stats['pkt4-discover-received'][0][0], 20);
  t.is(stats['subnet[lab].assigned-addresses'][0][0], 20);
  t.regex(stats['pkt4-ack-sent'][0][1], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);

  const release = () => r.exchange(clientRequest({ type: T.Release, mac: testMac(1), ciaddr: acks[0].yiaddr, serverId: SERVER }));
  await release();
  await release();
  const after = (await r.http('GET', '/metrics', { auth: bearer })).body;
  t.regex(after, /^leasehold_dhcp4_subnet_assigned_addresses\{subnet="lab"\} 19$/m);
  t.regex(after, /^leasehold_dhcp4_requests_unanswered_total\{reason="unknown_client"\} 1$/m, 'the second RELEASE is for an address no longer held');
});

test('/healthz turns 503 naming the store when its last commit failed, and 200 again once one succeeds', async (t) => {
  const r = await rig(t);
  r.failStore.on = true;
  await r.exchange(clientRequest({ type: T.Discover, mac: testMac(1) })).then(async (offer) => {
    await r.exchange(clientRequest({ type: T.Request, mac: testMac(1), requestedIp: offer!.yiaddr, serverId: SERVER }));
  });
  const sick = await r.http('GET', '/healthz');
  t.is(sick.status, 503);
  t.regex(sick.body, /store: the last commit failed: .*disk full/);
  r.failStore.on = false;
  await r.dora(testMac(2));
  t.is((await r.http('GET', '/healthz')).status, 200);
});

test('config-reload: a valid file applies (pool grown, subnet added, options changed); an invalid one keeps the running config naming the field', async (t) => {
  const r = await rig(t);
  const held = await r.dora(testMac(1));
  const subnets = r.nextConfig.subnets as Array<Record<string, unknown>>;
  r.nextConfig = {
    ...r.nextConfig,
    subnets: [
      { ...subnets[0], pools: [{ start: '198.18.1.10', end: '198.18.3.200' }], options: { routers: [SERVER], dnsServers: ['198.18.0.2'] } },
      { id: 'far', subnet: '198.19.0.0/24', pools: [{ start: '198.19.0.10', end: '198.19.0.20' }], leaseTime: 600 },
    ],
  };
  t.deepEqual(await r.command('config-test'), { result: 0, text: 'Configuration seems sane.' });
  t.deepEqual(await r.command('config-reload'), { result: 0, text: 'Configuration successful.' });
  t.is(r.appliance.config.subnets.length, 2);
  t.is(r.store.loadAll().find((l) => l.ip === held.yiaddr)?.state, 'bound', 'the lease is still there');
  const renewed = await r.exchange(clientRequest({ type: T.Request, mac: testMac(1), ciaddr: held.yiaddr }));
  t.deepEqual(renewed?.options.get(Opt.DomainServer), ['198.18.0.2'], 'the new options are served');

  r.nextConfig = { ...r.nextConfig, subnets: [{ ...subnets[0], leaseTime: 5 }] };
  const invalid = await r.command('config-reload');
  t.is(invalid.result, 1);
  t.is(invalid.text, 'configuration not reloaded, the running one stays: subnets[0].leaseTime: must be an integer from 10 to 4294967294, got 5');
  t.is(r.appliance.config.subnets.length, 2);

  r.nextConfig = { ...r.nextConfig, subnets: [subnets[0]], offerHoldSeconds: 5 };
  const restart = await r.command('config-reload');
  t.is(restart.text, 'configuration not reloaded, the running one stays: offerHoldSeconds: changed, and applies only at a restart (a reload changes subnets only)');
  t.is(r.appliance.counters.get('config_reloads', { outcome: 'invalid' }), 1);
  t.is(r.appliance.counters.get('config_reloads', { outcome: 'applied' }), 1);

  const inline = await r.command('config-test', { Leasehold: { interfaces: [] } });
  t.is(inline.result, 1);
  t.regex(inline.text, /interfaces: must list at least one item/);
});

test('config-get hides inline TSIG secrets; status-get reports the subnets and health', async (t) => {
  const r = await rig(t, {
    ddns: { enabled: false, zones: [{ name: 'leasehold.test', servers: [{ address: '198.18.0.2' }], key: { name: 'k', secret: 'c2VjcmV0c2VjcmV0' } }] },
  });
  const config = (await r.command('config-get')).arguments as { Leasehold: { ddns: { zones: Array<{ key: { secret: string } }> } } };
  t.is(config.Leasehold.ddns.zones[0].key.secret, '(hidden)');
  const status = (await r.command('status-get')).arguments as Record<string, unknown>;
  t.like(status, { healthy: true, pid: process.pid, leases: 0 });
  t.deepEqual(status.subnets, [{ 'subnet-id': 'lab', 'total-addresses': 191, 'assigned-addresses': 0, 'declined-addresses': 0 }]);
});

test('status-get with ha: every server on the shared database, the buckets each answers and how old its heartbeat is', async (t) => {
  // The `servers` table as the database would answer a heartbeat: us, a
  // live peer and one whose heartbeat is older than partnerDownAfterMs.
  const peers: HeartbeatRow[] = [
    { serverName: 'appliance-2', state: 'active', addresses: ['198.18.0.3'], ageMs: 800, serving: '' },
    { serverName: 'appliance-3', state: 'active', addresses: ['198.18.0.5'], ageMs: 60_000, serving: '' },
  ];
  const registry: ServerRegistry = {
    claim: async () => undefined,
    heartbeat: async (name, _incarnation, state) => ({ dbMs: Date.now(), rows: [{ serverName: name, state, addresses: [SERVER], ageMs: 0, serving: '' }, ...peers] }),
    close: async () => {},
  };
  const dir = mkdtempSync(join(tmpdir(), 'lt-ops-pw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'pw'), 'secret\n', { mode: 0o600 });
  const r = await rig(t, {
    subnets: [{ id: 'lab', subnet: '198.18.0.0/16', interface: 'lo', pools: [{ start: '198.18.1.10', end: '198.18.1.200' }], leaseTime: 600 }],
    leaseStore: { type: 'postgresql', host: '198.18.0.4', database: 'leasehold', user: 'leasehold', passwordFile: join(dir, 'pw'), shared: true },
    ha: { serverName: 'appliance-1' },
  }, { openServerRegistry: async () => registry });
  type Ha = { 'server-name': string; fenced: boolean; live: string[]; 'heartbeat-age-ms': number; servers: Array<Record<string, unknown>> };
  // Active once every service started: the next heartbeat reads the split with us in it.
  const ha = await pollHa(r, (h) => h.live.includes('appliance-1'));
  t.like(ha, { 'server-name': 'appliance-1', fenced: false, live: ['appliance-1', 'appliance-2'] });
  t.true(ha['heartbeat-age-ms'] >= 0 && ha['heartbeat-age-ms'] < 3000, `own heartbeat ${ha['heartbeat-age-ms']} ms ago`);
  t.deepEqual(ha.servers.map((s) => s['server-name']), ['appliance-1', 'appliance-2', 'appliance-3']);
  const [me, peer, dead] = ha.servers as Array<{ buckets: number; 'bucket-ranges': string; 'heartbeat-age-ms': number; state: string; addresses: string[] }>;
  t.is(me.buckets + peer.buckets, 256, 'the two live servers answer every bucket between them');
  t.true(me.buckets > 0 && peer.buckets > 0);
  t.like(dead, { buckets: 0, 'bucket-ranges': '', state: 'active', addresses: ['198.18.0.5'] });
  t.true(dead['heartbeat-age-ms'] >= 60_000, 'the dead one\'s age keeps growing from the database\'s figure');
  t.true(peer['heartbeat-age-ms'] >= 800);
  // The ranges name exactly the buckets counted.
  const count = (ranges: string) => ranges.split(',').reduce((n, r) => { const [a, b = a] = r.split('-').map(Number); return n + b - a + 1; }, 0);
  t.is(count(me['bucket-ranges']), me.buckets);
  t.is(count(peer['bucket-ranges']), peer.buckets);

  async function pollHa(rg: Rig, accept: (h: Ha) => boolean): Promise<Ha> {
    for (let i = 0; ; i++) {
      // Over HTTP: with a PostgreSQL store the control socket is not beside a lease file.
      const answer = await rg.http('POST', '/', { body: JSON.stringify({ command: 'status-get' }), auth: bearer });
      const h = (JSON.parse(answer.body) as { arguments: { ha: Ha } }).arguments.ha;
      if (accept(h) || i > 100) return h;
      await new Promise((res) => setTimeout(res, 20));
    }
  }
});

test('status-get without ha has no ha part', async (t) => {
  const r = await rig(t);
  t.false('ha' in ((await r.command('status-get')).arguments as object));
});
