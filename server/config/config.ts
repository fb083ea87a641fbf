import type { LogLevel } from '../../lib/core/logger.ts';
import type { DdnsConfig, SubnetDdnsConfig } from '../ddns/ddns-config.ts';
import type { RaConfig } from '../ra/ra-config.ts';

/**
 * The server's configuration after `validateConfig`: every field checked,
 * every default applied, every address in canonical form (dotted quads,
 * lower-case colon MACs, lower-case plain-hex client ids). The example file
 * config/leasehold.example.yaml documents each field for operators.
 */
export interface ServerConfig {
  interfaces: InterfaceConfig[];
  subnets: SubnetConfig[];
  leaseStore: LeaseStoreConfig;
  /** Server identifier (option 54) for every reply; default: the address of the interface the request came in on. */
  serverId?: string;
  /** How long an offered address stays set aside for the client that was offered it. */
  offerHoldSeconds: number;
  /** How long an address a client DECLINEd (RFC 2131 §3.1.5: in use by someone else) stays out of the pools. */
  declineQuarantineSeconds: number;
  /** How often expired leases are reclaimed (freed, their DNS names removed). */
  expiredReclaimIntervalSeconds: number;
  log: { level: LogLevel };
  /** Dynamic DNS (RFC 2136) for the subnets that have a `ddns` section; absent = no updates. */
  ddns?: DdnsConfig;
  /** IPv6 router advertisements (RFC 4861): SLAAC prefixes, RDNSS and DNSSL per interface; absent = none sent. */
  ra?: RaConfig;
}

export interface InterfaceConfig {
  /** Linux interface name to listen on. */
  name: string;
  /** The server's IPv4 address on that interface; discovered at runtime when absent. */
  address?: string;
}

export interface LeaseStoreConfig {
  type: 'sqlite';
  path: string;
}

export interface SubnetConfig {
  /** Stable name; leases record it, so renaming a subnet orphans its leases. */
  id: string;
  /** Network in CIDR form, host bits zero: 'a.b.c.d/len'. */
  subnet: string;
  /** Served directly on this interface; absent = reachable only through a relay (giaddr). */
  interface?: string;
  pools: PoolConfig[];
  /** Seconds (option 51). */
  leaseTime: number;
  /** T1 in seconds (option 58); defaults to 0.5 × leaseTime (RFC 2131 §4.4.5). */
  renewTime: number;
  /** T2 in seconds (option 59); defaults to 0.875 × leaseTime (RFC 2131 §4.4.5). */
  rebindTime: number;
  options: SubnetOptions;
  reservations: ReservationConfig[];
  /** How its clients are named in DNS; needs the top-level `ddns`. */
  ddns?: SubnetDdnsConfig;
}

export interface PoolConfig {
  start: string;
  end: string;
}

export interface SubnetOptions {
  routers?: string[];
  dnsServers?: string[];
  domainName?: string;
  domainSearch?: string[];
  classlessRoutes?: ClasslessRoute[];
  mtu?: number;
  ntpServers?: string[];
}

/** One RFC 3442 route: destination in CIDR form, next hop. */
export interface ClasslessRoute {
  destination: string;
  router: string;
}

/** Exactly one of `hwAddress` and `clientId` is set. */
export interface ReservationConfig {
  hwAddress?: string;
  /** Whole option 61 payload, type byte first, lower-case hex without separators. */
  clientId?: string;
  ip: string;
  hostname?: string;
}
