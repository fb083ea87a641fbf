import type { BindRegistration, NameRegistrar } from '../dhcp4/name-registration.ts';
import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Opt, type OptionDef } from '../../lib/dhcp4/option-defs.ts';
import type { Lease } from '../leases/lease.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import type { DdnsConfig, SubnetDdnsById } from './ddns-config.ts';
import { ddnsTtl } from './ddns-ttl.ts';
import { dhcidFor, dhcidIdentityV4 } from '../../lib/dns/dhcid.ts';
import type { DnsChange } from '../leases/dns-change.ts';
import { chooseName } from './name-policy.ts';

/** RFC 1700 hardware type 1: every client we serve is on Ethernet. */
const ETHERNET = 1;

/**
 * Decides, for each binding, which name it registers (name-policy.ts) and
 * turns that into queued DNS changes; pure, so the engine can call it inside
 * its decision and the changes land in the lease's own transaction.
 */
export class DdnsRegistrar implements NameRegistrar {
  #lastSeq: number;

  constructor(
    private readonly ddns: DdnsConfig,
    /** Where each subnet's clients are named; a subnet without an entry registers nothing. */
    private readonly subnets: SubnetDdnsById,
    private readonly now: () => number,
    /** Highest sequence number already in the store's queue. */
    lastSeq: number,
    private readonly onCommitted: (changes: DnsChange[]) => void,
  ) {
    this.#lastSeq = lastSeq;
  }

  onBind(lease: Lease, previous: Lease | undefined, req: Dhcp4Message): BindRegistration {
    const decision = chooseName({
      fqdnOption: optionOrUndefined(req, Opt.ClientFqdn),
      hostname: optionOrUndefined(req, Opt.Hostname),
      clientKey: lease.clientKey,
      ipv4: lease.ip,
      hwAddress: lease.hwAddress,
      ddns: this.ddns,
      subnet: this.subnets.get(lease.subnetId),
    });
    const fqdnReply = decision.fqdnReply;
    // RFC 4702 §4: the server answers option 81 to a client that sent it.
    const reply = fqdnReply ? (r: Dhcp4Message) => r.options.set(Opt.ClientFqdn, fqdnReply) : undefined;
    const stillOurs = previous?.state === 'bound' ? previous : undefined;
    if (!decision.register) {
      return { lease, enqueue: stillOurs?.fqdn ? this.onUnbind(stillOurs) : [], reply };
    }
    const ipv6 = decision.addresses.find((a) => a.record.type === 'AAAA')?.record.data;
    const registered: Lease = { ...lease, fqdn: decision.fqdn, ...(ipv6 !== undefined && { ipv6 }) };
    const unchanged = stillOurs !== undefined && stillOurs.fqdn === registered.fqdn && stillOurs.ipv6 === registered.ipv6;
    if (unchanged && !this.ddns.updateOnRenew) return { lease: registered, enqueue: [], reply };
    const enqueue: DnsChange[] = [];
    if (stillOurs?.fqdn !== undefined && stillOurs.fqdn !== registered.fqdn) enqueue.push(...this.onUnbind(stillOurs));
    enqueue.push(this.changeFor('add', registered));
    return { lease: registered, enqueue, reply };
  }

  onUnbind(lease: Lease): DnsChange[] {
    return lease.fqdn === undefined ? [] : [this.changeFor('remove', lease)];
  }

  committed(changes: DnsChange[]): void {
    this.onCommitted(changes);
  }

  /** The queue entry that publishes (or withdraws) `lease.fqdn` for this lease; the TTL is RFC 4702 §5's. */
  changeFor(action: DnsChange['action'], lease: Lease): DnsChange {
    const fqdn = lease.fqdn as string;
    const leaseSeconds = Math.round((lease.expiresAt - lease.grantedAt) / 1000);
    const ttl = action === 'add' ? ddnsTtl(leaseSeconds, this.ddns.ttl) : 0;
    return {
      seq: ++this.#lastSeq,
      action,
      fqdn,
      ipv4: lease.ip,
      ...(lease.ipv6 !== undefined && { ipv6: lease.ipv6 }),
      dhcid: dhcidFor(dhcidIdentityV4(lease.clientId, ETHERNET, lease.hwAddress), fqdn),
      ttl,
      createdAt: this.now(),
    };
  }
}

/**
 * A malformed option 81 or 12 costs the client its name, not its lease:
 * the address is still granted, only unregistered.
 */
function optionOrUndefined<T>(req: Dhcp4Message, def: OptionDef<T>): T | undefined {
  try {
    return req.options.get(def);
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}
