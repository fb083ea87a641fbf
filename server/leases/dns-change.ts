/**
 * One name change waiting to be sent to DNS. It is written in the same store
 * transaction as the lease change that caused it (a durable queue), so a
 * crash can neither lose it nor send it for a lease that was never granted.
 */
export interface DnsChange {
  /** Position in the queue; changes to one name are sent in this order. */
  seq: number;
  action: 'add' | 'remove';
  fqdn: string;
  ipv4: string;
  /** The SLAAC address registered as AAAA, when the subnet has a prefix. */
  ipv6?: string;
  /** RFC 4701 DHCID RDATA (base64) identifying the client that owns the name. */
  dhcid: string;
  /** Seconds (RFC 4702 §5). */
  ttl: number;
  createdAt: number;
}
