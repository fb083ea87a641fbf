import type { TsigAlgorithm } from '../../lib/dns/tsig.ts';

/**
 * Dynamic DNS settings after validation (ddns-config-reader.ts): every
 * field checked, defaults applied, names lower-case without the trailing
 * dot, addresses in canonical form. config/leasehold.example.yaml documents
 * each field for operators.
 */

/**
 * What to do when the name a client wants is already in DNS, after Kea's
 * `ddns-conflict-resolution-mode` (the four modes and their meaning are
 * Kea's; the UPDATEs they send are in conflict-resolution.ts).
 */
export type ConflictResolutionMode =
  /** RFC 4703 as written: replace only a name whose DHCID is this client's. */
  | 'check-with-dhcid'
  /** Overwrite whatever is there, and guard the new records with a DHCID. */
  | 'no-check-with-dhcid'
  /** Replace a name that has any DHCID (so a dynamic one), never a static one. */
  | 'check-exists-with-dhcid'
  /** Overwrite whatever is there, and add no DHCID. */
  | 'no-check-without-dhcid';

export const CONFLICT_RESOLUTION_MODES: readonly ConflictResolutionMode[] = [
  'check-with-dhcid',
  'no-check-with-dhcid',
  'check-exists-with-dhcid',
  'no-check-without-dhcid',
];

/** The TSIG algorithms tsig.ts signs with, for validation and its messages. */
export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = ['hmac-sha1', 'hmac-sha256', 'hmac-sha512'];

/** What to do with a name the policy refuses (name-policy.ts): register a generated name instead, or none. */
export type RefusedNamePolicy = 'generate' | 'skip';

export const REFUSED_NAME_POLICIES: readonly RefusedNamePolicy[] = ['generate', 'skip'];

export interface DdnsConfig {
  /** false keeps the configuration but sends no update (clients that ask are told so, RFC 4702 §2.1 N bit). */
  enabled: boolean;
  /** Forward and reverse zones the server may update; a name goes to the zone that is its longest suffix. */
  zones: DdnsZoneConfig[];
  conflictResolution: ConflictResolutionMode;
  ttl: DdnsTtlConfig;
  onRefusedName: RefusedNamePolicy;
  /** false: a renewal whose name and addresses did not change sends nothing. */
  updateOnRenew: boolean;
  /** Back-off between attempts of an update that could not be made (server down or failing); a refusal for good is parked instead (ddns-worker.ts). */
  retry: { initialMs: number; maxMs: number };
  /** Seconds between comparisons of the lease table with DNS (reconciler.ts), also run at start; 0 = only at start. */
  reconcileIntervalSeconds: number;
  /**
   * Several servers on one database (`leaseStore.shared`): how long a
   * server's claim on a queued change lasts unless it renews it, so how
   * soon another server sends the changes of one that died. The holder
   * stops starting UPDATEs a third of it before the end, which must cover
   * the longest DNS exchange.
   */
  claimSeconds: number;
}

export interface DdnsZoneConfig {
  /** Zone apex, lower-case, no trailing dot ("leasehold.test", "18.198.in-addr.arpa"). */
  name: string;
  /** Tried in order: the primary first (RFC 2136 §4 sends updates to the primary master). */
  servers: DnsServerConfig[];
  key?: TsigKeyConfig;
}

export interface DnsServerConfig {
  /** IPv4 dotted quad or RFC 5952 IPv6 text. */
  address: string;
  port: number;
}

/** Exactly one of `secret` and `secretFile` is set. */
export interface TsigKeyConfig {
  /** Key name as the DNS server knows it, lower-case, no trailing dot. */
  name: string;
  algorithm: TsigAlgorithm;
  /** Base64 of the shared secret. */
  secret?: string;
  /**
   * A key file as `tsig-keygen` writes it (tsig-key-file.ts), read at
   * start-up, so the secret stays out of the configuration, and re-read
   * every few seconds while running, so a corrected key needs no restart.
   */
  secretFile?: string;
}

/** RFC 4702 §5: TTL = lease / 3, kept within [floor, cap] seconds (ddns-ttl.ts). */
export interface DdnsTtlConfig {
  floor: number;
  cap: number;
}

/** Per subnet: where its clients' names live. */
export interface SubnetDdnsConfig {
  /** Names are `<host>.<app>.<domain>`; inside one of the configured zones. */
  domain: string;
  /** App label for clients that do not name one (only a host label, or option 12). */
  defaultApp: string;
  /** App labels clients may ask for; absent = any RFC 1123 label. Contains `defaultApp`. */
  allowedApps?: string[];
  /** A /64 advertised for SLAAC: clients also get the AAAA of their EUI-64 address in it (eui64.ts). */
  slaacPrefix?: string;
}

/**
 * Each subnet's `ddns`, by subnet id (what a lease records in `subnetId`):
 * the subnets are the DHCP server's, their naming is DDNS's own.
 */
export type SubnetDdnsById = ReadonlyMap<string, SubnetDdnsConfig>;

export function subnetDdnsById(subnets: ReadonlyArray<{ id: string; ddns?: SubnetDdnsConfig }>): SubnetDdnsById {
  return new Map(subnets.flatMap((s) => (s.ddns ? [[s.id, s.ddns] as const] : [])));
}

export const DDNS_DEFAULTS = {
  enabled: true,
  conflictResolution: 'check-with-dhcid' as ConflictResolutionMode,
  // Containers come and go within minutes: a short floor keeps dead names
  // out of caches; the cap keeps a long lease from pinning a name for days.
  ttl: { floor: 60, cap: 86400 } as DdnsTtlConfig,
  onRefusedName: 'generate' as RefusedNamePolicy,
  updateOnRenew: false,
  retry: { initialMs: 1000, maxMs: 60_000 },
  reconcileIntervalSeconds: 300,
  claimSeconds: 30,
  dnsPort: 53,
  // RFC 8945 §6: the one algorithm every implementation must support.
  tsigAlgorithm: 'hmac-sha256' as TsigAlgorithm,
};
