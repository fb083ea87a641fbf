/**
 * One address binding as the server remembers it (RFC 2131 §4.3.1 "binding").
 * Plain data: the lease store persists it, the allocator and the DHCP logic
 * decide what it means.
 */
export type LeaseState = 'bound' | 'declined' | 'released' | 'expired';

export interface Lease {
  /** Dotted-quad IPv4 address; unique across the store. */
  ip: string;
  /** How the client is recognised across messages; see `clientKeyFor`. */
  clientKey: string;
  /** Lower-case colon hex of chaddr, as `Dhcp4Message.hwAddress()` gives it. */
  hwAddress: string;
  /** Whole option 61 payload (type byte first) in lower-case hex, when the client sent one. */
  clientId?: string;
  hostname?: string;
  subnetId: string;
  state: LeaseState;
  /** Milliseconds since the Unix epoch. */
  grantedAt: number;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
  /** The name registered in DNS for this lease, if any (so it can be removed). */
  fqdn?: string;
  /** The SLAAC address registered as AAAA alongside, if any. */
  ipv6?: string;
}

/**
 * Whether a lease record no longer binds its address: released, expired, or
 * bound or declined with its time over (RFC 2131 §4.3.3: a declined address
 * must not be handed out again until the administrator, or here a timer,
 * clears it). The database's copy of this rule is `lh_reusable` in the
 * PostgreSQL schema; a test holds the two to the same table of cases.
 */
export function leaseIsReusable(lease: Pick<Lease, 'state' | 'expiresAt'>, now: number): boolean {
  switch (lease.state) {
    case 'released':
    case 'expired':
      return true;
    case 'bound':
    case 'declined':
      return lease.expiresAt <= now;
  }
}

/**
 * RFC 2131 §4.2: a client is identified by its client identifier (option 61)
 * when it sends one, otherwise by chaddr. The prefix keeps the two spaces
 * apart, so a client-id that happens to spell a MAC never matches that MAC.
 */
export function clientKeyFor(clientIdHex: string | undefined, hwAddress: string): string {
  return clientIdHex !== undefined ? `id:${clientIdHex.toLowerCase()}` : `hw:${hwAddress.toLowerCase()}`;
}
