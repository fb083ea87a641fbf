import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { loadBalanceHash } from '../../lib/dhcp4/load-balance-hash.ts';
import { STATIC_PRINTER_ADDRESS } from '../../lab/bind-config.ts';
import { sendCommand } from '../../server/cli/control-client.ts';
import { assignBuckets } from '../../server/cluster/membership.ts';
import type { BindServer } from './bind.ts';
import type { UdhcpcClient } from './clients.ts';
import type { ClientEvent } from './event-log.ts';
import { createSegment, execIn, type Host, type Segment } from './netns.ts';
import { pollUntil } from './poll.ts';
import type { PostgresCluster, TestDatabase } from './postgres.ts';
import { REPO_ROOT } from './run-command.ts';
import { CLI, cli } from './server-cli.ts';
import type { TrackedProcess } from './tracked-process.ts';

/**
 * What the high-availability tests share: two leasehold-server processes
 * named ha-1 and ha-2 on one PostgreSQL database, which of them owns a
 * client's RFC 3074 bucket, the lease table and the zone as the tests read
 * them, and the counters a server logs when it stops. startHaPair builds
 * the whole pair: real namespaces on one segment, PostgreSQL reached over
 * TCP at DB_ADDRESS (a relay in the database host's namespace to the
 * cluster's Unix socket), so a netfilter rule in one server's namespace
 * cuts that server off and nothing else (cutOffFromDatabase).
 */

export const HA_NAMES = ['ha-1', 'ha-2'] as const;
export type HaName = (typeof HA_NAMES)[number];
export const HA_SERVER_ADDRESSES = ['198.18.0.1', '198.18.0.3'] as const;
export const DB_ADDRESS = '198.18.0.4';
const SUBNET = { cidr: '198.18.0.0/22', start: '198.18.0.10', end: '198.18.2.250' };
/** Short timers so a failover is seconds (the README recommends 3600/1800/2700). */
export const HA_TIMERS = { heartbeatIntervalMs: 300, fenceAfterMs: 1000, partnerDownAfterMs: 1600 };

const OWNERS = assignBuckets([...HA_NAMES]);

/** The server owning the bucket of an RFC 3074 key (option 61's payload, else chaddr) while both are live. */
export function ownerOfKey(key: Buffer): HaName {
  return HA_NAMES[OWNERS[loadBalanceHash(key)]];
}

/** The owner of a udhcpc client's bucket (udhcpc sends option 61 = 01 + MAC). */
export function ownerOfMac(mac: string): HaName {
  return ownerOfKey(Buffer.from(`01${mac.replaceAll(':', '')}`, 'hex'));
}

/** The owner of a lease row's client: its client id, else its hardware address (a client sending no option 61). */
export function ownerOfRow(row: { client_id: string | null; hw_address: string }): HaName {
  return ownerOfKey(Buffer.from(row.client_id ?? row.hw_address.replaceAll(':', ''), 'hex'));
}

/** `count` locally administered MACs whose udhcpc client's bucket is `owner`'s; `tag` keeps sets apart. */
export function macsOwnedBy(owner: HaName, count: number, tag: number): string[] {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const mac = `02:4c:${hex(tag)}:${hex((i >> 8) & 0xff)}:${hex(i & 0xff)}:01`;
    if (ownerOfMac(mac) === owner) out.push(mac);
  }
  return out;
}

/** Waits until `server` logs (after output offset `from`) that its live set is `names` (it logs the set each time it changes). */
export async function waitForLiveSet(server: TrackedProcess, names: readonly string[], timeoutMs: number, from = 0): Promise<void> {
  const live = JSON.stringify(names).replaceAll('[', '\\[').replaceAll(']', '\\]');
  await server.waitForOutput(new RegExp(`"event":"ha-membership".*"live":${live}`), timeoutMs, from);
}

/**
 * Starts `leasehold-server --config configs[i]` in `hosts[i]`'s namespace for
 * each server, and returns once every one is ready and sees all of them live.
 */
export async function startHaServers(segment: Segment, hosts: readonly Host[], configs: readonly string[]): Promise<TrackedProcess[]> {
  const servers = hosts.map((h, i) => segment.spawnIn(h.netns, ['node', ...CLI, '--config', configs[i]], { cwd: REPO_ROOT, label: `leasehold@${HA_NAMES[i]}` }));
  await Promise.all(servers.map((s) => s.waitForOutput(/"event":"ready"/, 30_000)));
  await Promise.all(servers.map((s) => waitForLiveSet(s, HA_NAMES.slice(0, hosts.length), 10_000)));
  return servers;
}

export interface HaPair {
  segment: Segment;
  db: TestDatabase;
  hosts: Host[];
  servers: TrackedProcess[];
  configs: string[];
}

/** A TCP relay to the cluster's Unix socket, run by node (the test runtime) in the database host's namespace. */
const RELAY = `
const net = require('node:net');
const [socket, address] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(socket);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  c.on('close', () => u.destroy()); u.on('close', () => c.destroy());
}).listen(5432, address, () => console.log('relay-ready'));
`;

export interface HaPairOptions {
  prefix: string;
  name: string;
  cluster: PostgresCluster;
  subnetTimes: { leaseTime: number; renewTime?: number; rebindTime?: number };
  /** Over HA_TIMERS and the `ha` defaults. */
  ha?: object;
}

/** Both servers ready and each seeing the other live, each with a control socket; everything is torn down with the test. */
export async function startHaPair(t: ExecutionContext, opts: HaPairOptions): Promise<HaPair> {
  const { cluster } = opts;
  const segment = await createSegment(`${opts.prefix}-${opts.name}`);
  t.teardown(() => segment.destroy());
  const db = await cluster.createDatabase();
  t.teardown(() => db.drop());
  const dbHost = await segment.addHost('db', { ipv4: `${DB_ADDRESS}/22` });
  const relay = segment.spawnIn(dbHost.netns, ['node', '-e', RELAY, join(cluster.socketDir, `.s.PGSQL.${cluster.port}`), DB_ADDRESS], { label: 'pg-relay' });
  await relay.waitForOutput(/relay-ready/, 10_000);

  const local = join(segment.tmpDir, 'init.json');
  const body = (leaseStore: object, ha?: object) => ({
    interfaces: [{ name: 'eth0' }],
    subnets: [{ id: 'lan', subnet: SUBNET.cidr, interface: 'eth0', pools: [{ start: SUBNET.start, end: SUBNET.end }], ...opts.subnetTimes, options: { routers: ['198.18.3.254'] } }],
    leaseStore,
    ...(ha && { ha }),
    log: { level: 'info' },
  });
  await writeFile(local, JSON.stringify(body({ type: 'postgresql', url: db.url(), passwordFile: db.passwordFile })));
  const init = await cli(['db', 'init', '--config', local]);
  t.is(init.code, 0, init.stderr);

  const hosts = await segment.addHosts(HA_SERVER_ADDRESSES.map((ip, i) => ({ name: `srv${i + 1}`, ipv4: `${ip}/22` })));
  const configs = await Promise.all(
    HA_NAMES.map(async (serverName) => {
      const path = join(segment.tmpDir, `${serverName}.json`);
      const store = {
        type: 'postgresql', host: DB_ADDRESS, port: 5432, database: db.name, user: db.user, passwordFile: db.passwordFile,
        shared: true, connectTimeoutMs: 1000, statementTimeoutMs: 1000, lockTimeoutMs: 500,
      };
      await writeFile(path, JSON.stringify({ ...body(store, { serverName, ...HA_TIMERS, ...opts.ha }), control: { socket: controlSocket(segment, serverName) } }));
      return path;
    }),
  );
  const servers = await startHaServers(segment, hosts, configs);
  return { segment, db, hosts, servers, configs };
}

/**
 * Drops every packet between `host` and PostgreSQL, both ways, in the
 * host's own namespace: a stateless rule in each direction, nothing
 * accepted for being ESTABLISHED, so the sessions the server already holds
 * go silent too (a partition, not a refused connection).
 */
export async function cutOffFromDatabase(host: Host): Promise<void> {
  await host.segment.exec(host.netns, ['nft', [
    'add table inet lhcut',
    'add chain inet lhcut out { type filter hook output priority raw ; }',
    'add chain inet lhcut in { type filter hook input priority raw ; }',
    `add rule inet lhcut out ip daddr ${DB_ADDRESS} tcp dport 5432 counter drop`,
    `add rule inet lhcut in ip saddr ${DB_ADDRESS} tcp sport 5432 counter drop`,
  ].join('; ')]);
}

export async function reconnectToDatabase(host: Host): Promise<void> {
  await host.segment.exec(host.netns, ['nft', 'delete table inet lhcut']);
}

/** How many packets each direction's rule dropped (proof that the cut held traffic back). */
export async function droppedByCut(host: Host): Promise<{ out: number; in: number }> {
  const { stdout } = await host.segment.exec(host.netns, ['nft', 'list table inet lhcut']);
  const packets = (chain: string) => Number(new RegExp(`chain ${chain} \\{[^}]*counter packets (\\d+)`).exec(stdout)?.[1] ?? NaN);
  return { out: packets('out'), in: packets('in') };
}

/** Where a server's control API listens (a database store has no lease file to put it beside). */
export const controlSocket = (segment: Segment, serverName: string) => join(segment.tmpDir, `${serverName}.sock`);

/** status-get's first subnet's assigned-addresses and its lease count, and statistic-get-all's assigned-addresses, from one server. */
export async function usageOf(segment: Segment, serverName: string): Promise<{ assigned: unknown; leases: unknown; statistic: unknown }> {
  const socket = controlSocket(segment, serverName);
  const status = (await sendCommand(socket, 'status-get'))?.arguments as { subnets: Array<Record<string, unknown>>; leases: number } | undefined;
  const stats = (await sendCommand(socket, 'statistic-get-all'))?.arguments as Record<string, Array<[number, string]>> | undefined;
  return { assigned: status?.subnets[0]?.['assigned-addresses'], leases: status?.leases, statistic: stats?.['subnet[lan].assigned-addresses']?.[0]?.[0] };
}

/** The live sets `server` logged, oldest first (one line each time its view changes). */
export function membershipLog(server: TrackedProcess): string[][] {
  return server.output
    .split('\n')
    .filter((l) => l.includes('"event":"ha-membership"'))
    .map((l) => (JSON.parse(l) as { live: string[] }).live);
}

/** Waits until the last live set `server` logged is itself alone (its partner's heartbeat ran out). */
export async function waitAlone(server: TrackedProcess, name: HaName, timeoutMs: number): Promise<void> {
  await pollUntil(`${server.label} alone`, () => JSON.stringify(membershipLog(server).at(-1)) === JSON.stringify([name]), { timeoutMs, describe: () => server.tail() });
}

/** The counters a server logs in its `stopped` line (empty when it never stopped cleanly). */
export function stoppedCounters(server: TrackedProcess): Record<string, number> {
  const line = server.output.split('\n').find((l) => l.includes('"event":"stopped"'));
  return (JSON.parse(line ?? '{}') as { counters?: Record<string, number> }).counters ?? {};
}

export interface LeaseRow {
  ip: string;
  hw_address: string;
  client_id: string | null;
  granted_by: string;
  fqdn: string | null;
}

/** The bound rows of the shared lease table, by address. */
export function boundRows(db: TestDatabase): Promise<LeaseRow[]> {
  return db.sql<LeaseRow>("SELECT host(ip) AS ip, hw_address, client_id, granted_by, fqdn FROM leases WHERE state = 'bound' ORDER BY ip");
}

/**
 * Every A record under `<app>.<zone>` but the zone file's static one, by
 * zone transfer (AXFR): name → addresses. What DNS holds, not what a
 * lookup of the names the test expects happens to find.
 */
export async function zoneARecords(bind: BindServer, zone: string, app = 'lab'): Promise<Map<string, string[]>> {
  const { stdout } = await execIn(bind.host.netns, ['dig', `@${bind.address}`, '-p', String(bind.port), '+noall', '+answer', '-y', `${bind.key.algorithm}:${bind.key.name}:${bind.key.secret.toString('base64')}`, zone, 'AXFR']);
  const records = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const [name, , , type, data] = line.split(/\s+/);
    if (type !== 'A' || !name.endsWith(`.${app}.${zone}.`) || data === STATIC_PRINTER_ADDRESS) continue;
    const fqdn = name.replace(/\.$/, '');
    records.set(fqdn, [...(records.get(fqdn) ?? []), data]);
  }
  return records;
}

/**
 * A udhcpc client whose server was killed: at T1 it renews by unicast to
 * the dead server (unanswered), at T2 it rebinds by broadcast (RFC 2131
 * §4.4.5), and the survivor ACKs it from the shared table with the same
 * address. Returns the client's `renew` event.
 */
export async function expectServedAtRebind(
  t: ExecutionContext,
  client: UdhcpcClient,
  bound: ClientEvent,
  db: TestDatabase,
  survivor: HaName,
  timeoutMs = 30_000,
): Promise<ClientEvent> {
  const renewed = await client.waitFor('renew', timeoutMs);
  t.is(renewed.ip, bound.ip, `${client.host.name}: same address after the failover`);
  const after = await db.sql<{ granted_by: string; state: string }>('SELECT granted_by, state FROM leases WHERE host(ip) = $1', [bound.ip]);
  t.deepEqual(after, [{ granted_by: survivor, state: 'bound' }], `${client.host.name}: the survivor wrote the renewal`);
  return renewed;
}
