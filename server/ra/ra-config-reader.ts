import { FieldReader, at, compact, show } from '../../lib/config/field-reader.ts';
import { routerAdvert } from '../../lib/ndp/router-advert.ts';
import { SLAAC_PREFIX_LENGTH } from '../../lib/ndp/slaac.ts';
import { bufferToIpv6, ipv6ToBuffer, isIpv6, parseIpv6Prefix, type Ipv6Prefix } from '../../lib/wire/ipv6.ts';
import { buildRouterAdvert } from './advert-builder.ts';
import { isLinkLocalBytes } from './link-local.ts';
import {
  CONFIGURED_PREFERENCES,
  RA_DEFAULTS,
  RA_LIMITS,
  SOLICITED_RESPONSES,
  type RaConfig,
  type RaInterfaceConfig,
  type RaPrefixConfig,
  type RaRouteConfig,
} from './ra-config.ts';

/**
 * Reads and checks the `ra` section: per interface, the router variables
 * of RFC 4861 §6.2.1 within their bounds and with their defaults, the
 * prefixes, routes and DNS options, and that the whole RA fits in one
 * packet (built by the advert builder the sender uses). Problems are
 * recorded on the `FieldReader`; the caller throws them all at once.
 */

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

/** `ra`: router advertisements, per interface. */
export function readRa(f: FieldReader, value: unknown, path: string): RaConfig | undefined {
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
  const flag = (key: string, fallback: boolean) => f.field(m, key, path, (v, p) => f.boolean(v, p)) ?? fallback;

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
  const routerPreference = f.field(m, 'routerPreference', path, (v, p) => f.oneOf(v, p, CONFIGURED_PREFERENCES)) ?? RA_DEFAULTS.routerPreference;
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
    name: f.field(m, 'name', path, (v, p) => f.interfaceName(v, p), true),
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
    dnssl: f.field(m, 'dnssl', path, (v, p) => f.listOf(v, p, (item, ip) => f.dnsName(item, ip)?.toLowerCase())) ?? [],
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
    const onLink = f.field(m, 'onLink', p, (v, bp) => f.boolean(v, bp)) ?? true;
    const autonomous = f.field(m, 'autonomous', p, (v, bp) => f.boolean(v, bp)) ?? true;
    if (prefix && autonomous && prefix.prefixLength !== SLAAC_PREFIX_LENGTH) {
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
  if (prefixLength >= 10 && isLinkLocalBytes(network)) {
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
