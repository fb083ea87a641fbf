import type { ExecutionContext } from 'ava';
import { loadBalanceHash } from '../../lib/dhcp4/load-balance-hash.ts';
import { assignBuckets } from '../../server/cluster/membership.ts';
import { STATIC_PRINTER_ADDRESS } from '../../lab/bind-config.ts';
import type { BindServer } from './bind.ts';
import type { UdhcpcClient } from './clients.ts';
import type { ClientEvent } from './event-log.ts';
import { execIn, type Host, type Segment } from './netns.ts';
import { pollUntil } from './poll.ts';
import type { TestDatabase } from './postgres.ts';
import { REPO_ROOT } from './run-command.ts';
import { CLI } from './server-cli.ts';
import type { TrackedProcess } from './tracked-process.ts';

/**
 * What the high-availability tests share: two leasehold-server processes
 * named ha-1 and ha-2 on one PostgreSQL database, which of them owns a
 * client's RFC 3074 bucket, the lease table and the zone as the tests read
 * them, and the counters a server logs when it stops.
 */

export const HA_NAMES = ['ha-1', 'ha-2'] as const;
export type HaName = (typeof HA_NAMES)[number];

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

/**
 * Starts `leasehold-server --config configs[i]` in `hosts[i]`'s namespace for
 * each server, and returns once every one is ready and sees all of them live
 * (each logs the live set when it changes).
 */
export async function startHaServers(segment: Segment, hosts: readonly Host[], configs: readonly string[]): Promise<TrackedProcess[]> {
  const servers = hosts.map((h, i) => segment.spawnIn(h.netns, ['node', ...CLI, '--config', configs[i]], { cwd: REPO_ROOT, label: `leasehold@${HA_NAMES[i]}` }));
  await Promise.all(servers.map((s) => s.waitForOutput(/"event":"ready"/, 30_000)));
  const all = JSON.stringify(HA_NAMES.slice(0, hosts.length)).replaceAll('[', '\\[').replaceAll(']', '\\]');
  await Promise.all(servers.map((s) => s.waitForOutput(new RegExp(`"event":"ha-membership".*"live":${all}`), 10_000)));
  return servers;
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
