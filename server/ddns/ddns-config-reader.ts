import { FieldReader, at, compact, show } from '../../lib/config/field-reader.ts';
import { MAX_TIMER_MS } from '../../lib/config/timer-limits.ts';
import { SLAAC_PREFIX_LENGTH } from '../../lib/ndp/slaac.ts';
import { isBase64 } from '../../lib/wire/base64.ts';
import { intToIp, ipToInt, isIpv4 } from '../../lib/wire/ipv4.ts';
import { bufferToIpv6, formatIpv6Prefix, ipv6ToBuffer, isIpv6, parseIpv6Prefix } from '../../lib/wire/ipv6.ts';
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
} from './ddns-config.ts';
import { findZone } from './reverse-names.ts';

/**
 * Reads and checks the DDNS part of the configuration: the top-level
 * `ddns` section (zones, keys, TTLs, retries) and each subnet's `ddns`
 * (its domain and app labels, checked against those zones). Problems are
 * recorded on the `FieldReader`; the caller throws them all at once.
 */

const DDNS_FIELDS = ['enabled', 'zones', 'conflictResolution', 'ttl', 'onRefusedName', 'updateOnRenew', 'retry', 'reconcileIntervalSeconds', 'claimSeconds'] as const;
const DDNS_ZONE_FIELDS = ['name', 'servers', 'key'] as const;
const DNS_SERVER_FIELDS = ['address', 'port'] as const;
const TSIG_KEY_FIELDS = ['name', 'algorithm', 'secret', 'secretFile'] as const;
const SUBNET_DDNS_FIELDS = ['domain', 'defaultApp', 'allowedApps', 'slaacPrefix'] as const;
/** RFC 2181 §8: a TTL is an unsigned 31-bit number of seconds. */
const MAX_TTL = 2 ** 31 - 1;

/** What a subnet's `ddns` is checked against. */
export interface DdnsScope {
  /** The top-level `ddns` section is there, valid or not. */
  given: boolean;
  /** Its zones, when they could be read. */
  zones?: readonly DdnsZoneConfig[];
}

/** The top-level `ddns` section. */
export function readDdns(f: FieldReader, value: unknown, path: string): DdnsConfig | undefined {
  const m = f.mapping(value, path, DDNS_FIELDS);
  if (m === undefined) return undefined;
  return compact({
    enabled: f.field(m, 'enabled', path, (v, p) => f.boolean(v, p)) ?? DDNS_DEFAULTS.enabled,
    zones: f.field(m, 'zones', path, (v, p) => readDdnsZones(f, v, p), true),
    conflictResolution:
      f.field(m, 'conflictResolution', path, (v, p) => f.oneOf(v, p, CONFLICT_RESOLUTION_MODES)) ?? DDNS_DEFAULTS.conflictResolution,
    ttl: readDdnsTtl(f, m.ttl, at(path, 'ttl')),
    onRefusedName: f.field(m, 'onRefusedName', path, (v, p) => f.oneOf(v, p, REFUSED_NAME_POLICIES)) ?? DDNS_DEFAULTS.onRefusedName,
    updateOnRenew: f.field(m, 'updateOnRenew', path, (v, p) => f.boolean(v, p)) ?? DDNS_DEFAULTS.updateOnRenew,
    retry: readDdnsRetry(f, m.retry, at(path, 'retry')),
    reconcileIntervalSeconds:
      f.field(m, 'reconcileIntervalSeconds', path, (v, p) => f.integer(v, p, 0, 86400)) ?? DDNS_DEFAULTS.reconcileIntervalSeconds,
    // At least 3 s: the third kept as a margin must outlast one DNS exchange.
    claimSeconds: f.field(m, 'claimSeconds', path, (v, p) => f.integer(v, p, 3, 3600)) ?? DDNS_DEFAULTS.claimSeconds,
  }) as DdnsConfig;
}

/** A subnet's `ddns`: where its clients' names live. */
export function readSubnetDdns(f: FieldReader, value: unknown, path: string, scope: DdnsScope): SubnetDdnsConfig | undefined {
  const m = f.mapping(value, path, SUBNET_DDNS_FIELDS);
  if (m === undefined) return undefined;
  if (!scope.given) f.fail(path, 'needs the top-level ddns section, whose zones say where names are updated');
  const domain = f.field(m, 'domain', path, (v, p) => {
    const name = f.dnsName(v, p)?.toLowerCase();
    if (name === undefined || scope.zones === undefined || findZone(name, scope.zones)) return name;
    return f.fail(p, `"${name}" is in none of ddns.zones (${scope.zones.map((z) => z.name).join(', ')})`);
  }, true);
  const defaultApp = f.field(m, 'defaultApp', path, (v, p) => f.dnsLabel(v, p), true);
  const allowedApps = f.field(m, 'allowedApps', path, (v, p) => f.listOf(v, p, (item, ip) => f.dnsLabel(item, ip)));
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

function readDdnsZones(f: FieldReader, value: unknown, path: string): DdnsZoneConfig[] | undefined {
  const zones = f.listOf(value, path, (item, p) => {
    const m = f.mapping(item, p, DDNS_ZONE_FIELDS);
    if (m === undefined) return undefined;
    const name = f.field(m, 'name', p, (v, np) => f.dnsName(v, np)?.toLowerCase(), true);
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
    name: f.field(m, 'name', path, (v, p) => f.dnsName(v, p)?.toLowerCase(), true),
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
  const initialMs = (m && f.field(m, 'initialMs', path, (v, p) => f.integer(v, p, 1, MAX_TIMER_MS))) ?? DDNS_DEFAULTS.retry.initialMs;
  const maxMs = (m && f.field(m, 'maxMs', path, (v, p) => f.integer(v, p, 1, MAX_TIMER_MS))) ?? DDNS_DEFAULTS.retry.maxMs;
  if (initialMs > maxMs) {
    if (m?.maxMs !== undefined) f.fail(at(path, 'maxMs'), `must be at least initialMs (${initialMs})`);
    else f.fail(at(path, 'initialMs'), `must not exceed maxMs (${maxMs}, the default)`);
  }
  return { initialMs, maxMs };
}

/** A prefix hosts form SLAAC addresses in (slaac.ts). */
function readSlaacPrefix(f: FieldReader, value: unknown, path: string): string | undefined {
  const text = f.string(value, path);
  if (text === undefined) return undefined;
  const parsed = parseIpv6Prefix(text);
  if (!parsed.ok) return f.fail(path, parsed.problem);
  if (parsed.prefix.prefixLength !== SLAAC_PREFIX_LENGTH) return f.fail(path, `must be a /64 (SLAAC addresses need one), got /${parsed.prefix.prefixLength}`);
  return formatIpv6Prefix(parsed.prefix);
}
