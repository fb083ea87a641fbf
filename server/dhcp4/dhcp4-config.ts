import type { RateLimit } from '../../lib/core/token-bucket.ts';
import type { ClasslessRoute } from '../../lib/dhcp4/options/classless-routes.ts';

/**
 * The DHCPv4 server's settings after validation (dhcp4-config-reader.ts):
 * every field checked, every default applied, every address in canonical
 * form (dotted quads, lower-case colon MACs, lower-case plain-hex client
 * ids). config/leasehold.example.yaml documents each field for operators.
 */

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
  /** T1 in seconds (option 58); defaults to 0.5 × leaseTime (`leaseTimers`). */
  renewTime: number;
  /** T2 in seconds (option 59); defaults to 0.875 × leaseTime (`leaseTimers`). */
  rebindTime: number;
  options: SubnetOptions;
  reservations: ReservationConfig[];
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

/** Exactly one of `hwAddress` and `clientId` is set. */
export interface ReservationConfig {
  hwAddress?: string;
  /** Whole option 61 payload, type byte first, lower-case hex without separators. */
  clientId?: string;
  ip: string;
  hostname?: string;
}

/** The engine's own timers, read from the top level of the file. */
export interface Dhcp4Timers {
  /** How long an offered address stays set aside for the client that was offered it. */
  offerHoldSeconds: number;
  /** How long an address a client DECLINEd (RFC 2131 §3.1.5: in use by someone else) stays out of the pools. */
  declineQuarantineSeconds: number;
}

export const DHCP4_DEFAULTS: Dhcp4Timers = {
  offerHoldSeconds: 30,
  // Kea's decline-probation-period: a declined address is probably used by a
  // host the server does not know about (RFC 2131 §3.1.5), give it a day.
  declineQuarantineSeconds: 86400,
};

/**
 * What keeps a flood from starving real clients (top-level `protection`):
 * caps on held offers, so random-MAC DISCOVERs cannot set the whole pool
 * aside, and token-bucket rate limits on what is even looked at. Every
 * drop is counted by reason and logged once per interval.
 */
export interface Dhcp4Protection {
  /** Most offers held at once in one subnet, as a percentage of its pool addresses (at least one address). */
  heldOffersPercentOfPool: number;
  /** Most offers held at once in all subnets together. */
  heldOffersMax: number;
  rateLimits: {
    /** Every datagram, before it is decoded. */
    global: RateLimit;
    /** Requests that arrive directly (giaddr 0), per interface. */
    perInterface: RateLimit;
    /** Relayed requests, per relay (giaddr). */
    perRelay: RateLimit;
    /** Per client hardware address (chaddr): one noisy client. */
    perClient: RateLimit;
  };
}

export const DHCP4_PROTECTION_DEFAULTS: Dhcp4Protection = {
  heldOffersPercentOfPool: 50,
  heldOffersMax: 262144,
  rateLimits: {
    // Well above what the server can answer (a few thousand DORA/s, two
    // datagrams each), so they only bite on a flood.
    global: { perSecond: 50000, burst: 50000 },
    perInterface: { perSecond: 20000, burst: 20000 },
    perRelay: { perSecond: 20000, burst: 20000 },
    // A real client sends a few datagrams per exchange and retransmits
    // after ~4 s (RFC 2131 §4.1).
    perClient: { perSecond: 10, burst: 20 },
  },
};

/** Short leases make T1/T2 collide; 0xffffffff means "infinite" (RFC 2131 §3.3), which we do not offer. */
export const LEASE_TIME_LIMITS = { min: 10, max: 0xfffffffe };

/**
 * T1 and T2 of a lease: as configured, else RFC 2131 §4.4.5's defaults,
 * 0.5 and 0.875 of the lease time (whole seconds, rounded down).
 */
export function leaseTimers(leaseTime: number, renewTime?: number, rebindTime?: number): { renewTime: number; rebindTime: number } {
  return {
    renewTime: renewTime ?? Math.floor(leaseTime * 0.5),
    rebindTime: rebindTime ?? Math.floor(leaseTime * 0.875),
  };
}

/** How the DHCPv4 sockets send (the `dhcp4Sockets` section). */
export interface TransportLimits {
  /** 'auto' uses the native sockets when built, else dgram. */
  implementation: 'auto' | 'native' | 'dgram';
  /** Replies queued at most per socket while its send buffer is full. */
  maxQueuedReplies: number;
  /** A reply whose request arrived longer ago than this is dropped, not sent. */
  replyDeadlineMs: number;
}

/** The receive path's bound beside the send path's. */
export interface Dhcp4SocketLimits extends TransportLimits {
  /** A request that has waited longer than this (from the kernel's receive time) is dropped, not answered. */
  requestDeadlineMs: number;
}

/**
 * RFC 2131 §4.1: a client retransmits after 4 s ± 1 s, so an answer later
 * than that goes to a transaction its client has given up on or sent
 * again, and the time spent on it delays the requests behind it. A request
 * is dropped once it has waited 2 s, which leaves room for the commit and
 * the send before the reply's own deadline, 3 s after the request arrived.
 */
export const DHCP4_SOCKET_DEFAULTS: Dhcp4SocketLimits = {
  implementation: 'auto',
  maxQueuedReplies: 1024,
  requestDeadlineMs: 2000,
  replyDeadlineMs: 3000,
};
