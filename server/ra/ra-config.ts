import type { RoutePreference } from '../../lib/ndp/router-preference.ts';

/**
 * Router advertisement settings after validation (server/config/validate.ts):
 * every field checked against RFC 4861 §6.2.1, defaults applied, prefixes
 * and addresses in RFC 5952 form, domains lower-case without the trailing
 * dot. config/leasehold.example.yaml documents each field for operators.
 */
export interface RaConfig {
  interfaces: RaInterfaceConfig[];
}

/** What a configuration may ask for: the reserved value is for the wire only. */
export type ConfiguredPreference = Exclude<RoutePreference, 'reserved'>;

export const CONFIGURED_PREFERENCES: readonly ConfiguredPreference[] = ['low', 'medium', 'high'];

/**
 * How Router Solicitations are answered.
 * - `rfc4861`: RFC 4861 §6.2.6 — a multicast RA after a random delay of up
 *   to MAX_RA_DELAY_TIME, never sooner than MIN_DELAY_BETWEEN_RAS after the
 *   previous multicast RA, folded into the next unsolicited one when that
 *   is due first.
 * - `immediate`: for labs and tests, where clients should not wait up to
 *   half a second (or three). The answer goes out at once, unicast to the
 *   soliciting host as RFC 7772 §5.1 and radvd's AdvRASolicitedUnicast do,
 *   multicast when the solicitation came from the unspecified address. It
 *   breaks §6.2.6's MUST of a random delay: not for a shared production link.
 */
export type SolicitedResponse = 'rfc4861' | 'immediate';

export const SOLICITED_RESPONSES: readonly SolicitedResponse[] = ['rfc4861', 'immediate'];

/** One advertising interface: the router variables of RFC 4861 §6.2.1, named after them. */
export interface RaInterfaceConfig {
  /** Linux interface name. */
  name: string;
  /** MaxRtrAdvInterval, 4..1800 s. */
  maxIntervalSeconds: number;
  /** MinRtrAdvInterval, 3..0.75 × MaxRtrAdvInterval s. */
  minIntervalSeconds: number;
  /** AdvManagedFlag (M). */
  managed: boolean;
  /** AdvOtherConfigFlag (O). */
  otherConfig: boolean;
  /** AdvCurHopLimit; 0 = unspecified. */
  curHopLimit: number;
  /** AdvDefaultLifetime: 0 (not a default router) or MaxRtrAdvInterval..9000 s. */
  routerLifetimeSeconds: number;
  /** Default Router Preference (RFC 4191 §2.2); medium when routerLifetimeSeconds is 0. */
  routerPreference: ConfiguredPreference;
  /** AdvReachableTime, 0..3600000 ms; 0 = unspecified. */
  reachableTimeMs: number;
  /** AdvRetransTimer, ms; 0 = unspecified. */
  retransTimerMs: number;
  /** AdvLinkMTU; absent = no MTU option. */
  mtu?: number;
  /** Send the interface's MAC (Source Link-Layer Address option), sparing hosts a Neighbor Solicitation. */
  sourceLinkLayerAddress: boolean;
  solicitedResponse: SolicitedResponse;
  /** AdvPrefixList. */
  prefixes: RaPrefixConfig[];
  /** Route Information options (RFC 4191). */
  routes: RaRouteConfig[];
  /** RDNSS addresses (RFC 8106 §5.1), RFC 5952 text. */
  rdnss: string[];
  /** DNSSL domains (RFC 8106 §5.2). */
  dnssl: string[];
  /** Lifetime of the RDNSS and DNSSL options. */
  dnsLifetimeSeconds: number;
}

export interface RaPrefixConfig {
  /** The network in RFC 5952 text, host bits zero. */
  prefix: string;
  prefixLength: number;
  /** AdvOnLinkFlag (L). */
  onLink: boolean;
  /** AdvAutonomousFlag (A): hosts form SLAAC addresses in it. */
  autonomous: boolean;
  /** AdvValidLifetime; 4294967295 = infinity. */
  validLifetimeSeconds: number;
  /** AdvPreferredLifetime, at most the valid lifetime. */
  preferredLifetimeSeconds: number;
}

export interface RaRouteConfig {
  prefix: string;
  prefixLength: number;
  preference: ConfiguredPreference;
  /** 4294967295 = infinity. */
  lifetimeSeconds: number;
}

/** RFC 4861 §6.2.1 defaults, and RFC 8106 §5.1's for the DNS options. */
export const RA_DEFAULTS = {
  maxIntervalSeconds: 600,
  /** 0.33 × MaxRtrAdvInterval, but never below the 3 s floor. */
  minIntervalSeconds: (max: number) => Math.max(3, Math.floor(0.33 * max)),
  curHopLimit: 64,
  /** 3 × MaxRtrAdvInterval, within the 9000 s ceiling. */
  routerLifetimeSeconds: (max: number) => Math.min(9000, 3 * max),
  routerPreference: 'medium' as ConfiguredPreference,
  validLifetimeSeconds: 2_592_000,
  preferredLifetimeSeconds: 604_800,
  /** RFC 4191 gives none; radvd's, 3 × MaxRtrAdvInterval. */
  routeLifetimeSeconds: (max: number) => 3 * max,
  /** RFC 8106 §5.1: "SHOULD by default be at least 3 × MaxRtrAdvInterval". */
  dnsLifetimeSeconds: (max: number) => 3 * max,
  solicitedResponse: 'rfc4861' as SolicitedResponse,
};

/** The bounds of RFC 4861 §6.2.1. */
export const RA_LIMITS = {
  minMaxInterval: 4,
  maxMaxInterval: 1800,
  minMinInterval: 3,
  maxRouterLifetime: 9000,
  maxReachableTimeMs: 3_600_000,
  /** RFC 8200 §5: the IPv6 minimum link MTU. */
  minMtu: 1280,
};
