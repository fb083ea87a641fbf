import type { LogLevel } from '../../lib/core/logger.ts';
import type { DdnsConfig, SubnetDdnsConfig } from '../ddns/ddns-config.ts';
import type { Dhcp4Protection, Dhcp4SocketLimits, Dhcp4Timers, SubnetConfig } from '../dhcp4/dhcp4-config.ts';
import type { LeaseStoreConfig } from '../leases/lease-store-config.ts';
import type { RaConfig } from '../ra/ra-config.ts';
import type { ControlConfig } from '../ops/ops-config.ts';
import type { HaConfig } from '../cluster/ha-config.ts';

/**
 * The server's configuration after `validateConfig`: the root settings
 * (interfaces, lease store, log, server id, reclaim interval) read here,
 * and each capability's section read and checked by that capability's own
 * reader (dhcp4-config-reader.ts, ddns-config-reader.ts,
 * ra-config-reader.ts, ops-config-reader.ts), in the types it declares. The example file
 * config/leasehold.example.yaml documents each field for operators.
 */
export interface ServerConfig extends Dhcp4Timers {
  interfaces: InterfaceConfig[];
  subnets: ServerSubnetConfig[];
  leaseStore: LeaseStoreConfig;
  /** Server identifier (option 54) for every reply; default: the address of the interface the request came in on. */
  serverId?: string;
  /** Held-offer caps and rate limits against floods (defaults: DHCP4_PROTECTION_DEFAULTS). */
  protection: Dhcp4Protection;
  /** How often expired leases are reclaimed (freed, their DNS names removed). */
  expiredReclaimIntervalSeconds: number;
  log: { level: LogLevel };
  /** The DHCPv4 sockets: which implementation, and the receive and send paths' bounds. */
  dhcp4Sockets: Dhcp4SocketLimits;
  /** Dynamic DNS (RFC 2136) for the subnets that have a `ddns` section; absent = no updates. */
  ddns?: DdnsConfig;
  /** IPv6 router advertisements (RFC 4861): SLAAC prefixes, RDNSS and DNSSL per interface; absent = none sent. */
  ra?: RaConfig;
  /** The control API (unix socket, optional HTTP), where /metrics and /healthz are served too. */
  control: ControlConfig;
  /** Several servers on one shared PostgreSQL lease database, splitting clients by RFC 3074 buckets; absent = this server answers every client. */
  ha?: HaConfig;
}

/**
 * A subnet as the file has it: the DHCP server's settings, and the section
 * DDNS owns in it (given to DDNS by subnet id, `subnetDdnsById`).
 */
export interface ServerSubnetConfig extends SubnetConfig {
  /** How its clients are named in DNS; needs the top-level `ddns`. */
  ddns?: SubnetDdnsConfig;
}

export interface InterfaceConfig {
  /** Linux interface name to listen on. */
  name: string;
  /** The server's IPv4 address on that interface; discovered at runtime when absent. */
  address?: string;
}
