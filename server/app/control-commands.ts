import type { Clock } from '../../lib/core/clock.ts';
import { reasonOf } from '../../lib/core/errors.ts';
import type { ConfigIssue } from '../../lib/config/field-reader.ts';
import { ipToInt } from '../../lib/wire/ipv4.ts';
import type { ClusterStatus } from '../cluster/cluster-service.ts';
import type { ServerConfig } from '../config/config.ts';
import { ConfigError } from '../config/config-error.ts';
import { changesNeedingRestart } from '../config/reload-scope.ts';
import { validateConfig } from '../config/validate.ts';
import { leaseIsReusable } from '../dhcp4/address-allocator.ts';
import { describeClient, type SourcedReservation } from '../dhcp4/reservation-rules.ts';
import { isAssignable, reservedForAnother, subnetContains, type ServedSubnet } from '../dhcp4/served-subnet.ts';
import { clientKeyFor, type Lease } from '../leases/lease.ts';
import type { StoredReservation } from '../leases/reservation.ts';
import {
  COMMANDS,
  isCommand,
  readArguments,
  type ArgumentsOf,
  type ClientIdentifier,
  type CommandName,
  type LeaseFields,
  type LeaseSelector,
  type ReservationSelector,
} from '../ops/command-arguments.ts';
import { empty, failure, parseControlRequest, success, unsupported, type ControlResponse } from '../ops/control-protocol.ts';
import { keaStatistics } from '../ops/kea-statistics.ts';
import { keaLease, keaReservation, redactSecrets } from '../ops/kea-shapes.ts';
import type { ManagedAppliance } from './managed-appliance.ts';

/**
 * The control API's commands, run against the appliance: each reads its
 * checked arguments (ops/command-arguments.ts) and answers in Kea's shape
 * and, where Kea has one, with Kea's text ("IPv4 lease deleted.", "Host
 * added."). Lease changes go through the engine (applyAdminChange), so the
 * table, the store and the DNS queue change together.
 */
export interface CommandContext {
  appliance: ManagedAppliance;
  /** Reads the configuration file again; throws ConfigError. Absent: reloads are not possible. */
  loadConfig?: () => ServerConfig;
  clock: Clock;
}

type Handlers = { [C in CommandName]: (args: ArgumentsOf<C>, ctx: CommandContext) => Promise<ControlResponse> | ControlResponse };

/**
 * One request body → its answer, never an exception: malformed JSON or a
 * request of the wrong shape is result 1, an unknown command result 2
 * (as Kea), bad arguments result 1 naming each, a command that throws
 * result 1 with the error.
 */
export async function answerCommand(body: string, ctx: CommandContext): Promise<{ command: string; response: ControlResponse }> {
  const parsed = parseControlRequest(body);
  if (!parsed.ok) return { command: 'invalid', response: parsed.response };
  const { command, arguments: raw } = parsed.request;
  if (!isCommand(command)) return { command: 'unknown', response: unsupported(command) };
  const args = readArguments(command, raw);
  if (!args.ok) return { command, response: failure(args.text) };
  try {
    const handler = HANDLERS[command] as (a: unknown, c: CommandContext) => Promise<ControlResponse> | ControlResponse;
    return { command, response: await handler(args.args, ctx) };
  } catch (err) {
    return { command, response: failure(`${command} failed: ${reasonOf(err)}`) };
  }
}

const HANDLERS: Handlers = {
  'list-commands': () => success(`${Object.keys(COMMANDS).length} commands`, Object.keys(COMMANDS)),

  'status-get': (_args, { appliance, clock }) => {
    const now = clock.now();
    const { healthy, problems } = appliance.health();
    return success('server is running', {
      pid: process.pid,
      uptime: Math.round((now - appliance.startedAt) / 1000),
      reload: Math.round((now - appliance.configLoadedAt) / 1000),
      'multi-threading-enabled': false,
      healthy,
      problems,
      subnets: appliance.dhcp4.usage().map((u) => ({ 'subnet-id': u.subnetId, 'total-addresses': u.total, 'assigned-addresses': u.assigned, 'declined-addresses': u.declined })),
      leases: appliance.dhcp4.leaseCount(),
      ...(appliance.ddns && { ddns: appliance.ddns.queueState() }),
      ...(appliance.cluster && { ha: haStatus(appliance.cluster.status()) }),
    });
  },

  'config-get': (_args, { appliance }) => success('current configuration', { Leasehold: redactSecrets(appliance.config) }),

  'config-test': (args, ctx) => {
    const tested = args.config !== undefined ? validated(() => validateConfig(args.config)) : ctx.loadConfig ? validated(ctx.loadConfig) : undefined;
    if (tested === undefined) return failure('this server was started without a configuration file to test');
    if (!tested.ok) return failure(`configuration is invalid: ${issueText(tested.issues)}`);
    const restart = changesNeedingRestart(ctx.appliance.config, tested.config);
    return success(restart.length === 0 ? 'Configuration seems sane.' : `Configuration seems sane; a reload would refuse it: ${issueText(restart)}`);
  },

  'config-reload': (_args, ctx) => {
    if (!ctx.loadConfig) return failure('this server was started without a configuration file to reload');
    const loaded = validated(ctx.loadConfig);
    if (!loaded.ok) {
      ctx.appliance.counters.inc('config_reloads', { outcome: 'invalid' });
      return failure(`configuration not reloaded, the running one stays: ${issueText(loaded.issues)}`);
    }
    const result = ctx.appliance.reload(loaded.config);
    if (!result.applied) return failure(`configuration not reloaded, the running one stays: ${issueText(result.issues)}`);
    return success('Configuration successful.');
  },

  'statistic-get-all': (_args, { appliance, clock }) => success('statistics', keaStatistics(appliance.metrics(), new Date(clock.now()))),

  'lease4-get': (args, { appliance }) => {
    const lease = findLease(appliance, args);
    return lease ? success('IPv4 lease found.', keaLease(lease)) : empty('Lease not found.');
  },

  'lease4-get-all': (args, { appliance }) => {
    const wanted = args.subnets && new Set(args.subnets);
    const leases = sortedLeases(appliance).filter((l) => !wanted || wanted.has(l.subnetId));
    const answer = { leases: leases.map((l) => keaLease(l)) };
    return leases.length > 0 ? success(`${leases.length} IPv4 lease(s) found.`, answer) : empty('0 IPv4 lease(s) found.', answer);
  },

  'lease4-get-page': (args, { appliance }) => {
    const after = args.from === 'start' ? -1 : ipToInt(args.from);
    const page = sortedLeases(appliance).filter((l) => ipToInt(l.ip) > after).slice(0, args.limit);
    const answer = { leases: page.map((l) => keaLease(l)), count: page.length };
    return page.length > 0 ? success(`${page.length} IPv4 lease(s) found.`, answer) : empty('0 IPv4 lease(s) found.', answer);
  },

  'lease4-add': async (args, ctx) => {
    const built = buildLease(args, ctx);
    if (typeof built === 'string') return failure(built);
    const existing = ctx.appliance.dhcp4.engine.table.leaseAt(ipToInt(args.ip));
    if (existing && !leaseIsReusable(existing, ctx.clock.now())) return failure(`IPv4 lease already exists: ${args.ip} (${describeClient(existing)}); use lease4-update`);
    await ctx.appliance.dhcp4.engine.applyAdminChange({ put: [built] });
    return success('Lease for address ' + args.ip + ', subnet-id ' + built.subnetId + ' added.');
  },

  'lease4-update': async (args, ctx) => {
    const engine = ctx.appliance.dhcp4.engine;
    const existing = engine.table.leaseAt(ipToInt(args.ip));
    if (!existing && !args.forceCreate) return failure(`no lease for ${args.ip} to update (give force-create: true to add it)`);
    const built = buildLease(args, ctx);
    if (typeof built === 'string') return failure(built);
    // The same client keeps its published name; another client's record loses it (the engine withdraws it).
    const sameClient = existing?.clientKey === built.clientKey && existing.state === 'bound';
    const lease = sameClient && existing.fqdn !== undefined ? { ...built, fqdn: existing.fqdn, ...(existing.ipv6 !== undefined && { ipv6: existing.ipv6 }) } : built;
    await engine.applyAdminChange({ put: [lease] });
    return success(`IPv4 lease updated.`);
  },

  'lease4-del': async (args, { appliance }) => {
    const lease = findLease(appliance, args);
    if (!lease) return empty('IPv4 lease not found.');
    await appliance.dhcp4.engine.applyAdminChange({ remove: [lease] });
    return success('IPv4 lease deleted.');
  },

  'lease4-wipe': async (args, { appliance }) => {
    const leases = appliance.dhcp4.leases().filter((l) => l.subnetId === args.subnetId);
    if (!appliance.config.subnets.some((s) => s.id === args.subnetId) && leases.length === 0) return failure(`no subnet "${args.subnetId}" is configured`);
    if (leases.length > 0) await appliance.dhcp4.engine.applyAdminChange({ remove: leases });
    const text = `Deleted ${leases.length} IPv4 lease(s) from subnet(s) ${args.subnetId}`;
    return leases.length > 0 ? success(text) : empty(text);
  },

  'reservation-add': async (args, { appliance }) => {
    const r: StoredReservation = {
      subnetId: args.subnetId,
      ip: args.ip,
      ...clientFields(args.client),
      ...(args.hostname !== undefined && { hostname: args.hostname }),
    };
    const conflict = await appliance.dhcp4.addReservation(r);
    return conflict ? failure(`reservation not added: ${conflict}`) : success('Host added.');
  },

  'reservation-get': (args, { appliance }) => {
    const found = findReservation(appliance.dhcp4.reservations(), args);
    return found ? success('Host found.', keaReservation(found)) : empty('Host not found.');
  },

  'reservation-get-all': (args, { appliance }) => {
    if (!appliance.config.subnets.some((s) => s.id === args.subnetId)) return failure(`no subnet "${args.subnetId}" is configured`);
    const hosts = appliance.dhcp4.reservations().filter((r) => r.subnetId === args.subnetId).map(keaReservation);
    return hosts.length > 0 ? success(`${hosts.length} IPv4 host(s) found.`, { hosts }) : empty('0 IPv4 host(s) found.', { hosts });
  },

  'reservation-del': async (args, { appliance }) => {
    const found = findReservation(appliance.dhcp4.reservations(), args);
    if (!found) return empty('Host not deleted (not found).');
    const outcome = await appliance.dhcp4.removeReservation({ subnetId: found.subnetId, ip: found.ip });
    if (outcome === 'config') {
      return failure(`the reservation of ${found.ip} in subnet ${found.subnetId} is in the configuration file: remove it there, then reload`);
    }
    return outcome === 'removed' ? success('Host deleted.') : empty('Host not deleted (not found).');
  },
};

/**
 * The `ha` part of status-get, in the hyphenated style of the rest (and of
 * Kea's HA status, whose `age` is in seconds; ours is in ms, as the `ha`
 * timers are): who is live, each server's buckets and heartbeat age.
 */
function haStatus(s: ClusterStatus): Record<string, unknown> {
  return {
    'server-name': s.serverName,
    fenced: s.fenced,
    ...(s.fenceReason !== undefined && { 'fence-reason': s.fenceReason }),
    live: s.live,
    'heartbeat-age-ms': s.ownHeartbeatAgeMs ?? null,
    servers: s.servers.map((p) => ({
      'server-name': p.serverName,
      state: p.state,
      addresses: p.addresses,
      'heartbeat-age-ms': p.heartbeatAgeMs,
      buckets: p.buckets,
      'bucket-ranges': p.bucketRanges,
    })),
  };
}

function validated(load: () => ServerConfig): { ok: true; config: ServerConfig } | { ok: false; issues: readonly ConfigIssue[] } {
  try {
    return { ok: true, config: load() };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, issues: err.issues };
    throw err;
  }
}

function issueText(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.problem}` : i.problem)).join('; ');
}

function sortedLeases(appliance: ManagedAppliance): Lease[] {
  return appliance.dhcp4.leases().sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip));
}

function clientFields(client: ClientIdentifier): { hwAddress: string } | { clientId: string } {
  return client.type === 'hw-address' ? { hwAddress: client.hwAddress } : { clientId: client.clientId };
}

/** The lease a selector names: by address; by client, its record in the subnet (the bound one first, then the latest). */
function findLease(appliance: ManagedAppliance, selector: LeaseSelector): Lease | undefined {
  const table = appliance.dhcp4.engine.table;
  if (selector.by === 'address') return table.leaseAt(ipToInt(selector.ip));
  const { client, subnetId } = selector;
  const matches = appliance.dhcp4
    .leases()
    .filter((l) => l.subnetId === subnetId && (client.type === 'hw-address' ? l.hwAddress === client.hwAddress : l.clientId === client.clientId));
  return matches.sort((a, b) => Number(b.state === 'bound') - Number(a.state === 'bound') || b.grantedAt - a.grantedAt)[0];
}

function findReservation(all: readonly SourcedReservation[], selector: ReservationSelector): SourcedReservation | undefined {
  return all.find((r) => {
    if (r.subnetId !== selector.subnetId) return false;
    if (selector.by === 'address') return r.ip === selector.ip;
    return selector.client.type === 'hw-address' ? r.hwAddress === selector.client.hwAddress : r.clientId === selector.client.clientId;
  });
}

/**
 * The lease lease4-add or lease4-update writes (all of it: an update
 * replaces the record, as Kea's does), or why it cannot: the
 * address must be a host of a served subnet (the given one, else the one
 * that contains it), not the server's, not reserved for another client,
 * and the client may hold no other bound lease in that subnet.
 */
function buildLease(args: LeaseFields, ctx: CommandContext): Lease | string {
  const engine = ctx.appliance.dhcp4.engine;
  const ip = ipToInt(args.ip);
  const subnet: ServedSubnet | undefined = args.subnetId !== undefined
    ? engine.servedSubnets.find((s) => s.id === args.subnetId)
    : engine.servedSubnets.find((s) => subnetContains(s, ip));
  if (!subnet) return args.subnetId !== undefined ? `no subnet "${args.subnetId}" is configured` : `no configured subnet contains ${args.ip}`;
  if (!subnetContains(subnet, ip) || !isAssignable(subnet, ip)) return `${args.ip} is not a host address of subnet ${subnet.id} (${subnet.config.subnet})`;
  if (ctx.appliance.config.interfaces.some((i) => i.address === args.ip) || ctx.appliance.config.serverId === args.ip) return `${args.ip} is the server's own address`;
  const clientKey = clientKeyFor(args.clientId, args.hwAddress);
  const client = { key: clientKey, hwKey: clientKeyFor(undefined, args.hwAddress) };
  if (reservedForAnother(subnet, ip, client) === true) return `${args.ip} is reserved for another client in subnet ${subnet.id}`;
  const now = ctx.clock.now();
  const other = engine.table.leaseOf(subnet.id, clientKey);
  if (other && other.ip !== args.ip && other.state === 'bound' && !leaseIsReusable(other, now)) {
    return `the client already holds ${other.ip} in subnet ${subnet.id}; delete or update that lease first`;
  }
  const seconds = args.validLifetime ?? subnet.leaseSeconds;
  return {
    ip: args.ip,
    clientKey,
    hwAddress: args.hwAddress,
    ...(args.clientId !== undefined && { clientId: args.clientId }),
    ...(args.hostname !== undefined && { hostname: args.hostname }),
    subnetId: subnet.id,
    state: 'bound',
    grantedAt: now,
    expiresAt: now + seconds * 1000,
  };
}
