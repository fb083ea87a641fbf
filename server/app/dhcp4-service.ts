import type { Clock } from '../../lib/core/clock.ts';
import { IdleCollector } from '../../lib/core/idle-collector.ts';
import { IntervalLog } from '../../lib/core/interval-log.ts';
import { fullGarbageCollection } from './full-gc.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { ServerConfig } from '../config/config.ts';
import { Dhcp4Engine, type Outcome, type RequestContext } from '../dhcp4/dhcp4-engine.ts';
import type { NameRegistrar } from '../dhcp4/name-registration.ts';
import { RequestRateLimits } from '../dhcp4/request-rate-limits.ts';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';
import { linkLayerTarget, SERVER_PORT } from '../dhcp4/reply-destination.ts';
import { shouldAnswer, type LoadBalanceView } from '../dhcp4/load-balance.ts';
import type { LeaseStore } from '../leases/lease-store.ts';
import { isSharedStore } from '../leases/lease-store-config.ts';
import type { Lease } from '../leases/lease.ts';
import { reservationId, type ReservationKey, type StoredReservation } from '../leases/reservation.ts';
import { listReservations, reservationConflict, withStoredReservations, type SourcedReservation } from '../dhcp4/reservation-rules.ts';
import { subnetUsage, usageFromCounts, type SubnetUsage } from '../dhcp4/subnet-usage.ts';
import type { LeaseCounts } from '../leases/lease-counts.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { lookupLink, InterfaceError } from '../net/interfaces.ts';
import { DHCP4_SOCKET_DEFAULTS, type Dhcp4SocketLimits } from '../dhcp4/dhcp4-config.ts';
import type { Dhcp4Transport, ReceivedDatagram } from '../net/dhcp4-transport.ts';
import { openDhcp4Transport } from '../net/udp-dhcp4-transport.ts';
import type { CounterSink } from './counters.ts';
import type { Service } from './service.ts';
import { isSharedQueueStore, type SharedQueueStore } from '../leases/dns-claims.ts';

/**
 * On a store several servers share, how often the rows other servers
 * wrote that must stop this one from offering an address are read again:
 * DECLINE quarantines and the control API's reservations. Both queries
 * read an index or a small table.
 */
export const SHARED_REFRESH_MS = 1000;

/**
 * On a shared store, how often the usage figures (status-get,
 * assigned-addresses on /metrics) are counted again in the database: the
 * lease table here holds only this server's bindings, so its counts would
 * show one server's share (or 0). One pass over the leases table per
 * server every 5 s, whatever the scrape rate, rather than a query per
 * scrape or every lease of every server copied into each server's memory;
 * 5 s is well inside Prometheus' usual 15 s scrape interval.
 */
export const USAGE_REFRESH_MS = 5000;

export interface Dhcp4ServiceDeps {
  /** The open lease store (read at start). */
  store: () => LeaseStore;
  /** DNS registration of bindings, when DDNS is on (read at start). */
  registrar: () => NameRegistrar | undefined;
  clock: Clock;
  logger: Logger;
  counters: CounterSink;
  /** UDP port (67; tests use others). */
  port?: number;
  /** The sockets (default: one UDP socket per interface); unit tests give a transport of their own. */
  openTransport?: typeof openDhcp4Transport;
  /**
   * With `ha`: which requests are this server's (RFC 3074 buckets) and
   * whether it is fenced; given what this server has ACKed. Absent: every
   * request is answered.
   */
  loadBalance?: (grantedByUs: (ip: string) => boolean) => LoadBalanceView;
  /** A full garbage collection, run once a busy spell is over (default: V8's; tests count calls). */
  collectGarbage?: () => void;
}

/** Drops, evictions and send failures are logged at most once per interval per kind, not per packet (the counters have every one). */
const DROP_LOG_INTERVAL_MS = 10_000;
/** How often the service looks whether it has gone idle after a busy spell. */
const IDLE_CHECK_MS = 5_000;
/**
 * Datagrams and changes in the held-offer count since the last collection that make one
 * worth its pause (tens of ms for a heap of a few tens of MB), and at most
 * this many in IDLE_CHECK_MS that count as idle: a few clients a second.
 */
const IDLE_COLLECT_LIMITS = { busyWork: 5_000, idleWork: 50 };

/**
 * The DHCPv4 server: the thin I/O edge around the engine — sockets in,
 * decisions out — and the timer that reclaims expired leases. Anything a
 * datagram can do wrong is counted and dropped here; nothing a client
 * sends can stop the server.
 */
export class Dhcp4Service implements Service {
  readonly name = 'dhcp4';
  #config: ServerConfig;
  /** Reservations made through the control API, as the store has them. */
  #stored: StoredReservation[] = [];
  #serverAddresses = new Set<string>();
  #engine: Dhcp4Engine | undefined;
  #transport: Dhcp4Transport | undefined;
  #reclaimTimer: NodeJS.Timeout | undefined;
  #sharedTimer: NodeJS.Timeout | undefined;
  #refreshing = false;
  /** On a shared store: every server's records counted in the database, and when (monotonic ms). */
  #sharedCounts: { counts: LeaseCounts[]; at: number } | undefined;
  /** Bumped by every reservation change made here: a refresh read before it must not undo it. */
  #reservationChanges = 0;
  #rateLimits: RequestRateLimits | undefined;
  // Requests whose answer is still on its way (most wait for a lease commit):
  // a clean stop lets them finish, so no client loses an ACK it has earned.
  #inFlight = 0;
  #draining = false;
  #drained: (() => void) | undefined;
  #limits: Dhcp4SocketLimits = DHCP4_SOCKET_DEFAULTS;
  #dropLog: IntervalLog | undefined;
  #loadBalance: LoadBalanceView | undefined;
  /**
   * Addresses this process last ACKed: a unicast RENEW for one of them was
   * addressed to us, whichever bucket its client is in. An entry left after
   * a peer took the client over does no harm: that client renews with the
   * peer now.
   */
  readonly #ackedByUs = new Set<string>();
  readonly #idleCollector = new IdleCollector(IDLE_COLLECT_LIMITS);
  #idleTimer: NodeJS.Timeout | undefined;
  #offersAtIdleCheck = 0;

  constructor(
    config: ServerConfig,
    private readonly deps: Dhcp4ServiceDeps,
  ) {
    this.#config = config;
  }

  /** The engine; only once started. */
  get engine(): Dhcp4Engine {
    if (!this.#engine) throw new Error('the DHCPv4 service has not started');
    return this.#engine;
  }

  /** A snapshot of the lease table (empty before the start). */
  leases(): Lease[] {
    return this.#engine ? [...this.#engine.table.all()] : [];
  }

  /** Whether the sockets are open: started, and not yet stopping. */
  get serving(): boolean {
    return this.#transport !== undefined && !this.#draining;
  }

  /** Addresses held for clients that were offered them. */
  get offersHeld(): number {
    return this.#engine?.table.offerCount ?? 0;
  }

  /** How full each served subnet is: counted from the lease table now, or on a shared store as the database last counted it. */
  usage(): SubnetUsage[] {
    const engine = this.#engine;
    if (!engine) return [];
    if (this.#sharedCounts) return usageFromCounts(engine.servedSubnets, this.#sharedCounts.counts);
    return subnetUsage(engine.servedSubnets, engine.table, this.deps.clock.now());
  }

  /** How many lease records there are: this table's, or on a shared store the database's at its last count. */
  leaseCount(): number {
    if (this.#sharedCounts) return this.#sharedCounts.counts.reduce((n, c) => n + c.records, 0);
    return this.#engine?.table.size ?? 0;
  }

  /** Every reservation served: the configuration's, then the API's, per subnet. */
  reservations(): SourcedReservation[] {
    return listReservations(this.#config.subnets, this.#stored);
  }

  /**
   * Serves `config`'s subnets from now on (a reload), with the API's
   * reservations; leases, held offers and the DNS queue are untouched
   * (Dhcp4Engine.reconfigure).
   */
  reconfigure(config: ServerConfig): void {
    this.#config = config;
    this.engine.reconfigure(withStoredReservations(config.subnets, this.#stored));
  }

  /**
   * Adds a reservation, or returns why it cannot be made (a sentence naming
   * the conflict). Served from the moment it is checked — so no request
   * can take the address meanwhile — and stored before this resolves; if
   * the store fails, it is withdrawn again and the store's error thrown.
   */
  async addReservation(r: StoredReservation): Promise<string | undefined> {
    const engine = this.engine;
    const subnet = engine.servedSubnets.find((s) => s.id === r.subnetId);
    if (!subnet) return `no subnet "${r.subnetId}" is configured`;
    const conflict = reservationConflict(subnet, r, { table: engine.table, now: this.deps.clock.now(), serverAddresses: this.#serverAddresses });
    if (conflict) return conflict;
    await this.#changeReservations([...this.#stored, r], { reserve: [r] });
    return undefined;
  }

  /** Removes an API reservation; `config` when it is one of the configuration file's (only the file changes those). */
  async removeReservation(key: ReservationKey): Promise<'removed' | 'missing' | 'config'> {
    if (this.#config.subnets.some((s) => s.id === key.subnetId && s.reservations.some((r) => r.ip === key.ip))) return 'config';
    const id = reservationId(key);
    if (!this.#stored.some((r) => reservationId(r) === id)) return 'missing';
    await this.#changeReservations(this.#stored.filter((r) => reservationId(r) !== id), { unreserve: [key] });
    return 'removed';
  }

  async #changeReservations(next: StoredReservation[], change: { reserve?: StoredReservation[]; unreserve?: ReservationKey[] }): Promise<void> {
    const engine = this.engine;
    const before = this.#stored;
    this.#reservationChanges++;
    this.#stored = next;
    engine.reconfigure(withStoredReservations(this.#config.subnets, next));
    try {
      await engine.applyAdminChange(change);
    } catch (err) {
      this.#stored = before;
      engine.reconfigure(withStoredReservations(this.#config.subnets, before));
      throw err;
    } finally {
      // Again once written: a refresh that started while it was being written may have read the old rows.
      this.#reservationChanges++;
    }
  }

  async start(): Promise<void> {
    const { deps } = this;
    const config = this.#config;
    const links = config.interfaces.map((i) => ({ link: lookupLink(i.name), configured: i.address }));
    const contexts = new Map<string, RequestContext>();
    for (const { link, configured } of links) {
      const serverAddress = config.serverId ?? configured ?? link.ipv4;
      if (!serverAddress) throw new InterfaceError(`interface ${link.name}: has no IPv4 address to use as server identifier; set interfaces[].address`);
      contexts.set(link.name, { interfaceName: link.name, serverAddress });
    }
    const store = deps.store();
    this.#stored = store.loadReservations();
    this.#serverAddresses = new Set([...contexts.values()].map((c) => c.serverAddress));
    // Monotonic time: a wall clock stepped back must not refill or drain the buckets.
    this.#rateLimits = new RequestRateLimits(config.protection.rateLimits, performance.now());
    this.#dropLog = new IntervalLog(deps.logger, DROP_LOG_INTERVAL_MS);
    this.#loadBalance = deps.loadBalance?.((ip) => this.#ackedByUs.has(ip));
    const loadBalance = this.#loadBalance;
    const engine = new Dhcp4Engine({
      ...(loadBalance && { ownsBucket: (bucket: number) => loadBalance.servesBucket(bucket) }),
      subnets: withStoredReservations(config.subnets, this.#stored),
      store,
      clock: deps.clock,
      logger: deps.logger,
      offerHoldSeconds: config.offerHoldSeconds,
      declineQuarantineSeconds: config.declineQuarantineSeconds,
      serverAddresses: [...contexts.values()].map((c) => c.serverAddress),
      registrar: deps.registrar(),
      conditionalCommits: isSharedStore(config.leaseStore),
      holdLimits: { percentOfPool: config.protection.heldOffersPercentOfPool, max: config.protection.heldOffersMax },
      counters: deps.counters,
      floodLog: this.#dropLog,
    });
    // Set before the sockets open: a datagram may arrive as soon as the first is bound.
    this.#engine = engine;
    this.#limits = config.dhcp4Sockets;
    try {
      this.#transport = await (deps.openTransport ?? openDhcp4Transport)(
        links.map((l) => l.link),
        deps.port ?? SERVER_PORT,
        {
          onDatagram: (d) => this.#onDatagram(d, contexts.get(d.interfaceName)),
          onSendError: (err, to) => this.#onSendError(err, to),
          onSendDropped: (reason) => this.#countDrop('replies_dropped', 'reply-dropped', reason),
        },
        this.#limits,
      );
    } catch (err) {
      this.#engine = undefined;
      this.#dropLog.close();
      throw err;
    }
    deps.logger.info('dhcp4-sockets', { kind: this.#transport.kind, interfaces: links.map((l) => l.link.name) });
    this.#reclaimTimer = setInterval(() => void this.#reclaim(), config.expiredReclaimIntervalSeconds * 1000);
    this.#reclaimTimer.unref();
    const collect = deps.collectGarbage ?? fullGarbageCollection();
    this.#idleTimer = setInterval(() => this.#collectIfIdle(collect), IDLE_CHECK_MS);
    this.#idleTimer.unref();
    await this.#reclaim();
    if (isSharedStore(config.leaseStore) && isSharedQueueStore(store)) {
      await this.#refreshShared(store);
      this.#sharedTimer = setInterval(() => void this.#refreshShared(store), SHARED_REFRESH_MS);
      this.#sharedTimer.unref();
    }
  }

  /**
   * Learns the bindings other servers wrote (all of them: one read of the
   * lease table), before this server takes over a partner's buckets
   * (ClusterService's `beforeTakeover`). Not started, or not on a shared
   * store: nothing to learn (the engine reads the store when it starts).
   */
  async learnSharedBindings(): Promise<void> {
    const engine = this.#engine;
    const store = engine && this.deps.store();
    if (!engine || !store || !isSharedStore(this.#config.leaseStore) || !isSharedQueueStore(store)) return;
    const learnt = engine.learnBindings(await store.readLeases());
    this.deps.logger.info('dhcp4-bindings-learnt', { leases: learnt });
  }

  /** Learns the quarantines and reservations other servers wrote (a failing store: tried again next time). */
  async #refreshShared(store: SharedQueueStore): Promise<void> {
    const engine = this.#engine;
    if (!engine || this.#refreshing || this.#draining) return;
    this.#refreshing = true;
    const changesBefore = this.#reservationChanges;
    try {
      const countDue = this.#sharedCounts === undefined || performance.now() - this.#sharedCounts.at >= USAGE_REFRESH_MS;
      const [quarantined, reservations, counts] = await Promise.all([
        store.readQuarantined(),
        store.readReservations(),
        countDue ? store.countLeases() : undefined,
      ]);
      if (counts) this.#sharedCounts = { counts, at: performance.now() };
      const learnt = engine.learnQuarantined(quarantined);
      if (learnt > 0) this.deps.logger.debug('dhcp4-quarantine-learnt', { addresses: learnt });
      const ids = (list: readonly StoredReservation[]) => JSON.stringify(list.map((r) => [reservationId(r), r.hwAddress, r.clientId, r.hostname]));
      if (changesBefore === this.#reservationChanges && ids(reservations) !== ids(this.#stored)) {
        this.#stored = reservations;
        engine.reconfigure(withStoredReservations(this.#config.subnets, reservations));
      }
    } catch (err) {
      this.deps.logger.debug('dhcp4-shared-refresh-failed', { err });
    } finally {
      this.#refreshing = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#reclaimTimer);
    clearInterval(this.#sharedTimer);
    clearInterval(this.#idleTimer);
    this.#draining = true;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    await this.#transport?.close();
    this.#dropLog?.close();
  }

  /** Which socket implementation serves (after start). */
  get transportKind(): 'native' | 'dgram' | undefined {
    return this.#transport?.kind;
  }

  #onDatagram(d: ReceivedDatagram, ctx: RequestContext | undefined): void {
    const { counters } = this.deps;
    if (this.#draining) return;
    this.#idleCollector.note();
    // Every datagram is counted once, by its type once it is decoded; what is dropped before decoding counts as `unknown`.
    if (!ctx) {
      counters.inc('packets_received', { interface: d.interfaceName, type: 'unknown' });
      return;
    }
    const now = performance.now();
    if (now - d.receivedAt > this.#limits.requestDeadlineMs) {
      counters.inc('packets_received', { interface: d.interfaceName, type: 'unknown' });
      this.#countDrop('requests_dropped', 'request-dropped', 'stale');
      return;
    }
    const rateLimits = this.#rateLimits as RequestRateLimits;
    if (!rateLimits.admitDatagram(now)) {
      counters.inc('packets_received', { interface: d.interfaceName, type: 'unknown' });
      this.#dropRateLimited('global');
      return;
    }
    let req: Dhcp4Message;
    try {
      req = Dhcp4Message.decode(d.data);
    } catch (err) {
      counters.inc('packets_received', { interface: d.interfaceName, type: 'unparsable' });
      this.#countFailure(err, d);
      return;
    }
    counters.inc('packets_received', { interface: d.interfaceName, type: messageTypeName(req) });
    const refusedBy = rateLimits.refusedBy({ interfaceName: d.interfaceName, giaddr: req.giaddr, hwAddress: req.hwAddress() }, now);
    if (refusedBy !== undefined) {
      this.#dropRateLimited(refusedBy);
      return;
    }
    if (this.#loadBalance) {
      const decision = shouldAnswer(req, this.#loadBalance);
      if (!decision.answer) {
        counters.inc('requests_unanswered', { reason: decision.reason === 'fenced' ? 'fenced' : 'other_server' });
        return;
      }
    }
    this.#inFlight++;
    this.engine
      .handle(req, ctx)
      .then(
        (outcome) => this.#deliver(outcome, req, ctx, d.receivedAt),
        (err) => this.#countFailure(err, d),
      )
      .finally(() => {
        if (--this.#inFlight === 0) this.#drained?.();
      });
  }

  /** Counted with its scope; logged once per interval per scope, never per packet. */
  #dropRateLimited(scope: string): void {
    this.deps.counters.inc('dropped', { reason: 'rate_limit', scope });
    this.#dropLog?.warn('rate-limited', { scope });
  }

  #countFailure(err: unknown, d: ReceivedDatagram): void {
    const { counters, logger } = this.deps;
    if (err instanceof DecodeError) {
      // packets_malformed's per-name total is the one the `stopped` line has always had.
      counters.inc('packets_malformed', { interface: d.interfaceName });
      counters.inc('dropped', { reason: 'malformed' });
      this.#dropLog?.warn('malformed-packets', { interface: d.interfaceName });
      logger.debug('malformed-packet', { from: d.from.address, interface: d.interfaceName, error: err.message });
    } else {
      counters.inc('internal_errors');
      logger.error('request-failed', { from: d.from.address, err });
    }
  }

  #deliver(outcome: Outcome, req: Dhcp4Message, ctx: RequestContext, receivedAt: number): void {
    const { counters, logger } = this.deps;
    if (outcome.kind !== 'reply') {
      // A request no subnet serves is dropped, as Kea counts it; the other silences are the protocol's.
      const dropped = outcome.kind === 'drop' || outcome.cause === 'no_subnet';
      counters.inc(dropped ? 'packets_dropped' : 'requests_unanswered', { reason: outcome.cause });
      // No free address is the engine's pool_exhausted, counted by subnet there.
      if (logger.enabled('debug')) logger.debug(outcome.kind, { reason: outcome.reason, xid: req.xid, client: req.hwAddress() });
      return;
    }
    // Fenced meanwhile: an OFFER may rest on a table the database no
    // longer confirms; an ACK's lease is committed and the client will ask again.
    if (this.#loadBalance?.fenced) {
      counters.inc('requests_unanswered', { reason: 'fenced' });
      return;
    }
    if (this.#loadBalance && outcome.reply.options.get(Opt.MessageType) === Dhcp4MessageType.Ack && outcome.reply.yiaddr !== '0.0.0.0') {
      this.#ackedByUs.add(outcome.reply.yiaddr);
    }
    // The lease is committed either way; only the late answer is skipped (the client will ask again).
    if (performance.now() - receivedAt > this.#limits.replyDeadlineMs) {
      this.#countDrop('replies_dropped', 'reply-dropped', 'stale');
      return;
    }
    counters.inc(`replies_${messageTypeName(outcome.reply)}`, { interface: ctx.interfaceName });
    const transport = this.#transport;
    if (!transport) return;
    const hardwareAddress = transport.linkLayerSends ? linkLayerTarget(req, outcome.to) : undefined;
    transport.send(ctx.interfaceName, outcome.reply.encode(), outcome.to, {
      requestReceivedAt: receivedAt,
      link: hardwareAddress && { hardwareAddress, sourceAddress: ctx.serverAddress },
    });
  }

  #onSendError(err: Error, to: { address: string }): void {
    this.deps.counters.inc('send_errors');
    // Per destination it would be one line per packet in a flood; the first of each kind per interval names one.
    const code = (err as NodeJS.ErrnoException).code ?? err.name;
    this.#dropLog?.warn('send-failed', { code }, 1, { to: to.address, error: err.message });
  }

  #countDrop(counter: 'requests_dropped' | 'replies_dropped', event: string, reason: string): void {
    this.deps.counters.inc(counter, { reason });
    this.#dropLog?.warn(event, { reason });
  }

  /**
   * Once a flood is over, V8 keeps its garbage (and a young generation grown
   * to its maximum) until JavaScript allocates again, which an idle server
   * does not: one full collection gives the memory back (IdleCollector).
   * A change in the held-offer count is work too: their expiry, 30 s after the flood,
   * frees a second heap's worth.
   */
  #collectIfIdle(collect: () => void): void {
    const offers = this.offersHeld;
    this.#idleCollector.note(Math.abs(offers - this.#offersAtIdleCheck));
    this.#offersAtIdleCheck = offers;
    if (!this.#idleCollector.due()) return;
    const before = process.memoryUsage();
    const started = performance.now();
    collect();
    const after = process.memoryUsage();
    const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
    this.deps.logger.info('heap-collected', {
      ms: Math.round(performance.now() - started),
      heapUsedMb: [mb(before.heapUsed), mb(after.heapUsed)],
      heapTotalMb: [mb(before.heapTotal), mb(after.heapTotal)],
      rssMbBefore: mb(before.rss),
    });
  }

  async #reclaim(): Promise<void> {
    try {
      const expired = await this.engine.reclaimExpired();
      for (const lease of expired) this.deps.counters.inc('leases_reclaimed', { subnet: lease.subnetId });
      if (expired.length > 0) this.deps.logger.info('leases-expired', { count: expired.length });
    } catch (err) {
      this.deps.logger.error('reclaim-failed', { err });
    }
  }
}

/** The lower-case name of a message's type (53), or `unknown`. */
function messageTypeName(msg: Dhcp4Message): string {
  let type: number | undefined;
  try {
    type = msg.options.get(Opt.MessageType);
  } catch {
    return 'unknown';
  }
  const name = type === undefined ? undefined : Dhcp4MessageType[type];
  return name === undefined ? 'unknown' : name.toLowerCase();
}
