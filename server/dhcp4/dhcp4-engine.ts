import type { Clock } from '../../lib/core/clock.ts';
import type { LogFields, Logger } from '../../lib/core/logger.ts';
import type { SubnetConfig } from './dhcp4-config.ts';
import type { ReservationKey, StoredReservation } from '../leases/reservation.ts';
import type { DnsChange } from '../leases/dns-change.ts';
import { clientKeyFor, leaseIsReusable, type Lease } from '../leases/lease.ts';
import type { ConditionalLeaseStore, LeaseChange, LeaseExpectation, LeaseStore } from '../leases/lease-store.ts';
import { intToIp, ipToInt } from '../../lib/wire/ipv4.ts';
import { AddressAllocator, NoAddressAvailableError } from './address-allocator.ts';
import { LeaseTable, type OfferHold } from './lease-table.ts';
import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';
import { newReplyFromRequest, type ReplyModifier } from '../../lib/dhcp4/reply.ts';
import type { NameRegistrar } from './name-registration.ts';
import { replyDestination, type Destination } from './reply-destination.ts';
import { withLeaseTimes, withSubnetOptions, type LeaseTimes } from './reply-options.ts';
import { poolSize, reservationFor, subnetContains, toServedSubnet, type ClientIdentity, type ServedSubnet } from './served-subnet.ts';
import { leaseTimers } from './dhcp4-config.ts';

const ZERO = '0.0.0.0';

/** Where a request came in: which interface, and our address on it. */
export interface RequestContext {
  interfaceName: string;
  /** Our IPv4 address on that interface; the server identifier, option 54. */
  serverAddress: string;
}

/**
 * What the engine decided. `silent` is a silence the RFC requires (not an
 * error); `drop` is input we refuse, counted by reason.
 */
export type Outcome =
  | { kind: 'reply'; reply: Dhcp4Message; to: Destination }
  | { kind: 'silent'; reason: string; cause: SilentCause }
  | { kind: 'drop'; reason: string; cause: DropCause };

/** Why a request was dropped, as a metric label: a protocol violation, or a store that failed to commit. */
export type DropCause = 'invalid' | 'store_failed';

/**
 * Why a request got no answer, as a metric label: no subnet for its link,
 * no free address, meant for another server, a client we have no record of
 * (RFC 2131 §4.3.2 INIT-REBOOT, a RELEASE or DECLINE for an address it does
 * not hold), or `done` (RELEASE and DECLINE, which have no answer).
 */
export type SilentCause = 'no_subnet' | 'no_address' | 'not_for_us' | 'unknown_client' | 'done';

export interface Dhcp4EngineOptions {
  subnets: SubnetConfig[];
  store: LeaseStore;
  clock: Clock;
  logger: Logger;
  offerHoldSeconds: number;
  declineQuarantineSeconds: number;
  /** The server's own addresses: never handed out, all valid as server id. */
  serverAddresses: string[];
  /** DNS registration; absent when DDNS is off. */
  registrar?: NameRegistrar;
  /**
   * Several servers write the store (a shared PostgreSQL database): the
   * table is then a cache, and every write carries what the engine assumed
   * (`LeaseExpectation`); a write the database refuses is `lost`, its rows
   * are learnt, and the request is answered as if the engine had known
   * (a NAK for a REQUEST, silence otherwise). Needs a ConditionalLeaseStore.
   */
  conditionalCommits?: boolean;
  /**
   * With several servers on one database (RFC 3074 load balancing): whether
   * this server's share of the buckets includes `bucket` (0–255). New
   * addresses are then taken first from this server's share of the pools
   * (see AddressAllocator), so two servers do not offer the same free
   * address to two clients and lose every other commit. Absent = one server.
   */
  ownsBucket?: (bucket: number) => boolean;
  /** Caps on held offers (`protection` in the file); absent = none. */
  holdLimits?: HoldLimits;
  /** Counters (the appliance's registry); absent = not counted. */
  counters?: EngineCounters;
  /**
   * Where warnings a flood can repeat per packet go (the service's
   * once-per-interval log); absent = the logger, one line each.
   */
  floodLog?: { warn(event: string, fields: LogFields): void };
}

export interface HoldLimits {
  /** Per subnet, as a percentage of its pool addresses (at least one hold). */
  percentOfPool: number;
  /** In all subnets together. */
  max: number;
}

/** What the engine counts with (the registry's `inc`). */
export interface EngineCounters {
  inc(name: string, labels?: Readonly<Record<string, string>>, by?: number): void;
}

/** What became of a change the engine wrote. */
type Applied = 'committed' | 'lost' | 'failed';

/** What an operator's change writes besides leases: bindings forgotten, reservations made or withdrawn. */
type AdminExtras = Omit<LeaseChange, 'put' | 'enqueue' | 'dequeue'>;

/**
 * The DHCPv4 decision logic of RFC 2131 §4.3, with no I/O of its own: it
 * reads and updates the in-memory LeaseTable synchronously and waits for the
 * LeaseStore only to make a binding durable before its ACK is released.
 */
export class Dhcp4Engine {
  readonly table: LeaseTable;
  private subnets: ServedSubnet[];
  private readonly allocator: AddressAllocator;
  private readonly ourAddresses: Set<string>;
  /** subnet id → most offers held in it at once. */
  private readonly holdCaps = new Map<string, number>();

  constructor(private readonly opts: Dhcp4EngineOptions) {
    if (opts.conditionalCommits && !('commitConditional' in opts.store)) throw new Error('conditional commits need a store that judges them (ConditionalLeaseStore)');
    this.subnets = opts.subnets.map(toServedSubnet);
    this.setHoldCaps();
    this.table = new LeaseTable(opts.store.loadAll());
    this.ourAddresses = new Set(opts.serverAddresses);
    this.allocator = new AddressAllocator(this.table, new Set(opts.serverAddresses.map(ipToInt)), this.subnets, opts.ownsBucket);
  }

  /** The subnets served now, in the form the request path uses. */
  get servedSubnets(): readonly ServedSubnet[] {
    return this.subnets;
  }

  /**
   * Serves `subnets` from now on — a configuration reload, a reservation
   * added or withdrawn — keeping the lease table and the held offers as
   * they are: a binding whose address the new pools no longer hold stays
   * the client's until it ends (`boundUntil`), and the leases of a subnet
   * that is gone stay in the table until they expire.
   */
  reconfigure(subnets: readonly SubnetConfig[]): void {
    this.subnets = subnets.map(toServedSubnet);
    this.setHoldCaps();
    // The allocator's free sets are built from the pools and reservations: rebuilt from the new ones.
    this.allocator.reindex(this.subnets);
  }

  private setHoldCaps(): void {
    this.holdCaps.clear();
    for (const s of this.subnets) {
      const cap = this.opts.holdLimits ? Math.max(1, Math.ceil((poolSize(s) * this.opts.holdLimits.percentOfPool) / 100)) : Infinity;
      this.holdCaps.set(s.id, cap);
    }
  }

  /**
   * A change the operator makes (the control API), applied to the table at
   * once and made durable in one transaction: `put` leases written as
   * given; `remove` bindings ended and forgotten. A record that loses its
   * DNS name — removed, or replaced by one without that name — has the name
   * withdrawn through the DNS queue in the same transaction. Reservations
   * ride along to the store (the caller reconfigures the subnets). Rejects
   * with the store's error, the table put back, when the commit fails.
   */
  async applyAdminChange(change: { put?: Lease[]; remove?: Lease[]; reserve?: StoredReservation[]; unreserve?: ReservationKey[] }): Promise<void> {
    const now = this.opts.clock.now();
    const enqueue: DnsChange[] = [];
    for (const lease of change.put ?? []) {
      const existing = this.table.leaseAt(ipToInt(lease.ip));
      if (existing?.fqdn !== undefined && existing.fqdn !== lease.fqdn) this.unbind(existing, { state: 'expired', expiresAt: now }, enqueue);
    }
    for (const lease of change.remove ?? []) this.unbind(lease, { state: 'expired', expiresAt: now }, enqueue);
    for (const lease of [...(change.put ?? []), ...(change.remove ?? [])]) this.table.releaseOfferOf(lease.clientKey);
    await this.apply(change.put ?? [], enqueue, [], {
      remove: (change.remove ?? []).map((l) => l.ip),
      reserve: change.reserve,
      unreserve: change.unreserve,
    });
  }

  async handle(req: Dhcp4Message, ctx: RequestContext): Promise<Outcome> {
    if (req.op !== 1) return drop('not a BOOTREQUEST');
    const type = req.options.get(Opt.MessageType);
    if (type === undefined) return drop('no DHCP message type (BOOTP is not served)');
    switch (type) {
      case Dhcp4MessageType.Discover:
        return this.discover(req, ctx);
      case Dhcp4MessageType.Request:
        return this.request(req, ctx);
      case Dhcp4MessageType.Decline:
        return this.decline(req, ctx);
      case Dhcp4MessageType.Release:
        return this.release(req, ctx);
      case Dhcp4MessageType.Inform:
        return this.inform(req, ctx);
      default:
        return drop(`unexpected message type ${type} from a client`);
    }
  }

  /**
   * The subnet a request belongs to (RFC 2131 §4.3.1): the relay's subnet
   * when giaddr is set, else one served directly on the arrival interface,
   * preferring the one that holds the client's current or requested address.
   */
  selectSubnet(req: Dhcp4Message, ctx: RequestContext): ServedSubnet | undefined {
    if (req.giaddr !== ZERO) {
      const relay = ipToInt(req.giaddr);
      return this.subnets.find((s) => subnetContains(s, relay));
    }
    const direct = this.subnets.filter((s) => s.config.interface === ctx.interfaceName);
    if (direct.length <= 1) return direct[0];
    const hint = req.ciaddr !== ZERO ? req.ciaddr : req.options.get(Opt.RequestedIp);
    if (hint !== undefined) {
      const ip = ipToInt(hint);
      const match = direct.find((s) => subnetContains(s, ip));
      if (match) return match;
    }
    return direct[0];
  }

  /** RFC 2131 §4.3.1: choose an address, hold it, and OFFER it. */
  private discover(req: Dhcp4Message, ctx: RequestContext): Outcome {
    const subnet = this.selectSubnet(req, ctx);
    if (!subnet) return silent('no subnet serves this link', 'no_subnet');
    const client = identityOf(req);
    const key = client.key;
    const now = this.opts.clock.now();
    this.table.advance(now);
    this.makeRoomForHold(subnet, key, now);
    let ip: number;
    try {
      ip = this.chooseOfferAddress(subnet, client, req, now);
    } catch (err) {
      if (err instanceof NoAddressAvailableError) return this.poolExhausted(subnet);
      throw err;
    }
    this.table.holdOffer({ ip, clientKey: key, subnetId: subnet.id, expiresAt: now + this.opts.offerHoldSeconds * 1000 });
    return this.replyTo(req, Dhcp4MessageType.Offer, ctx, withAddress(ip), withLeaseTimes(subnet), withSubnetOptions(subnet, req));
  }

  /**
   * Keeps held offers under their caps before a new one is made, by
   * withdrawing the oldest ones (of the clients offered an address, the
   * one that has not REQUESTed it for longest is the likeliest to have
   * gone, or never to have been): a flood of DISCOVERs from made-up MACs
   * then holds at most the cap, and real clients still find addresses.
   * A retransmitted DISCOVER replaces the client's own hold, so needs no room.
   */
  private makeRoomForHold(subnet: ServedSubnet, clientKey: string, now: number): void {
    if (this.table.offerOf(clientKey, now)) return;
    const cap = this.holdCaps.get(subnet.id) ?? Infinity;
    while (this.table.offerCountIn(subnet.id) >= cap) {
      const oldest = this.table.oldestOfferIn(subnet.id);
      if (!oldest) break;
      this.evictHold(oldest, 'subnet_cap');
    }
    const max = this.opts.holdLimits?.max ?? Infinity;
    while (this.table.offerCount >= max) {
      const oldest = this.table.oldestOffer();
      if (!oldest) break;
      this.evictHold(oldest, 'total_cap');
    }
  }

  private evictHold(hold: OfferHold, reason: string): void {
    this.table.dropOfferAt(hold.ip);
    this.opts.counters?.inc('offer_holds_evicted', { subnet: hold.subnetId, reason });
    this.floodWarn('offer-hold-evicted', { subnet: hold.subnetId, reason });
  }

  private poolExhausted(subnet: ServedSubnet): Outcome {
    this.opts.counters?.inc('pool_exhausted', { subnet: subnet.id });
    this.floodWarn('pool-exhausted', { subnet: subnet.id });
    return silent('no address available', 'no_address');
  }

  private floodWarn(event: string, fields: LogFields): void {
    (this.opts.floodLog ?? this.opts.logger).warn(event, fields);
  }

  /**
   * The order the address is chosen in: the client's binding (current or
   * previous, §4.3.1), an offer we already hold for it (a retransmitted
   * DISCOVER), its reservation, the address it asked for, then the pool.
   */
  private chooseOfferAddress(subnet: ServedSubnet, client: ClientIdentity, req: Dhcp4Message, now: number): number {
    const key = client.key;
    const usable = (ip: number) => this.allocator.isAvailableFor(subnet, ip, client, now);
    const binding = this.table.leaseOf(subnet.id, key);
    if (binding && binding.state !== 'declined') {
      const ip = ipToInt(binding.ip);
      if (usable(ip)) return ip;
    }
    const held = this.table.offerOf(key, now);
    if (held && held.subnetId === subnet.id) return held.ip;
    const reservation = reservationFor(subnet, client);
    if (reservation && usable(reservation.ip)) return reservation.ip;
    const requested = req.options.get(Opt.RequestedIp);
    if (requested !== undefined) {
      const ip = ipToInt(requested);
      if (usable(ip)) return ip;
    }
    return this.allocator.allocate(subnet, client, now);
  }

  /** RFC 2131 §4.3.2: the client's state decides which rules apply. */
  private async request(req: Dhcp4Message, ctx: RequestContext): Promise<Outcome> {
    const client = identityOf(req);
    const key = client.key;
    const serverId = req.options.get(Opt.ServerId);
    const requested = req.options.get(Opt.RequestedIp);
    const now = this.opts.clock.now();

    if (serverId !== undefined) {
      // SELECTING: the client answers one OFFER; if not ours, let ours go.
      if (!this.ourAddresses.has(serverId) && serverId !== ctx.serverAddress) {
        this.table.releaseOfferOf(key);
        return silent('client selected another server', 'not_for_us');
      }
      if (requested === undefined) return drop('SELECTING REQUEST without requested address (option 50)');
      if (req.ciaddr !== ZERO) return drop('SELECTING REQUEST with ciaddr set');
      const subnet = this.selectSubnet(req, ctx);
      if (!subnet) return silent('no subnet serves this link', 'no_subnet');
      const ip = ipToInt(requested);
      if (!subnetContains(subnet, ip) || !this.allocator.isAvailableFor(subnet, ip, client, now)) {
        return this.nak(req, ctx, 'requested address not available');
      }
      return this.bindAndAck(req, ctx, subnet, ip, key, now);
    }

    if (requested !== undefined) {
      // INIT-REBOOT: verify a remembered address.
      if (req.ciaddr !== ZERO) return drop('INIT-REBOOT REQUEST with ciaddr set');
      const subnet = this.selectSubnet(req, ctx);
      if (!subnet) return silent('no subnet serves this link', 'no_subnet');
      const ip = ipToInt(requested);
      if (!subnetContains(subnet, ip)) return this.nak(req, ctx, 'requested address is on another network');
      const binding = this.table.leaseOf(subnet.id, key);
      // "If the DHCP server has no record of this client, then it MUST
      // remain silent" so another server that has one can answer.
      if (!binding) return silent('INIT-REBOOT from a client we have no record of', 'unknown_client');
      if (binding.ip !== requested) return this.nak(req, ctx, 'requested address is not the client\'s');
      const until = this.boundUntil(subnet, ip, client, now);
      if (until === null) return this.nak(req, ctx, 'requested address is not the client\'s');
      return this.bindAndAck(req, ctx, subnet, ip, key, now, until);
    }

    if (req.ciaddr !== ZERO) {
      // RENEWING (unicast to us) or REBINDING (broadcast): extend ciaddr.
      // Like Kea, a client whose lease we lost gets its address back if no
      // one else holds it, rather than being renumbered.
      const subnet = this.selectSubnet(req, ctx);
      if (!subnet) return silent('no subnet serves this link', 'no_subnet');
      const ip = ipToInt(req.ciaddr);
      if (!subnetContains(subnet, ip)) return this.nak(req, ctx, 'ciaddr is on another network');
      const until = this.boundUntil(subnet, ip, client, now);
      if (until === null) return this.nak(req, ctx, 'ciaddr is bound to another client');
      return this.bindAndAck(req, ctx, subnet, ip, key, now, until);
    }

    return drop('REQUEST with no server identifier, requested address or ciaddr');
  }

  /**
   * Whether the client may have `ip` extended: `undefined` when the address
   * is available to it as usual (a full lease), `null` when it is not, or
   * the end of its current binding when the address is its own but no
   * longer in a pool (a reload shrank the pools, a reservation was
   * withdrawn): the client keeps it until that binding ends, not longer,
   * and then takes a new one from the pools.
   */
  private boundUntil(subnet: ServedSubnet, ip: number, client: ClientIdentity, now: number): number | undefined | null {
    if (this.allocator.isAvailableFor(subnet, ip, client, now)) return undefined;
    const lease = this.table.leaseAt(ip);
    const kept =
      lease !== undefined &&
      lease.clientKey === client.key &&
      lease.state === 'bound' &&
      lease.subnetId === subnet.id &&
      lease.expiresAt > now &&
      this.allocator.isAvailableFor(subnet, ip, client, now, false);
    return kept ? lease.expiresAt : null;
  }

  /**
   * Records the binding, waits until the store has it on disk, then ACKs:
   * an ACK is a promise the server must keep across a crash.
   */
  private async bindAndAck(
    req: Dhcp4Message,
    ctx: RequestContext,
    subnet: ServedSubnet,
    ip: number,
    key: string,
    now: number,
    /** The binding's end, when it may not be extended (`boundUntil`); a full lease otherwise. */
    until?: number,
  ): Promise<Outcome> {
    const times = until === undefined ? subnet : remainingTimes(until - now);
    const granted: Lease = {
      ip: intToIp(ip),
      clientKey: key,
      hwAddress: req.hwAddress(),
      clientId: clientIdHex(req),
      hostname: req.options.get(Opt.Hostname),
      subnetId: subnet.id,
      state: 'bound',
      grantedAt: now,
      expiresAt: until ?? now + subnet.leaseSeconds * 1000,
    };
    const atAddress = this.table.leaseAt(ip);
    const sameClient = atAddress?.clientKey === key ? atAddress : undefined;
    const registration = this.opts.registrar?.onBind(granted, sameClient, req) ?? { lease: granted, enqueue: [] };
    const lease = registration.lease;
    const changes: Lease[] = [lease];
    const expect: LeaseExpectation[] = [{ kind: 'bind' }];
    const enqueue = [...registration.enqueue];
    // A client that moves to a new address gives up its old one.
    const previous = this.table.leaseOf(subnet.id, key);
    if (previous && previous.ip !== lease.ip && previous.state === 'bound') {
      changes.push(this.unbind(previous, { state: 'released', expiresAt: now }, enqueue));
      expect.push({ kind: 'held', clientKey: key, state: 'bound' });
    }
    this.table.releaseOfferOf(key);
    const applied = await this.apply(changes, enqueue, expect);
    if (applied === 'failed') return drop('lease store failed; no ACK sent', 'store_failed');
    // Another server bound the address (or this client elsewhere) first: RFC 2131 §4.3.2, the address is not the client's to have.
    if (applied === 'lost') return this.nak(req, ctx, 'requested address not available');
    if (this.opts.logger.enabled('info')) {
      this.opts.logger.info('lease-bound', { ip: lease.ip, client: key, hostname: lease.hostname, subnet: subnet.id, expiresAt: new Date(lease.expiresAt).toISOString() });
    }
    const modifiers = [withAddress(ip), withLeaseTimes(times), withSubnetOptions(subnet, req)];
    if (registration.reply) modifiers.push(registration.reply);
    return this.replyTo(req, Dhcp4MessageType.Ack, ctx, ...modifiers);
  }

  /**
   * The record of a binding that ends, with its DNS removal queued in
   * `enqueue` and its name forgotten, so nothing removes it twice.
   */
  private unbind(lease: Lease, end: Pick<Lease, 'state' | 'expiresAt'>, enqueue: DnsChange[]): Lease {
    if (lease.fqdn !== undefined && this.opts.registrar) enqueue.push(...this.opts.registrar.onUnbind(lease));
    const ended: Lease = { ...lease, ...end };
    delete ended.fqdn;
    delete ended.ipv6;
    return ended;
  }

  /** RFC 2131 §4.3.3: quarantine an address the client found in use. */
  private async decline(req: Dhcp4Message, ctx: RequestContext): Promise<Outcome> {
    if (!this.isForUs(req, ctx)) return silent('DECLINE addressed to another server', 'not_for_us');
    const requested = req.options.get(Opt.RequestedIp);
    if (requested === undefined) return drop('DECLINE without requested address (option 50)');
    const lease = this.table.leaseAt(ipToInt(requested));
    // Only the holder may decline, or any client could poison the pool.
    if (!lease || lease.clientKey !== clientKeyOf(req)) return silent('DECLINE for an address the client does not hold', 'unknown_client');
    const now = this.opts.clock.now();
    this.opts.logger.warn('address-declined', { ip: requested, client: lease.clientKey, quarantineSeconds: this.opts.declineQuarantineSeconds });
    const enqueue: DnsChange[] = [];
    await this.apply([this.unbind(lease, { state: 'declined', expiresAt: now + this.opts.declineQuarantineSeconds * 1000 }, enqueue)], enqueue, [
      { kind: 'held', clientKey: lease.clientKey },
    ]);
    return silent('declined', 'done');
  }

  /** RFC 2131 §4.3.4: the client gives its address back. */
  private async release(req: Dhcp4Message, ctx: RequestContext): Promise<Outcome> {
    if (!this.isForUs(req, ctx)) return silent('RELEASE addressed to another server', 'not_for_us');
    if (req.ciaddr === ZERO) return drop('RELEASE without ciaddr');
    const lease = this.table.leaseAt(ipToInt(req.ciaddr));
    if (!lease || lease.clientKey !== clientKeyOf(req) || lease.state !== 'bound') {
      return silent('RELEASE for an address the client does not hold', 'unknown_client');
    }
    // The record stays (state released) so the client gets the same address
    // back next time if it is still free (§4.3.1, "previous address").
    const enqueue: DnsChange[] = [];
    await this.apply([this.unbind(lease, { state: 'released', expiresAt: this.opts.clock.now() }, enqueue)], enqueue, [
      { kind: 'held', clientKey: lease.clientKey, state: 'bound' },
    ]);
    this.opts.logger.info('lease-released', { ip: lease.ip, client: lease.clientKey });
    return silent('released', 'done');
  }

  /** RFC 2131 §4.3.5: configuration only, no lease time and no yiaddr. */
  private inform(req: Dhcp4Message, ctx: RequestContext): Outcome {
    if (req.ciaddr === ZERO) return drop('INFORM without ciaddr');
    const subnet = this.selectSubnet(req, ctx) ?? this.subnets.find((s) => subnetContains(s, ipToInt(req.ciaddr)));
    if (!subnet) return silent('no subnet serves this client', 'no_subnet');
    return this.replyTo(req, Dhcp4MessageType.Ack, ctx, withSubnetOptions(subnet, req));
  }

  /**
   * Marks bindings past their expiry as expired, and ends quarantines, in
   * one store transaction. Returns the leases that changed.
   */
  async reclaimExpired(): Promise<Lease[]> {
    const now = this.opts.clock.now();
    const changes: Lease[] = [];
    const expect: LeaseExpectation[] = [];
    const enqueue: DnsChange[] = [];
    // The table's expiry queue finds them (and drops expired holds) without a scan.
    for (const lease of this.table.takeExpiredLeases(now)) {
      changes.push(this.unbind(lease, { state: 'expired', expiresAt: lease.expiresAt }, enqueue));
      expect.push({ kind: 'lapsed', state: lease.state, expiresAt: lease.expiresAt });
    }
    if (changes.length === 0) return changes;
    if (!this.opts.conditionalCommits) {
      await this.apply(changes, enqueue, expect);
      return changes;
    }
    // One change per lease (the store still groups them into one
    // transaction): a lease another server renewed meanwhile is lost alone,
    // and its DNS removal with it.
    const applied = await Promise.all(
      changes.map((lease, i) => this.apply([lease], enqueue.filter((dns) => dns.ipv4 === lease.ip), [expect[i]])),
    );
    return changes.filter((_, i) => applied[i] === 'committed');
  }

  /**
   * Applies lease changes to the table at once (so concurrent requests see
   * them) and to the store; if the store fails, the table is put back. With
   * conditional commits each put carries its expectation (`expect[i]`); a
   * change the store reports lost is undone and the rows the store holds
   * at its addresses are learnt instead. An operator's change (`admin`:
   * removals and reservations riding along) is written as given, not
   * judged against expectations, and a failing store's error is thrown.
   */
  private async apply(changes: Lease[], enqueue: DnsChange[], expect: LeaseExpectation[], admin?: AdminExtras): Promise<Applied> {
    const touched = [...changes.map((l) => l.ip), ...(admin?.remove ?? [])].map(ipToInt);
    const undo = touched.map((ip) => ({ ip, previous: this.table.leaseAt(ip) }));
    for (const lease of changes) this.table.put(lease);
    for (const ip of admin?.remove ?? []) this.table.remove(ipToInt(ip));
    const restore = () => {
      for (const { ip, previous } of undo.reverse()) this.table.restore(ip, previous);
    };
    try {
      const change: LeaseChange = { put: changes, ...(enqueue.length > 0 && { enqueue }), ...(admin && compactChange(admin)) };
      if (this.opts.conditionalCommits && !admin) {
        const outcome = await (this.opts.store as ConditionalLeaseStore).commitConditional({
          ...change,
          put: changes.map((lease, i) => ({ lease, expect: expect[i] })),
        });
        if (outcome.kind === 'lost') {
          restore();
          this.learn(changes, outcome.current);
          this.opts.logger.debug('lease-write-lost', { leases: changes.map((l) => l.ip), current: outcome.current.map((l) => `${l.ip}=${l.clientKey}/${l.state}`) });
          return 'lost';
        }
      } else {
        await this.opts.store.commit(change);
      }
      if (enqueue.length > 0) this.opts.registrar?.committed(enqueue);
      return 'committed';
    } catch (err) {
      restore();
      if (admin) throw err instanceof Error ? err : new Error(String(err));
      // Debug only: the store's commit observer logs a failing store once
      // per interval (server/app/store-commit-monitor.ts), not per request.
      this.opts.logger.debug('lease-store-commit-failed', { err, leases: touched.map(intToIp) });
      return 'failed';
    }
  }

  /**
   * Addresses another server quarantined after a DECLINE (RFC 2131 §3.1
   * step 5: the address is in use by some other host), read from a shared
   * store: learnt where this server's table has no live record of its own,
   * so it does not offer them either. A record of ours stays: if it
   * disagrees, our next write is judged by the database and loses.
   */
  learnQuarantined(declined: readonly Lease[]): number {
    return this.learnRows(declined, 'declined');
  }

  /**
   * Bindings read from a shared store, learnt before this server answers
   * clients another server bound (it takes a dead partner's RFC 3074
   * buckets): a DISCOVER from such a client is then offered the address it
   * holds (RFC 2131 §4.3.1), and an INIT-REBOOT REQUEST is answered, where
   * a table that did not know them would offer a new address the database
   * then refuses (one binding per client), NAK the REQUEST, and stay silent
   * on INIT-REBOOT. A live record of our own at the address stays: it may
   * be a write still on its way; if it disagrees, the database judges it.
   */
  learnBindings(rows: readonly Lease[]): number {
    return this.learnRows(rows, 'bound');
  }

  /** The rows in `state` not yet over, learnt where this server's table has no live record of its own; how many. */
  private learnRows(rows: readonly Lease[], state: 'bound' | 'declined'): number {
    const now = this.opts.clock.now();
    let learnt = 0;
    for (const lease of rows) {
      if (lease.state !== state || lease.expiresAt <= now) continue;
      const current = this.table.leaseAt(ipToInt(lease.ip));
      if (current !== undefined && !leaseIsReusable(current, now)) continue;
      this.table.put({ ...lease });
      learnt++;
    }
    return learnt;
  }

  /** What another server wrote, as the store reported it: the rows at `changes`' addresses are `current`'s (none where it lists none). */
  private learn(changes: readonly Lease[], current: readonly Lease[]): void {
    for (const lease of changes) this.table.restore(ipToInt(lease.ip), undefined);
    for (const lease of current) this.table.put({ ...lease });
  }

  private isForUs(req: Dhcp4Message, ctx: RequestContext): boolean {
    const serverId = req.options.get(Opt.ServerId);
    return serverId === undefined || serverId === ctx.serverAddress || this.ourAddresses.has(serverId);
  }

  private nak(req: Dhcp4Message, ctx: RequestContext, why: string): Outcome {
    this.opts.logger.debug('nak', { client: clientKeyOf(req), why });
    return this.replyTo(req, Dhcp4MessageType.Nak, ctx, (reply) => {
      reply.options.set(Opt.Message, why);
      // §4.3.2: a NAK through a relay goes out with the broadcast bit so the
      // relay broadcasts it; the client may have no usable address.
      if (req.giaddr !== ZERO) reply.flags |= 0x8000;
    });
  }

  private replyTo(req: Dhcp4Message, type: Dhcp4MessageType, ctx: RequestContext, ...modifiers: ReplyModifier[]): Outcome {
    const reply = newReplyFromRequest(req, type, ctx.serverAddress, (r) => {
      if (type === Dhcp4MessageType.Ack && req.ciaddr !== ZERO) r.ciaddr = req.ciaddr;
    }, ...modifiers);
    return { kind: 'reply', reply, to: replyDestination(req, type) };
  }
}

/** The lease times of a binding that ends in `ms`: what is left of it, T1 and T2 at RFC 2131 §4.4.5's fractions of that. */
function remainingTimes(ms: number): LeaseTimes {
  const leaseSeconds = Math.max(1, Math.floor(ms / 1000));
  const { renewTime, rebindTime } = leaseTimers(leaseSeconds);
  return { leaseSeconds, renewSeconds: renewTime, rebindSeconds: rebindTime };
}

/** The parts of a change that are there (the store's change stays as small as the engine's always were). */
function compactChange(more: AdminExtras): AdminExtras {
  return Object.fromEntries(Object.entries(more).filter(([, v]) => Array.isArray(v) && v.length > 0));
}

function withAddress(ip: number): ReplyModifier {
  return (reply) => {
    reply.yiaddr = intToIp(ip);
  };
}

function clientIdHex(req: Dhcp4Message): string | undefined {
  return req.options.getRaw(Opt.ClientId.code)?.toString('hex');
}

/** Option 61 identifies the client when present, else chaddr (RFC 2131 §4.2). */
export function clientKeyOf(req: Dhcp4Message): string {
  return clientKeyFor(clientIdHex(req), req.hwAddress());
}

function identityOf(req: Dhcp4Message): ClientIdentity {
  return { key: clientKeyOf(req), hwKey: clientKeyFor(undefined, req.hwAddress()) };
}

function drop(reason: string, cause: DropCause = 'invalid'): Outcome {
  return { kind: 'drop', reason, cause };
}

function silent(reason: string, cause: SilentCause): Outcome {
  return { kind: 'silent', reason, cause };
}
