import type { LogLevel } from '../../lib/core/logger.ts';
import {
  CONFLICT_RESOLUTION_MODES,
  DDNS_DEFAULTS,
  REFUSED_NAME_POLICIES,
  TSIG_ALGORITHMS,
  type DdnsConfig,
  type DdnsTtlConfig,
  type DdnsZoneConfig,
  type DnsServerConfig,
  type SubnetDdnsConfig,
  type TsigKeyConfig,
} from '../ddns/ddns-config.ts';
import { findZone } from '../ddns/reverse-names.ts';
import { isBase64 } from '../../lib/wire/base64.ts';
import { intToIp, ipToInt, isIpv4 } from '../../lib/wire/ipv4.ts';
import { bufferToIpv6, formatIpv6Prefix, ipv6ToBuffer, isIpv6, parseIpv6Prefix, type Ipv6Prefix } from '../../lib/wire/ipv6.ts';
import { buildRouterAdvert } from '../ra/advert-builder.ts';
import {
  CONFIGURED_PREFERENCES,
  RA_DEFAULTS,
  RA_LIMITS,
  SOLICITED_RESPONSES,
  type RaConfig,
  type RaInterfaceConfig,
  type RaPrefixConfig,
  type RaRouteConfig,
} from '../ra/ra-config.ts';
import { routerAdvert } from '../../lib/ndp/router-advert.ts';
import { cidrContains, cidrsOverlap, formatCidr, parseCidr, type Cidr } from './cidr.ts';
import { parseClientIdHex, parseHwAddress } from './client-identity.ts';
import type {
  ClasslessRoute,
  InterfaceConfig,
  LeaseStoreConfig,
  PoolConfig,
  ReservationConfig,
  ServerConfig,
  SubnetConfig,
  SubnetOptions,
} from './config.ts';
import { ConfigError } from './config-error.ts';
import { isLdhLabel, isLdhName } from './ldh-name.ts';
import { FieldReader, at, show, type Mapping } from './field-reader.ts';

export const CONFIG_DEFAULTS = {
  leaseStorePath: '/var/lib/leasehold/leases.db',
  offerHoldSeconds: 30,
  // Kea's decline-probation-period: a declined address is probably used by a
  // host the server does not know about (RFC 2131 §3.1.5), give it a day.
  declineQuarantineSeconds: 86400,
  expiredReclaimIntervalSeconds: 10,
  logLevel: 'info' as LogLevel,
};

const ROOT_FIELDS = [
  'interfaces',
  'subnets',
  'leaseStore',
  'serverId',
  'offerHoldSeconds',
  'declineQuarantineSeconds',
  'expiredReclaimIntervalSeconds',
  'log',
  'ddns',
  'ra',
] as const;
const INTERFACE_FIELDS = ['name', 'address'] as const;
const SUBNET_FIELDS = [
  'id',
  'subnet',
  'interface',
  'pools',
  'leaseTime',
  'renewTime',
  'rebindTime',
  'options',
  'reservations',
  'ddns',
] as const;
const POOL_FIELDS = ['start', 'end'] as const;
const OPTION_FIELDS = [
  'routers',
  'dnsServers',
  'domainName',
  'domainSearch',
  'classlessRoutes',
  'mtu',
  'ntpServers',
] as const;
const ROUTE_FIELDS = ['destination', 'router'] as const;
const RESERVATION_FIELDS = ['hwAddress', 'clientId', 'ip', 'hostname'] as const;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const DDNS_FIELDS = ['enabled', 'zones', 'conflictResolution', 'ttl', 'onRefusedName', 'updateOnRenew', 'retry', 'reconcileIntervalSeconds'] as const;
const DDNS_ZONE_FIELDS = ['name', 'servers', 'key'] as const;
const DNS_SERVER_FIELDS = ['address', 'port'] as const;
const TSIG_KEY_FIELDS = ['name', 'algorithm', 'secret', 'secretFile'] as const;
const SUBNET_DDNS_FIELDS = ['domain', 'defaultApp', 'allowedApps', 'slaacPrefix'] as const;
const RA_INTERFACE_FIELDS = [
  'name',
  'maxIntervalSeconds',
  'minIntervalSeconds',
  'managed',
  'otherConfig',
  'curHopLimit',
  'routerLifetimeSeconds',
  'routerPreference',
  'reachableTimeMs',
  'retransTimerMs',
  'mtu',
  'sourceLinkLayerAddress',
  'solicitedResponse',
  'prefixes',
  'routes',
  'rdnss',
  'dnssl',
  'dnsLifetimeSeconds',
] as const;
const RA_PREFIX_FIELDS = ['prefix', 'onLink', 'autonomous', 'validLifetimeSeconds', 'preferredLifetimeSeconds'] as const;
const RA_ROUTE_FIELDS = ['prefix', 'preference', 'lifetimeSeconds'] as const;
/** Lifetimes in RA options are 32-bit; all ones is infinity (RFC 4861 §4.6.2). */
const MAX_RA_LIFETIME = 0xffffffff;
/** The IPv6 header that goes in front of an RA. */
const IPV6_HEADER_LENGTH = 40;

/** Short leases make T1/T2 collide; 0xffffffff means "infinite" (RFC 2131 §3.3), which we do not offer. */
const MIN_LEASE_TIME = 10;
const MAX_LEASE_TIME = 0xfffffffe;
/** setTimeout() takes at most 2^31-1 ms; keep second counts well inside it. */
const MAX_TIMER_SECONDS = 31_536_000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** RFC 2181 §8: a TTL is an unsigned 31-bit number of seconds. */
const MAX_TTL = 2 ** 31 - 1;

/** An address that belongs to something else and must never be handed to a client. */
interface TakenAddress {
  ip: number;
  what: string;
}

/**
 * Checks raw parsed YAML/JSON against the configuration shape and its
 * meaning (addresses inside their subnet, no overlaps, T1 < T2 < lease…),
 * applies defaults and returns the normalised `ServerConfig`. Throws one
 * `ConfigError` listing every problem found.
 */
export function validateConfig(raw: unknown): ServerConfig {
  // The readers below build the result even when some fields failed (those
  // are then undefined); it is only returned, and its types only hold, when
  // no issue was recorded.
  const f = new FieldReader();
  const root = f.mapping(raw, '', ROOT_FIELDS);
  const config = root === undefined ? undefined : readRoot(f, root);
  if (config === undefined || f.issues.length > 0) throw new ConfigError(f.issues);
  return config;
}

function readRoot(f: FieldReader, root: Mapping): ServerConfig {
  const interfaces = f.field(root, 'interfaces', '', (v, p) => readInterfaces(f, v, p), true);
  const serverId = f.field(root, 'serverId', '', (v, p) => f.ipv4(v, p));

  const taken: TakenAddress[] = (interfaces ?? [])
    .filter((i) => i.address !== undefined)
    .map((i) => ({ ip: ipToInt(i.address as string), what: `the address of interface ${i.name}` }));
  if (serverId !== undefined) taken.push({ ip: ipToInt(serverId), what: 'serverId' });
  // Unknown when `interfaces` itself is broken: then subnets' interface names are not checked.
  const interfaceNames = interfaces && new Set(interfaces.map((i) => i.name));

  const ddns = f.field(root, 'ddns', '', (v, p) => readDdns(f, v, p));
  const ddnsScope: DdnsScope = { given: root.ddns !== undefined && root.ddns !== null, zones: ddns?.zones };

  const subnets = f.field(root, 'subnets', '', (v, p) => f.list(v, p, true), true) ?? [];
  const parsed = subnets.map((s, i) => readSubnet(f, s, at('subnets', i), interfaceNames, taken, ddnsScope));
  checkSubnetsApart(f, parsed);

  return compact({
    interfaces,
    subnets: parsed.map((s) => s?.config),
    leaseStore: readLeaseStore(f, root.leaseStore),
    serverId,
    offerHoldSeconds:
      f.field(root, 'offerHoldSeconds', '', (v, p) => f.integer(v, p, 1, 86400)) ?? CONFIG_DEFAULTS.offerHoldSeconds,
    declineQuarantineSeconds:
      f.field(root, 'declineQuarantineSeconds', '', (v, p) => f.integer(v, p, 0, MAX_TIMER_SECONDS)) ??
      CONFIG_DEFAULTS.declineQuarantineSeconds,
    expiredReclaimIntervalSeconds:
      f.field(root, 'expiredReclaimIntervalSeconds', '', (v, p) => f.integer(v, p, 1, 86400)) ??
      CONFIG_DEFAULTS.expiredReclaimIntervalSeconds,
    log: { level: readLogLevel(f, root.log) },
    ddns,
    ra: f.field(root, 'ra', '', (v, p) => readRa(f, v, p)),
  }) as ServerConfig;
}

function readInterfaces(f: FieldReader, value: unknown, path: string): InterfaceConfig[] | undefined {
  const items = f.list(value, path, true);
  if (items === undefined) return undefined;
  const out: InterfaceConfig[] = [];
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const p = at(path, i);
    const m = f.mapping(item, p, INTERFACE_FIELDS);
    if (m === undefined) return;
    const name = f.field(m, 'name', p, (v, np) => readInterfaceName(f, v, np), true);
    const address = f.field(m, 'address', p, (v, ap) => f.ipv4(v, ap));
    if (name === undefined) return;
    const first = seen.get(name);
    if (first !== undefined) f.fail(at(p, 'name'), `duplicate interface "${name}" (also ${at(path, first)})`);
    seen.set(name, i);
    out.push(compact({ name, address }));
  });
  return out;
}

/** Linux's dev_valid_name(): at most IFNAMSIZ-1 = 15 bytes, no '/', ':' or whitespace, not '.' or '..'. */
function readInterfaceName(f: FieldReader, value: unknown, path: string): string | undefined {
  const name = f.string(value, path);
  if (name === undefined) return undefined;
  if (name.length > 15 || /[/:\s]/.test(name) || name === '.' || name === '..') {
    return f.fail(path, `must be a Linux interface name (1 to 15 characters, no "/", ":" or spaces), got ${show(name)}`);
  }
  return name;
}

interface ParsedSubnet {
  path: string;
  config: SubnetConfig;
  cidr?: Cidr;
}

function readSubnet(
  f: FieldReader,
  value: unknown,
  path: string,
  interfaceNames: ReadonlySet<string> | undefined,
  serverAddresses: readonly TakenAddress[],
  ddnsScope: DdnsScope,
): ParsedSubnet | undefined {
  const m = f.mapping(value, path, SUBNET_FIELDS);
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
    if (name !== undefined && interfaceNames && !interfaceNames.has(name)) {
      return f.fail(p, `names interface "${name}", which is not listed in interfaces`);
    }
    return name;
  });
  const options = readOptions(f, m.options ?? {}, at(path, 'options'), cidr);
  const taken = [...serverAddresses, ...optionAddresses(options)];
  const config = compact({
    id,
    subnet,
    interface: iface,
    pools: readPools(f, m.pools ?? [], at(path, 'pools'), cidr, taken),
    ...readTimes(f, m, path),
    options,
    reservations: readReservations(f, m.reservations ?? [], at(path, 'reservations'), cidr, taken),
    ddns: f.field(m, 'ddns', path, (v, p) => readSubnetDdns(f, v, p, ddnsScope)),
  }) as SubnetConfig;
  return { path, config, cidr };
}

/** Subnet ids name leases in the store, and a client must map to one subnet: both have to be unique. */
function checkSubnetsApart(f: FieldReader, subnets: ReadonlyArray<ParsedSubnet | undefined>): void {
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

/** RFC 2131 §4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the lease, and T1 < T2 < lease. */
function readTimes(f: FieldReader, m: Mapping, path: string): Pick<SubnetConfig, 'leaseTime' | 'renewTime' | 'rebindTime'> {
  const leaseTime = f.field(m, 'leaseTime', path, (v, p) => f.integer(v, p, MIN_LEASE_TIME, MAX_LEASE_TIME), true);
  const renewGiven = f.field(m, 'renewTime', path, (v, p) => f.integer(v, p, 1, MAX_LEASE_TIME));
  const rebindGiven = f.field(m, 'rebindTime', path, (v, p) => f.integer(v, p, 1, MAX_LEASE_TIME));
  if (leaseTime === undefined) return {} as SubnetConfig; // already an issue; the draft is discarded
  const renewTime = renewGiven ?? Math.floor(leaseTime * 0.5);
  const rebindTime = rebindGiven ?? Math.floor(leaseTime * 0.875);
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
  const dnsName = (v: unknown, p: string) => readDnsName(f, v, p);
  const options: SubnetOptions = compact({
    // RFC 2132 §3.5: routers are on the client's subnet, or the client cannot reach them.
    routers: f.field(m, 'routers', path, (v, p) =>
      f.listOf(v, p, (item, ip) => onLink(f, f.ipv4(item, ip), ip, cidr)),
    ),
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

function readDnsName(f: FieldReader, value: unknown, path: string): string | undefined {
  const name = f.string(value, path);
  if (name === undefined) return undefined;
  if (!isLdhName(name)) {
    return f.fail(path, `must be a DNS name (letters, digits and hyphens, dot-separated labels of 1 to 63), got ${show(name)}`);
  }
  // Clients append their host name to option 15 and search suffixes: no root dot.
  return name.replace(/\.$/, '');
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

function readPools(
  f: FieldReader,
  value: unknown,
  path: string,
  cidr: Cidr | undefined,
  taken: readonly TakenAddress[],
): PoolConfig[] | undefined {
  const items = f.list(value, path, false);
  if (items === undefined) return undefined;
  const ranges: Array<{ path: string; start: number; end: number }> = [];
  const pools = items.map((item, i) => {
    const p = at(path, i);
    const m = f.mapping(item, p, POOL_FIELDS);
    if (m === undefined) return undefined;
    const start = f.field(m, 'start', p, (v, sp) => assignable(f, f.ipv4(v, sp), sp, cidr), true);
    const end = f.field(m, 'end', p, (v, ep) => assignable(f, f.ipv4(v, ep), ep, cidr), true);
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
      return (
        hex ??
        f.fail(cp, `must be at least two hex octets, quoted, like "01:02:42:c6:12:00:0b", got ${show(v)}`)
      );
    });
    const given = (key: string) => m[key] !== undefined && m[key] !== null;
    if (given('hwAddress') && given('clientId')) f.fail(p, 'has both hwAddress and clientId; give one');
    if (!given('hwAddress') && !given('clientId')) f.fail(p, 'needs hwAddress or clientId');
    const ip = f.field(m, 'ip', p, (v, ipPath) => notTaken(f, assignable(f, f.ipv4(v, ipPath), ipPath, cidr), ipPath, taken), true);
    const hostname = f.field(m, 'hostname', p, (v, hp) => readDnsName(f, v, hp));

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

function readLeaseStore(f: FieldReader, value: unknown): LeaseStoreConfig {
  const path = 'leaseStore';
  const m = value === undefined || value === null ? {} : f.mapping(value, path, ['type', 'path']);
  return {
    type: (m && f.field(m, 'type', path, (v, p) => f.oneOf(v, p, ['sqlite'] as const))) ?? 'sqlite',
    path: (m && f.field(m, 'path', path, (v, p) => f.string(v, p))) ?? CONFIG_DEFAULTS.leaseStorePath,
  };
}

function readLogLevel(f: FieldReader, value: unknown): LogLevel {
  const m = value === undefined || value === null ? {} : f.mapping(value, 'log', ['level']);
  return (m && f.field(m, 'level', 'log', (v, p) => f.oneOf(v, p, LOG_LEVELS))) ?? CONFIG_DEFAULTS.logLevel;
}

/** What a subnet's `ddns` is checked against. */
interface DdnsScope {
  /** The top-level `ddns` section is there, valid or not. */
  given: boolean;
  /** Its zones, when they could be read. */
  zones?: readonly DdnsZoneConfig[];
}

function readDdns(f: FieldReader, value: unknown, path: string): DdnsConfig | undefined {
  const m = f.mapping(value, path, DDNS_FIELDS);
  if (m === undefined) return undefined;
  return compact({
    enabled: f.field(m, 'enabled', path, (v, p) => readBoolean(f, v, p)) ?? DDNS_DEFAULTS.enabled,
    zones: f.field(m, 'zones', path, (v, p) => readDdnsZones(f, v, p), true),
    conflictResolution:
      f.field(m, 'conflictResolution', path, (v, p) => f.oneOf(v, p, CONFLICT_RESOLUTION_MODES)) ??
      DDNS_DEFAULTS.conflictResolution,
    ttl: readDdnsTtl(f, m.ttl, at(path, 'ttl')),
    onRefusedName:
      f.field(m, 'onRefusedName', path, (v, p) => f.oneOf(v, p, REFUSED_NAME_POLICIES)) ?? DDNS_DEFAULTS.onRefusedName,
    updateOnRenew: f.field(m, 'updateOnRenew', path, (v, p) => readBoolean(f, v, p)) ?? DDNS_DEFAULTS.updateOnRenew,
    retry: readDdnsRetry(f, m.retry, at(path, 'retry')),
    reconcileIntervalSeconds:
      f.field(m, 'reconcileIntervalSeconds', path, (v, p) => f.integer(v, p, 0, 86400)) ?? DDNS_DEFAULTS.reconcileIntervalSeconds,
  }) as DdnsConfig;
}

function readDdnsZones(f: FieldReader, value: unknown, path: string): DdnsZoneConfig[] | undefined {
  const zones = f.listOf(value, path, (item, p) => {
    const m = f.mapping(item, p, DDNS_ZONE_FIELDS);
    if (m === undefined) return undefined;
    const name = f.field(m, 'name', p, (v, np) => readDnsName(f, v, np)?.toLowerCase(), true);
    const servers = f.field(m, 'servers', p, (v, sp) => f.listOf(v, sp, (s, ip) => readDnsServer(f, s, ip)), true);
    const key = f.field(m, 'key', p, (v, kp) => readTsigKey(f, v, kp));
    return name === undefined || servers === undefined ? undefined : compact({ name, servers, key });
  });
  // A name goes to the zone that is its longest suffix: two zones of one name leave that choice open.
  zones?.forEach((zone, i) => {
    const first = zones.findIndex((z) => z.name === zone.name);
    if (first < i) f.fail(at(at(path, i), 'name'), `duplicate zone "${zone.name}" (also ${at(path, first)})`);
  });
  return zones;
}

function readDnsServer(f: FieldReader, value: unknown, path: string): DnsServerConfig | undefined {
  const m = f.mapping(value, path, DNS_SERVER_FIELDS);
  if (m === undefined) return undefined;
  const address = f.field(m, 'address', path, (v, p) => readIpAddress(f, v, p), true);
  const port = f.field(m, 'port', path, (v, p) => f.integer(v, p, 1, 65535)) ?? DDNS_DEFAULTS.dnsPort;
  return address === undefined ? undefined : { address, port };
}

/** IPv4 or IPv6, returned in canonical form (dotted quad, RFC 5952). */
function readIpAddress(f: FieldReader, value: unknown, path: string): string | undefined {
  if (typeof value === 'string' && isIpv4(value)) return intToIp(ipToInt(value));
  if (typeof value === 'string' && isIpv6(value)) return bufferToIpv6(ipv6ToBuffer(value));
  return f.fail(path, `must be an IPv4 or IPv6 address, got ${show(value)}`);
}

function readTsigKey(f: FieldReader, value: unknown, path: string): TsigKeyConfig | undefined {
  const m = f.mapping(value, path, TSIG_KEY_FIELDS);
  if (m === undefined) return undefined;
  const given = (key: string) => m[key] !== undefined && m[key] !== null;
  if (given('secret') === given('secretFile')) f.fail(path, 'needs exactly one of secret and secretFile');
  return compact({
    name: f.field(m, 'name', path, (v, p) => readDnsName(f, v, p)?.toLowerCase(), true),
    algorithm: f.field(m, 'algorithm', path, (v, p) => f.oneOf(v, p, TSIG_ALGORITHMS)) ?? DDNS_DEFAULTS.tsigAlgorithm,
    secret: f.field(m, 'secret', path, (v, p) => readBase64(f, v, p)),
    secretFile: f.field(m, 'secretFile', path, (v, p) => f.string(v, p)),
  }) as TsigKeyConfig;
}

/** Padded standard base64 (RFC 4648 §4), as `tsig-keygen` prints secrets. */
function readBase64(f: FieldReader, value: unknown, path: string): string | undefined {
  const text = f.string(value, path);
  if (text === undefined || isBase64(text)) return text;
  return f.fail(path, 'must be the base64 secret, as tsig-keygen prints it');
}

/** RFC 4702 §5 TTL bounds; a floor above the cap would leave no TTL to choose. */
function readDdnsTtl(f: FieldReader, value: unknown, path: string): DdnsTtlConfig {
  const m = value === undefined || value === null ? {} : f.mapping(value, path, ['floor', 'cap']);
  const floor = (m && f.field(m, 'floor', path, (v, p) => f.integer(v, p, 0, MAX_TTL))) ?? DDNS_DEFAULTS.ttl.floor;
  const cap = (m && f.field(m, 'cap', path, (v, p) => f.integer(v, p, 1, MAX_TTL))) ?? DDNS_DEFAULTS.ttl.cap;
  if (floor > cap) {
    if (m?.cap !== undefined) f.fail(at(path, 'cap'), `must be at least floor (${floor})`);
    else f.fail(at(path, 'floor'), `must not exceed cap (${cap}, the default)`);
  }
  return { floor, cap };
}

function readDdnsRetry(f: FieldReader, value: unknown, path: string): DdnsConfig['retry'] {
  const m = value === undefined || value === null ? {} : f.mapping(value, path, ['initialMs', 'maxMs']);
  const initialMs =
    (m && f.field(m, 'initialMs', path, (v, p) => f.integer(v, p, 1, MAX_TIMER_MS))) ?? DDNS_DEFAULTS.retry.initialMs;
  const maxMs = (m && f.field(m, 'maxMs', path, (v, p) => f.integer(v, p, 1, MAX_TIMER_MS))) ?? DDNS_DEFAULTS.retry.maxMs;
  if (initialMs > maxMs) {
    if (m?.maxMs !== undefined) f.fail(at(path, 'maxMs'), `must be at least initialMs (${initialMs})`);
    else f.fail(at(path, 'initialMs'), `must not exceed maxMs (${maxMs}, the default)`);
  }
  return { initialMs, maxMs };
}

function readSubnetDdns(f: FieldReader, value: unknown, path: string, scope: DdnsScope): SubnetDdnsConfig | undefined {
  const m = f.mapping(value, path, SUBNET_DDNS_FIELDS);
  if (m === undefined) return undefined;
  if (!scope.given) f.fail(path, 'needs the top-level ddns section, whose zones say where names are updated');
  const domain = f.field(m, 'domain', path, (v, p) => {
    const name = readDnsName(f, v, p)?.toLowerCase();
    if (name === undefined || scope.zones === undefined || findZone(name, scope.zones)) return name;
    return f.fail(p, `"${name}" is in none of ddns.zones (${scope.zones.map((z) => z.name).join(', ')})`);
  }, true);
  const defaultApp = f.field(m, 'defaultApp', path, (v, p) => readLabel(f, v, p), true);
  const allowedApps = f.field(m, 'allowedApps', path, (v, p) => f.listOf(v, p, (item, ip) => readLabel(f, item, ip)));
  if (defaultApp !== undefined && allowedApps !== undefined && !allowedApps.includes(defaultApp)) {
    f.fail(at(path, 'defaultApp'), `"${defaultApp}" is not in allowedApps`);
  }
  return compact({
    domain,
    defaultApp,
    allowedApps,
    slaacPrefix: f.field(m, 'slaacPrefix', path, (v, p) => readSlaacPrefix(f, v, p)),
  }) as SubnetDdnsConfig;
}

/** One RFC 1123 label (a host or app name), lower-cased. */
function readLabel(f: FieldReader, value: unknown, path: string): string | undefined {
  const label = f.string(value, path);
  if (label === undefined) return undefined;
  if (!isLdhLabel(label)) {
    return f.fail(path, `must be one DNS label (letters, digits and hyphens, 1 to 63, no hyphen first or last), got ${show(label)}`);
  }
  return label.toLowerCase();
}

/** RFC 4862 §5.5.3: SLAAC forms an address only when prefix and 64-bit interface id make 128 bits. */
function readSlaacPrefix(f: FieldReader, value: unknown, path: string): string | undefined {
  const text = f.string(value, path);
  if (text === undefined) return undefined;
  const parsed = parseIpv6Prefix(text);
  if (!parsed.ok) return f.fail(path, parsed.problem);
  if (parsed.prefix.prefixLength !== 64) return f.fail(path, `must be a /64 (SLAAC addresses need one), got /${parsed.prefix.prefixLength}`);
  return formatIpv6Prefix(parsed.prefix);
}

/** `ra`: router advertisements, per interface (RFC 4861 §6.2.1 router variables). */
function readRa(f: FieldReader, value: unknown, path: string): RaConfig | undefined {
  const m = f.mapping(value, path, ['interfaces']);
  if (m === undefined) return undefined;
  const interfaces = f.field(m, 'interfaces', path, (v, p) => f.listOf(v, p, (item, ip) => readRaInterface(f, item, ip)), true);
  interfaces?.forEach((iface, i) => {
    const first = interfaces.findIndex((other) => other.name === iface.name);
    if (first < i) f.fail(at(at(at(path, 'interfaces'), i), 'name'), `duplicate interface "${iface.name}" (also ${at(at(path, 'interfaces'), first)})`);
  });
  return interfaces && { interfaces };
}

function readRaInterface(f: FieldReader, value: unknown, path: string): RaInterfaceConfig | undefined {
  const m = f.mapping(value, path, RA_INTERFACE_FIELDS);
  if (m === undefined) return undefined;
  const issuesBefore = f.issues.length;
  const integer = (key: string, min: number, max: number) => f.field(m, key, path, (v, p) => f.integer(v, p, min, max));
  const flag = (key: string, fallback: boolean) => f.field(m, key, path, (v, p) => readBoolean(f, v, p)) ?? fallback;

  const maxInterval = integer('maxIntervalSeconds', RA_LIMITS.minMaxInterval, RA_LIMITS.maxMaxInterval) ?? RA_DEFAULTS.maxIntervalSeconds;
  // RFC 4861 §6.2.1: 3 ≤ MinRtrAdvInterval ≤ 0.75 × MaxRtrAdvInterval.
  const minCeiling = Math.floor(0.75 * maxInterval);
  let minInterval = integer('minIntervalSeconds', RA_LIMITS.minMinInterval, RA_LIMITS.maxMaxInterval);
  if (minInterval !== undefined && minInterval > minCeiling) {
    minInterval = f.fail(at(path, 'minIntervalSeconds'), `must be at most 0.75 × maxIntervalSeconds (${minCeiling}), got ${minInterval}`);
  }
  // §6.2.1: AdvDefaultLifetime is 0 or between MaxRtrAdvInterval and 9000.
  let routerLifetime = integer('routerLifetimeSeconds', 0, RA_LIMITS.maxRouterLifetime);
  if (routerLifetime !== undefined && routerLifetime !== 0 && routerLifetime < maxInterval) {
    routerLifetime = f.fail(
      at(path, 'routerLifetimeSeconds'),
      `must be 0 (not a default router) or at least maxIntervalSeconds (${maxInterval}), got ${routerLifetime}`,
    );
  }
  routerLifetime ??= RA_DEFAULTS.routerLifetimeSeconds(maxInterval);
  const routerPreference =
    f.field(m, 'routerPreference', path, (v, p) => f.oneOf(v, p, CONFIGURED_PREFERENCES)) ?? RA_DEFAULTS.routerPreference;
  // RFC 4191 §2.2: a router that is not a default router sends preference medium.
  if (routerLifetime === 0 && routerPreference !== 'medium') {
    f.fail(at(path, 'routerPreference'), `must be "medium" when routerLifetimeSeconds is 0 (RFC 4191 §2.2), got "${routerPreference}"`);
  }
  const dnsLifetime = integer('dnsLifetimeSeconds', 0, MAX_RA_LIFETIME);
  // RFC 8106 §5.1: a lifetime shorter than the RA interval lets resolvers lapse between two RAs.
  if (dnsLifetime !== undefined && dnsLifetime < maxInterval) {
    f.fail(at(path, 'dnsLifetimeSeconds'), `must be at least maxIntervalSeconds (${maxInterval}), or hosts drop the resolvers between two RAs (RFC 8106 §5.1)`);
  }

  const config = compact({
    name: f.field(m, 'name', path, (v, p) => readInterfaceName(f, v, p), true),
    maxIntervalSeconds: maxInterval,
    minIntervalSeconds: minInterval ?? RA_DEFAULTS.minIntervalSeconds(maxInterval),
    managed: flag('managed', false),
    otherConfig: flag('otherConfig', false),
    curHopLimit: integer('curHopLimit', 0, 255) ?? RA_DEFAULTS.curHopLimit,
    routerLifetimeSeconds: routerLifetime,
    routerPreference,
    reachableTimeMs: integer('reachableTimeMs', 0, RA_LIMITS.maxReachableTimeMs) ?? 0,
    retransTimerMs: integer('retransTimerMs', 0, MAX_RA_LIFETIME) ?? 0,
    mtu: integer('mtu', RA_LIMITS.minMtu, 65535),
    sourceLinkLayerAddress: flag('sourceLinkLayerAddress', true),
    solicitedResponse: f.field(m, 'solicitedResponse', path, (v, p) => f.oneOf(v, p, SOLICITED_RESPONSES)) ?? RA_DEFAULTS.solicitedResponse,
    prefixes: readRaPrefixes(f, m.prefixes ?? [], at(path, 'prefixes')),
    routes: readRaRoutes(f, m.routes ?? [], at(path, 'routes'), maxInterval),
    rdnss: f.field(m, 'rdnss', path, (v, p) => f.listOf(v, p, (item, ip) => readIpv6Unicast(f, item, ip))) ?? [],
    dnssl: f.field(m, 'dnssl', path, (v, p) => f.listOf(v, p, (item, ip) => readDnsName(f, item, ip)?.toLowerCase())) ?? [],
    dnsLifetimeSeconds: dnsLifetime ?? RA_DEFAULTS.dnsLifetimeSeconds(maxInterval),
  }) as RaInterfaceConfig;
  if (f.issues.length > issuesBefore) return undefined;
  // An RA is one packet: fragments of it would be dropped by hosts that
  // reassemble nothing before Neighbor Discovery has run.
  const room = (config.mtu ?? RA_LIMITS.minMtu) - IPV6_HEADER_LENGTH;
  const size = routerAdvert.encodingLength(buildRouterAdvert(config, config.sourceLinkLayerAddress ? '00:00:00:00:00:00' : undefined));
  if (size > room) {
    return f.fail(path, `its RA would be ${size} bytes, more than the ${room} that fit in one packet of ${config.mtu ?? RA_LIMITS.minMtu} bytes; advertise fewer prefixes, routes, resolvers or domains`);
  }
  return config;
}

function readRaPrefixes(f: FieldReader, value: unknown, path: string): RaPrefixConfig[] | undefined {
  const items = f.list(value, path, false);
  if (items === undefined) return undefined;
  const prefixes = items.map((item, i) => {
    const p = at(path, i);
    const m = f.mapping(item, p, RA_PREFIX_FIELDS);
    if (m === undefined) return undefined;
    const prefix = f.field(m, 'prefix', p, (v, pp) => readRaPrefix(f, v, pp), true);
    const onLink = f.field(m, 'onLink', p, (v, bp) => readBoolean(f, v, bp)) ?? true;
    const autonomous = f.field(m, 'autonomous', p, (v, bp) => readBoolean(f, v, bp)) ?? true;
    // RFC 4862 §5.5.3 (d) with RFC 4291 §2.5.1: SLAAC joins the prefix to a 64-bit interface id.
    if (prefix && autonomous && prefix.prefixLength !== 64) {
      f.fail(at(p, 'prefix'), `must be a /64 to be autonomous (SLAAC addresses need one), got /${prefix.prefixLength}; or set autonomous: false`);
    }
    const valid = f.field(m, 'validLifetimeSeconds', p, (v, vp) => f.integer(v, vp, 0, MAX_RA_LIFETIME));
    const preferred = f.field(m, 'preferredLifetimeSeconds', p, (v, vp) => f.integer(v, vp, 0, MAX_RA_LIFETIME));
    const validLifetimeSeconds = valid ?? RA_DEFAULTS.validLifetimeSeconds;
    const preferredLifetimeSeconds = preferred ?? RA_DEFAULTS.preferredLifetimeSeconds;
    // RFC 4862 §5.5.3 (c): hosts ignore a prefix preferred for longer than it is valid.
    if (preferredLifetimeSeconds > validLifetimeSeconds) {
      if (preferred !== undefined) {
        const of = valid !== undefined ? `${valid}` : `${validLifetimeSeconds}, the default`;
        f.fail(at(p, 'preferredLifetimeSeconds'), `must not exceed validLifetimeSeconds (${of})`);
      } else {
        f.fail(at(p, 'validLifetimeSeconds'), `must be at least preferredLifetimeSeconds (${preferredLifetimeSeconds}, the default)`);
      }
    }
    if (prefix === undefined) return undefined;
    return { prefix: bufferToIpv6(prefix.network), prefixLength: prefix.prefixLength, onLink, autonomous, validLifetimeSeconds, preferredLifetimeSeconds };
  });
  checkDistinctPrefixes(f, prefixes, path);
  return prefixes.every((p) => p !== undefined) ? (prefixes as RaPrefixConfig[]) : undefined;
}

function readRaRoutes(f: FieldReader, value: unknown, path: string, maxInterval: number): RaRouteConfig[] | undefined {
  const items = f.list(value, path, false);
  if (items === undefined) return undefined;
  const routes = items.map((item, i) => {
    const p = at(path, i);
    const m = f.mapping(item, p, RA_ROUTE_FIELDS);
    if (m === undefined) return undefined;
    const prefix = f.field(m, 'prefix', p, (v, pp) => readRaPrefix(f, v, pp), true);
    const preference = f.field(m, 'preference', p, (v, pp) => f.oneOf(v, pp, CONFIGURED_PREFERENCES)) ?? 'medium';
    const lifetimeSeconds =
      f.field(m, 'lifetimeSeconds', p, (v, lp) => f.integer(v, lp, 0, MAX_RA_LIFETIME)) ?? RA_DEFAULTS.routeLifetimeSeconds(maxInterval);
    if (prefix === undefined) return undefined;
    return { prefix: bufferToIpv6(prefix.network), prefixLength: prefix.prefixLength, preference, lifetimeSeconds };
  });
  checkDistinctPrefixes(f, routes, path);
  return routes.every((r) => r !== undefined) ? (routes as RaRouteConfig[]) : undefined;
}

/** Two entries for one prefix would contradict each other in every RA. */
function checkDistinctPrefixes(f: FieldReader, entries: ReadonlyArray<{ prefix: string; prefixLength: number } | undefined>, path: string): void {
  entries.forEach((entry, i) => {
    if (entry === undefined) return;
    const first = entries.findIndex((e) => e?.prefix === entry.prefix && e.prefixLength === entry.prefixLength);
    if (first < i) f.fail(at(at(path, i), 'prefix'), `duplicate prefix ${entry.prefix}/${entry.prefixLength} (also ${at(path, first)})`);
  });
}

/** A prefix that may be advertised: not link-local (RFC 4861 §4.6.2) nor multicast. */
function readRaPrefix(f: FieldReader, value: unknown, path: string): Ipv6Prefix | undefined {
  const text = f.string(value, path);
  if (text === undefined) return undefined;
  const parsed = parseIpv6Prefix(text);
  if (!parsed.ok) return f.fail(path, parsed.problem);
  const { network, prefixLength } = parsed.prefix;
  if (prefixLength >= 10 && network[0] === 0xfe && (network[1] & 0xc0) === 0x80) {
    return f.fail(path, 'is link-local (fe80::/10): hosts ignore it (RFC 4861 §4.6.2)');
  }
  if (prefixLength >= 8 && network[0] === 0xff) return f.fail(path, 'is multicast (ff00::/8)');
  return parsed.prefix;
}

/** An IPv6 unicast address in RFC 5952 form: not unspecified, not multicast. */
function readIpv6Unicast(f: FieldReader, value: unknown, path: string): string | undefined {
  if (typeof value !== 'string' || !isIpv6(value)) return f.fail(path, `must be an IPv6 address, got ${show(value)}`);
  const bytes = ipv6ToBuffer(value);
  if (bytes[0] === 0xff || bytes.every((b) => b === 0)) return f.fail(path, `must be a unicast address, got ${show(value)}`);
  return bufferToIpv6(bytes);
}

function readBoolean(f: FieldReader, value: unknown, path: string): boolean | undefined {
  return typeof value === 'boolean' ? value : f.fail(path, `must be true or false, got ${show(value)}`);
}

/** `ip` (already checked as IPv4, or undefined) must lie in the subnet. */
function onLink(f: FieldReader, ip: string | undefined, path: string, cidr: Cidr | undefined): string | undefined {
  if (ip === undefined || cidr === undefined) return ip;
  return cidrContains(cidr, ipToInt(ip)) ? ip : f.fail(path, `is outside subnet ${formatCidr(cidr)}`);
}

/** `ip` must be a host address of the subnet: RFC 1122 §3.2.1.3 reserves the all-zeros and all-ones host parts, except in a /31 (RFC 3021) or /32. */
function assignable(f: FieldReader, ip: string | undefined, path: string, cidr: Cidr | undefined): string | undefined {
  if (ip === undefined || cidr === undefined) return ip;
  if (onLink(f, ip, path, cidr) === undefined) return undefined;
  if (cidr.prefixLength <= 30) {
    const n = ipToInt(ip);
    if (n === cidr.network) return f.fail(path, `is the network address of ${formatCidr(cidr)}`);
    if (n === cidr.broadcast) return f.fail(path, `is the broadcast address of ${formatCidr(cidr)}`);
  }
  return ip;
}

function notTaken(f: FieldReader, ip: string | undefined, path: string, taken: readonly TakenAddress[]): string | undefined {
  if (ip === undefined) return undefined;
  const t = taken.find((a) => a.ip === ipToInt(ip));
  return t ? f.fail(path, `${ip} is already in use as ${t.what}`) : ip;
}

/** Drops keys whose value is undefined, so optional fields are absent rather than present-but-undefined. */
function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
