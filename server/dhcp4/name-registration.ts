import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import type { ReplyModifier } from '../../lib/dhcp4/reply.ts';
import type { DnsChange } from '../leases/dns-change.ts';
import type { Lease } from '../leases/lease.ts';

/**
 * The DNS side of bindings (server/ddns): the engine asks it what a binding
 * registers and queues the answer in the same store transaction as the lease.
 */
export interface NameRegistrar {
  /**
   * A new or renewed binding (`previous` is this client's record for the same
   * address, if any; `lease.subnetId` names its subnet, whose naming the
   * registrar keeps itself): returns the lease as it will be stored (with
   * `fqdn`), the DNS changes to queue, and what to add to the ACK (option 81).
   */
  onBind(lease: Lease, previous: Lease | undefined, req: Dhcp4Message): BindRegistration;
  /** A binding ends (release, expiry, decline, move): the changes that remove its name. */
  onUnbind(lease: Lease): DnsChange[];
  /** These changes are durable now: send them. */
  committed(changes: DnsChange[]): void;
}

export interface BindRegistration {
  lease: Lease;
  enqueue: DnsChange[];
  reply?: ReplyModifier;
}
