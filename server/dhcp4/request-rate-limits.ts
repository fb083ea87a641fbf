import { KeyedTokenBuckets, TokenBucket } from '../../lib/core/token-bucket.ts';
import type { Dhcp4Protection } from './dhcp4-config.ts';

/** Which limit refused a request: the counters' and log lines' `scope` label. */
export type RateLimitScope = 'global' | 'interface' | 'relay' | 'client';

/** Enough for every interface and relay of a large site; beyond it the longest-quiet key is forgotten. */
const MAX_LINK_KEYS = 4096;
/** Client buckets kept: a flood from made-up MACs churns them, memory stays bounded. */
const MAX_CLIENT_KEYS = 65536;

/**
 * The server's rate limits, in the order they cost least to check: all
 * datagrams together before decoding (a flood then costs no decode), then,
 * once decoded, the link the request came by — its relay (giaddr,
 * RFC 2131 §4.1) or else the interface — and the client's hardware
 * address. A request must pass every bucket; each bucket it passes is
 * charged, so a client over its own limit still uses its link's tokens
 * (what it sends reaches the server either way). Time is in milliseconds
 * from a monotonic clock, passed in.
 */
export class RequestRateLimits {
  readonly #global: TokenBucket;
  readonly #interfaces: KeyedTokenBuckets;
  readonly #relays: KeyedTokenBuckets;
  readonly #clients: KeyedTokenBuckets;

  constructor(limits: Dhcp4Protection['rateLimits'], now: number) {
    this.#global = new TokenBucket(limits.global, now);
    this.#interfaces = new KeyedTokenBuckets(limits.perInterface, MAX_LINK_KEYS);
    this.#relays = new KeyedTokenBuckets(limits.perRelay, MAX_LINK_KEYS);
    this.#clients = new KeyedTokenBuckets(limits.perClient, MAX_CLIENT_KEYS);
  }

  /** Before decoding: may one more datagram be looked at? */
  admitDatagram(now: number): boolean {
    return this.#global.take(now);
  }

  /** After decoding: the first limit the request is over, or undefined when it may be served. */
  refusedBy(request: { interfaceName: string; giaddr: string; hwAddress: string }, now: number): RateLimitScope | undefined {
    const relayed = request.giaddr !== '0.0.0.0';
    const linkOk = relayed ? this.#relays.take(request.giaddr, now) : this.#interfaces.take(request.interfaceName, now);
    if (!linkOk) return relayed ? 'relay' : 'interface';
    if (!this.#clients.take(request.hwAddress, now)) return 'client';
    return undefined;
  }
}
