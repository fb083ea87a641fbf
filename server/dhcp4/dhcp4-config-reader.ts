import { FieldReader, at, compact, show, type Mapping } from '../../lib/config/field-reader.ts';
import { MAX_TIMER_SECONDS } from '../../lib/config/timer-limits.ts';
import type { ClasslessRoute } from '../../lib/dhcp4/options/classless-routes.ts';
import { parseClientIdHex, parseHwAddress } from '../../lib/dhcp4/client-identity.ts';
import { cidrContains, cidrsOverlap, formatCidr, hostAddressProblem, parseCidr, type Cidr, type HostAddressProblem } from '../../lib/wire/cidr.ts';
import { intToIp, ipToInt } from '../../lib/wire/ipv4.ts';
import type { RateLimit } from '../../lib/core/token-bucket.ts';
import {
  DHCP4_DEFAULTS,
  DHCP4_SOCKET_DEFAULTS,
  type Dhcp4SocketLimits,
  DHCP4_PROTECTION_DEFAULTS,
  type Dhcp4Protection,
  LEASE_TIME_LIMITS,
  leaseTimers,
  type Dhcp4Timers,
  type PoolConfig,
  type ReservationConfig,
  type SubnetConfig,
  type SubnetOptions,
} from './dhcp4-config.ts';

/**
 * Reads and checks the DHCPv4 server's part of the configuration: the
 * `subnets` list (pools, reservations, options, lease times) and the
 * engine's timers, against their meaning (addresses inside their subnet and
 * free for hosts, no overlaps, T1 < T2 < lease…). Problems are recorded on
 * the `FieldReader`; the caller throws them all at once.
 */

const SUBNET_FIELDS = ['id', 'subnet', 'interface', 'pools', 'leaseTime', 'renewTime', 'rebindTime', 'options', 'reservations'] as const;
const POOL_FIELDS = ['start', 'end'] as const;
const OPTION_FIELDS = ['routers', 'dnsServers', 'domainName', 'domainSearch', 'classlessRoutes', 'mtu', 'ntpServers'] as const;
const ROUTE_FIELDS = ['destination', 'router'] as const;
const RESERVATION_FIELDS = ['hwAddress', 'clientId', 'ip', 'hostname'] as const;

/** An address that belongs to something else and must never be handed to a client. */
export interface TakenAddress {
  ip: number;
  what: string;
}

/**
 * Sections of a subnet that other parts of the server own (`ddns`): their
 * keys are accepted in the subnet's mapping, and `read` reads them in the
 * subnet's turn, so problems are listed in the file's order. What it
 * returns is merged into the subnet's entry.
 */
export interface SubnetSections<T extends object> {
  fields: readonly string[];
  read(subnet: Mapping, path: string): T;
}

export interface SubnetsContext<T extends object> {
  /** The names in `interfaces`; undefined when that list is broken, and subnets' interface names are then not checked. */
  interfaceNames?: ReadonlySet<string>;
  /** The server's own addresses (interfaces, serverId): never in a pool, never reserved. */
  serverAddresses: readonly TakenAddress[];
  sections: SubnetSections<T>;
}

/** `subnets`: at least one; ids unique, networks apart. */
export function readSubnets<T extends object>(f: FieldReader, value: unknown, path: string, context: SubnetsContext<T>): Array<SubnetConfig & T> {
  const items = f.list(value, path, true) ?? [];
  const parsed = items.map((item, i) => readSubnet(f, item, at(path, i), context));
  checkSubnetsApart(f, parsed);
  // Entries that failed are undefined; the list is only used when no issue was recorded.
  return parsed.map((s) => s?.config) as Array<SubnetConfig & T>;
}

/** `offerHoldSeconds` and `declineQuarantineSeconds`, at the top level of the file. */
export function readDhcp4Timers(f: FieldReader, root: Mapping): Dhcp4Timers {
  return {
    offerHoldSeconds: f.field(root, 'offerHoldSeconds', '', (v, p) => f.integer(v, p, 1, 86400)) ?? DHCP4_DEFAULTS.offerHoldSeconds,
    declineQuarantineSeconds:
      f.field(root, 'declineQuarantineSeconds', '', (v, p) => f.integer(v, p, 0, MAX_TIMER_SECONDS)) ?? DHCP4_DEFAULTS.declineQuarantineSeconds,
  };
}

const SOCKET_IMPLEMENTATIONS = ['auto', 'native', 'dgram'] as const;

/** `dhcp4Sockets`: every field optional, defaults DHCP4_SOCKET_DEFAULTS. */
export function readDhcp4Sockets(f: FieldReader, value: unknown): Dhcp4SocketLimits {
  const path = 'dhcp4Sockets';
  const d = DHCP4_SOCKET_DEFAULTS;
  const m = value === undefined || value === null ? {} : f.mapping(value, path, ['implementation', 'maxQueuedReplies', 'requestDeadlineMs', 'replyDeadlineMs']);
  const ms = (key: string) => (m && f.field(m, key, path, (v, p) => f.integer(v, p, 1, 60_000))) ?? undefined;
  const limits: Dhcp4SocketLimits = {
    implementation: (m && f.field(m, 'implementation', path, (v, p) => f.oneOf(v, p, SOCKET_IMPLEMENTATIONS))) ?? d.implementation,
    maxQueuedReplies: (m && f.field(m, 'maxQueuedReplies', path, (v, p) => f.integer(v, p, 1, 1_000_000))) ?? d.maxQueuedReplies,
    requestDeadlineMs: ms('requestDeadlineMs') ?? d.requestDeadlineMs,
    replyDeadlineMs: ms('replyDeadlineMs') ?? d.replyDeadlineMs,
  };
  // A request is only worth starting if its reply may still be sent.
  if (limits.requestDeadlineMs > limits.replyDeadlineMs) {
    f.fail(at(path, 'requestDeadlineMs'), `${limits.requestDeadlineMs} is later than replyDeadlineMs (${limits.replyDeadlineMs}): no reply to such a request could be sent`);
  }
  return limits;
}

const PROTECTION_FIELDS = ['heldOffersPercentOfPool', 'heldOffersMax', 'rateLimits'] as const;
const RATE_LIMIT_SCOPES = ['global', 'perInterface', 'perRelay', 'perClient'] as const;
const RATE_LIMIT_FIELDS = ['perSecond', 'burst'] as const;
/** Enough for any rate a 100 Gbit/s link carries in DHCP datagrams. */
const MAX_RATE = 10_000_000;

/**
 * `protection`, at the top level: each field optional, each default in
 * DHCP4_PROTECTION_DEFAULTS. A rate limit of `perSecond: 0` is off; its
 * burst then defaults to 1 (unused).
 */
export function readDhcp4Protection(f: FieldReader, value: unknown, path: string): Dhcp4Protection {
  const d = DHCP4_PROTECTION_DEFAULTS;
  const m = value === undefined || value === null ? {} : f.mapping(value, path, PROTECTION_FIELDS);
  if (m === undefined) return d;
  const limitsValue = m.rateLimits;
  const limitsPath = at(path, 'rateLimits');
  const limits = limitsValue === undefined || limitsValue === null ? {} : (f.mapping(limitsValue, limitsPath, RATE_LIMIT_SCOPES) ?? {});
  const rateLimit = (scope: (typeof RATE_LIMIT_SCOPES)[number]): RateLimit => {
    const given = limits[scope];
    if (given === undefined || given === null) return d.rateLimits[scope];
    const p = at(limitsPath, scope);
    const lm = f.mapping(given, p, RATE_LIMIT_FIELDS);
    if (lm === undefined) return d.rateLimits[scope];
    const perSecond = f.field(lm, 'perSecond', p, (v, vp) => f.integer(v, vp, 0, MAX_RATE), true) ?? d.rateLimits[scope].perSecond;
    const burst = f.field(lm, 'burst', p, (v, vp) => f.integer(v, vp, 1, MAX_RATE)) ?? Math.max(1, perSecond);
    return { perSecond, burst };
  };
  return {
    heldOffersPercentOfPool: f.field(m, 'heldOffersPercentOfPool', path, (v, p) => f.integer(v, p, 1, 100)) ?? d.heldOffersPercentOfPool,
    heldOffersMax: f.field(m, 'heldOffersMax', path, (v, p) => f.integer(v, p, 1, 1 << 24)) ?? d.heldOffersMax,
    rateLimits: {
      global: rateLimit('global'),
      perInterface: rateLimit('perInterface'),
      perRelay: rateLimit('perRelay'),
      perClient: rateLimit('perClient'),
    },
  };
}

interface ParsedSubnet<T extends object> {
  path: string;
  config: SubnetConfig & T;
  cidr?: Cidr;
}

function readSubnet<T extends object>(f: FieldReader, value: unknown, path: string, context: SubnetsContext<T>): ParsedSubnet<T> | undefined {
  const m = f.mapping(value, path, [...SUBNET_FIELDS, ...context.sections.fields]);
  if (m === undefined) return undefined;
  const id = f.field(m, 'id', path, (v, p) => f.string(v, p), true);
  const subnet = f.field(m, 'subnet', path, (v, p) => f.string(v, p), true);
  let cidr: Cidr | undefined;
  if (subnet !== undefined) {
    const parsed = parseCidr(subnet);
    if (parsed.ok) cidr = parsed.cidr;
    else f.fail(at(path, 'subnet'), parsed.problem);
  }
  const iface = f.field(m, 'interface', path, (v, p) => {
    const name = f.string(v, p);
    if (name !== undefined && context.interfaceNames && !context.interfaceNames.has(name)) {
      return f.fail(p, `names interface "${name}", which is not listed in interfaces`);
    }
    return name;
  });
  const options = readOptions(f, m.options ?? {}, at(path, 'options'), cidr);
  const taken = [...context.serverAddresses, ...optionAddresses(options)];
  const config = compact({
    id,
    subnet,
    interface: iface,
    pools: readPools(f, m.pools ?? [], at(path, 'pools'), cidr, taken),
    ...readTimes(f, m, path),
    options,
    reservations: readReservations(f, m.reservations ?? [], at(path, 'reservations'), cidr, taken),
    ...context.sections.read(m, path),
  }) as SubnetConfig & T;
  return { path, config, cidr };
}

/** Subnet ids name leases in the store, and a client must map to one subnet: both have to be unique. */
function checkSubnetsApart<T extends object>(f: FieldReader, subnets: ReadonlyArray<ParsedSubnet<T> | undefined>): void {
  subnets.forEach((s, i) => {
    if (s === undefined) return;
    for (const earlier of subnets.slice(0, i)) {
      if (earlier === undefined) continue;
      if (s.config.id !== undefined && s.config.id === earlier.config.id) {
        f.fail(at(s.path, 'id'), `duplicate subnet id "${s.config.id}" (also ${earlier.path})`);
      }
      if (s.cidr && earlier.cidr && cidrsOverlap(s.cidr, earlier.cidr)) {
        f.fail(at(s.path, 'subnet'), `overlaps ${at(earlier.path, 'subnet')} (${formatCidr(earlier.cidr)})`);
      }
    }
  });
}

/** RFC 2131 §4.4.5: T1 < T2 < lease, defaults as `leaseTimers` gives them. */
function readTimes(f: FieldReader, m: Mapping, path: string): Pick<SubnetConfig, 'leaseTime' | 'renewTime' | 'rebindTime'> {
  const leaseTime = f.field(m, 'leaseTime', path, (v, p) => f.integer(v, p, LEASE_TIME_LIMITS.min, LEASE_TIME_LIMITS.max), true);
  const renewGiven = f.field(m, 'renewTime', path, (v, p) => f.integer(v, p, 1, LEASE_TIME_LIMITS.max));
  const rebindGiven = f.field(m, 'rebindTime', path, (v, p) => f.integer(v, p, 1, LEASE_TIME_LIMITS.max));
  if (leaseTime === undefined) return {} as SubnetConfig; // already an issue; the draft is discarded
  const { renewTime, rebindTime } = leaseTimers(leaseTime, renewGiven, rebindGiven);
  if (renewTime >= rebindTime) {
    if (renewGiven !== undefined) {
      const of = rebindGiven !== undefined ? `${rebindTime}` : `${rebindTime}, the default 0.875 × leaseTime`;
      f.fail(at(path, 'renewTime'), `must be less than rebindTime (${of})`);
    } else {
      f.fail(at(path, 'rebindTime'), `must be greater than renewTime (${renewTime}, the default 0.5 × leaseTime)`);
    }
  }
  if (rebindTime >= leaseTime) f.fail(at(path, 'rebindTime'), `must be less than leaseTime (${leaseTime})`);
  return { leaseTime, renewTime, rebindTime };
}

function readOptions(f: FieldReader, value: unknown, path: string, cidr: Cidr | undefined): SubnetOptions {
  const m = f.mapping(value, path, OPTION_FIELDS);
  if (m === undefined) return {};
  const ipList = (v: unknown, p: string) => f.listOf(v, p, (item, ip) => f.ipv4(item, ip));
  const dnsName = (v: unknown, p: string) => f.dnsName(v, p);
  const options: SubnetOptions = compact({
    // RFC 2132 §3.5: routers are on the client's subnet, or the client cannot reach them.
    routers: f.field(m, 'routers', path, (v, p) => f.listOf(v, p, (item, ip) => onLink(f, f.ipv4(item, ip), ip, cidr))),
    dnsServers: f.field(m, 'dnsServers', path, ipList),
    domainName: f.field(m, 'domainName', path, dnsName),
    domainSearch: f.field(m, 'domainSearch', path, (v, p) => f.listOf(v, p, dnsName)),
    classlessRoutes: f.field(m, 'classlessRoutes', path, (v, p) => f.listOf(v, p, (r, rp) => readRoute(f, r, rp, cidr))),
    // RFC 2132 §5.1: the MTU option's minimum legal value is 68.
    mtu: f.field(m, 'mtu', path, (v, p) => f.integer(v, p, 68, 65535)),
    ntpServers: f.field(m, 'ntpServers', path, ipList),
  });
  // RFC 3442 §DHCP Client Behavior: a client that receives option 121 MUST
  // ignore option 3, so without a default route in the list it has none.
  const routes = options.classlessRoutes;
  if (routes && options.routers && !routes.some((r) => r.destination === '0.0.0.0/0')) {
    f.fail(
      at(path, 'classlessRoutes'),
      `has no default route 0.0.0.0/0: clients that get classless routes ignore routers (RFC 3442), so add { destination: 0.0.0.0/0, router: ${options.routers[0]} }`,
    );
  }
  return options;
}

function readRoute(f: FieldReader, value: unknown, path: string, cidr: Cidr | undefined): ClasslessRoute | undefined {
  const m = f.mapping(value, path, ROUTE_FIELDS);
  if (m === undefined) return undefined;
  const destination = f.field(m, 'destination', path, (v, p) => {
    const text = f.string(v, p);
    if (text === undefined) return undefined;
    const parsed = parseCidr(text);
    return parsed.ok ? text : f.fail(p, parsed.problem);
  }, true);
  // 0.0.0.0 as next hop means "on-link" to clients (as dhclient and systemd-networkd read it).
  const router = f.field(m, 'router', path, (v, p) => {
    const ip = f.ipv4(v, p);
    return ip === '0.0.0.0' ? ip : onLink(f, ip, p, cidr);
  }, true);
  return destination === undefined || router === undefined ? undefined : { destination, router };
}

/** Option addresses inside the subnet belong to hosts, so the pools must steer clear of them. */
function optionAddresses(options: SubnetOptions): TakenAddress[] {
  const named = (ips: string[] | undefined, what: string) => (ips ?? []).map((ip) => ({ ip: ipToInt(ip), what }));
  return [
    ...named(options.routers, 'router'),
    ...named(options.dnsServers, 'DNS server'),
    ...named(options.ntpServers, 'NTP server'),
    ...named(options.classlessRoutes?.map((r) => r.router).filter((ip) => ip !== '0.0.0.0'), 'classless route router'),
  ];
}

function readPools(f: FieldReader, value: unknown, path: string, cidr: Cidr | undefined, taken: readonly TakenAddress[]): PoolConfig[] | undefined {
  const items = f.list(value, path, false);
  if (items === undefined) return undefined;
  const ranges: Array<{ path: string; start: number; end: number }> = [];
  const pools = items.map((item, i) => {
    const p = at(path, i);
    const m = f.mapping(item, p, POOL_FIELDS);
    if (m === undefined) return undefined;
    const start = f.field(m, 'start', p, (v, sp) => hostAddress(f, f.ipv4(v, sp), sp, cidr), true);
    const end = f.field(m, 'end', p, (v, ep) => hostAddress(f, f.ipv4(v, ep), ep, cidr), true);
    if (start === undefined || end === undefined) return undefined;
    const range = { path: p, start: ipToInt(start), end: ipToInt(end) };
    if (range.start > range.end) return f.fail(p, `start ${start} is after end ${end}`);
    const other = ranges.find((r) => r.start <= range.end && range.start <= r.end);
    if (other) f.fail(p, `overlaps pool ${other.path} (${intToIp(other.start)}-${intToIp(other.end)})`);
    // One issue per address: the server's own address is often the router too.
    const reported = new Set<number>();
    for (const t of taken) {
      if (t.ip < range.start || t.ip > range.end || reported.has(t.ip)) continue;
      reported.add(t.ip);
      f.fail(p, `contains ${intToIp(t.ip)}, already in use as ${t.what}`);
    }
    ranges.push(range);
    return { start, end };
  });
  return pools.every((pool) => pool !== undefined) ? (pools as PoolConfig[]) : undefined;
}

function readReservations(
  f: FieldReader,
  value: unknown,
  path: string,
  cidr: Cidr | undefined,
  taken: readonly TakenAddress[],
): ReservationConfig[] | undefined {
  const items = f.list(value, path, false);
  if (items === undefined) return undefined;
  const byIp = new Map<string, number>();
  const byClient = new Map<string, number>();
  const reservations = items.map((item, i) => {
    const p = at(path, i);
    const m = f.mapping(item, p, RESERVATION_FIELDS);
    if (m === undefined) return undefined;
    const hwAddress = f.field(m, 'hwAddress', p, (v, hp) => {
      const mac = typeof v === 'string' ? parseHwAddress(v) : undefined;
      return mac ?? f.fail(hp, `must be a hardware address like 02:42:c6:12:00:0b, got ${show(v)}`);
    });
    const clientId = f.field(m, 'clientId', p, (v, cp) => {
      const hex = typeof v === 'string' ? parseClientIdHex(v) : undefined;
      return hex ?? f.fail(cp, `must be at least two hex octets, quoted, like "01:02:42:c6:12:00:0b", got ${show(v)}`);
    });
    const given = (key: string) => m[key] !== undefined && m[key] !== null;
    if (given('hwAddress') && given('clientId')) f.fail(p, 'has both hwAddress and clientId; give one');
    if (!given('hwAddress') && !given('clientId')) f.fail(p, 'needs hwAddress or clientId');
    const ip = f.field(m, 'ip', p, (v, ipPath) => notTaken(f, hostAddress(f, f.ipv4(v, ipPath), ipPath, cidr), ipPath, taken), true);
    const hostname = f.field(m, 'hostname', p, (v, hp) => f.dnsName(v, hp));

    if (ip !== undefined) {
      const first = byIp.get(ip);
      if (first !== undefined) f.fail(at(p, 'ip'), `reservation ip ${ip} is used by ${at('reservations', first)}`);
      else byIp.set(ip, i);
    }
    const client = hwAddress !== undefined ? ['hwAddress', hwAddress] : clientId !== undefined ? ['clientId', clientId] : undefined;
    if (client) {
      const key = client.join(' ');
      const first = byClient.get(key);
      if (first !== undefined) f.fail(at(p, client[0]), `${client[0]} ${client[1]} is already reserved by ${at('reservations', first)}`);
      else byClient.set(key, i);
    }
    return compact({ hwAddress, clientId, ip, hostname }) as ReservationConfig;
  });
  return reservations.every((r) => r !== undefined) ? reservations : undefined;
}

/** How each `hostAddressProblem` reads in a message, before the subnet. */
const HOST_ADDRESS_PROBLEMS: Record<HostAddressProblem, string> = {
  outside: 'is outside subnet',
  network: 'is the network address of',
  broadcast: 'is the broadcast address of',
};

/** `ip` (already checked as IPv4, or undefined) must lie in the subnet. */
function onLink(f: FieldReader, ip: string | undefined, path: string, cidr: Cidr | undefined): string | undefined {
  if (ip === undefined || cidr === undefined) return ip;
  return cidrContains(cidr, ipToInt(ip)) ? ip : f.fail(path, `${HOST_ADDRESS_PROBLEMS.outside} ${formatCidr(cidr)}`);
}

/** `ip` must be an address the allocator may hand to a host of the subnet: the allocator's own rule, `hostAddressProblem`. */
function hostAddress(f: FieldReader, ip: string | undefined, path: string, cidr: Cidr | undefined): string | undefined {
  if (ip === undefined || cidr === undefined) return ip;
  const problem = hostAddressProblem(cidr, ipToInt(ip));
  return problem === undefined ? ip : f.fail(path, `${HOST_ADDRESS_PROBLEMS[problem]} ${formatCidr(cidr)}`);
}

function notTaken(f: FieldReader, ip: string | undefined, path: string, taken: readonly TakenAddress[]): string | undefined {
  if (ip === undefined) return undefined;
  const t = taken.find((a) => a.ip === ipToInt(ip));
  return t ? f.fail(path, `${ip} is already in use as ${t.what}`) : ip;
}
