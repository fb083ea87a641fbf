import type { Clock } from '../../lib/core/clock.ts';
import { IntervalLog } from '../../lib/core/interval-log.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { ServerConfig } from '../config/config.ts';
import { Dhcp4Engine, type Outcome, type RequestContext } from '../dhcp4/dhcp4-engine.ts';
import type { NameRegistrar } from '../dhcp4/name-registration.ts';
import { RequestRateLimits } from '../dhcp4/request-rate-limits.ts';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';
import { linkLayerTarget, SERVER_PORT } from '../dhcp4/reply-destination.ts';
import type { LeaseStore } from '../leases/lease-store.ts';
import type { Lease } from '../leases/lease.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { lookupLink, InterfaceError } from '../net/interfaces.ts';
import { DHCP4_SOCKET_DEFAULTS, type Dhcp4SocketLimits } from '../dhcp4/dhcp4-config.ts';
import type { Dhcp4Transport, ReceivedDatagram } from '../net/dhcp4-transport.ts';
import { openDhcp4Transport } from '../net/udp-dhcp4-transport.ts';
import type { CounterSink } from './counters.ts';
import type { Service } from './service.ts';

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
}

/** Drops, evictions and send failures are logged at most once per interval per kind, not per packet (the counters have every one). */
const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * The DHCPv4 server: the thin I/O edge around the engine — sockets in,
 * decisions out — and the timer that reclaims expired leases. Anything a
 * datagram can do wrong is counted and dropped here; nothing a client
 * sends can stop the server.
 */
export class Dhcp4Service implements Service {
  readonly name = 'dhcp4';
  #engine: Dhcp4Engine | undefined;
  #transport: Dhcp4Transport | undefined;
  #reclaimTimer: NodeJS.Timeout | undefined;
  #rateLimits: RequestRateLimits | undefined;
  // Requests whose answer is still on its way (most wait for a lease commit):
  // a clean stop lets them finish, so no client loses an ACK it has earned.
  #inFlight = 0;
  #draining = false;
  #drained: (() => void) | undefined;
  #limits: Dhcp4SocketLimits = DHCP4_SOCKET_DEFAULTS;
  #dropLog: IntervalLog | undefined;

  constructor(
    private readonly config: ServerConfig,
    private readonly deps: Dhcp4ServiceDeps,
  ) {}

  /** The engine; only once started. */
  get engine(): Dhcp4Engine {
    if (!this.#engine) throw new Error('the DHCPv4 service has not started');
    return this.#engine;
  }

  /** A snapshot of the lease table (empty before the start). */
  leases(): Lease[] {
    return this.#engine ? [...this.#engine.table.all()] : [];
  }

  async start(): Promise<void> {
    const { config, deps } = this;
    const links = config.interfaces.map((i) => ({ link: lookupLink(i.name), configured: i.address }));
    const contexts = new Map<string, RequestContext>();
    for (const { link, configured } of links) {
      const serverAddress = config.serverId ?? configured ?? link.ipv4;
      if (!serverAddress) throw new InterfaceError(`interface ${link.name}: has no IPv4 address to use as server identifier; set interfaces[].address`);
      contexts.set(link.name, { interfaceName: link.name, serverAddress });
    }
    // Monotonic time: a wall clock stepped back must not refill or drain the buckets.
    this.#rateLimits = new RequestRateLimits(config.protection.rateLimits, performance.now());
    this.#dropLog = new IntervalLog(deps.logger, DROP_LOG_INTERVAL_MS);
    const engine = new Dhcp4Engine({
      subnets: config.subnets,
      store: deps.store(),
      clock: deps.clock,
      logger: deps.logger,
      offerHoldSeconds: config.offerHoldSeconds,
      declineQuarantineSeconds: config.declineQuarantineSeconds,
      serverAddresses: [...contexts.values()].map((c) => c.serverAddress),
      registrar: deps.registrar(),
      conditionalCommits: config.leaseStore.type === 'postgresql' && config.leaseStore.shared,
      holdLimits: { percentOfPool: config.protection.heldOffersPercentOfPool, max: config.protection.heldOffersMax },
      counters: deps.counters,
      floodLog: this.#dropLog,
    });
    // Set before the sockets open: a datagram may arrive as soon as the first is bound.
    this.#engine = engine;
    this.#limits = config.dhcp4Sockets;
    try {
      this.#transport = await openDhcp4Transport(
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
    await this.#reclaim();
  }

  async stop(): Promise<void> {
    clearInterval(this.#reclaimTimer);
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
    counters.inc('packets_received');
    if (!ctx) return;
    const now = performance.now();
    if (now - d.receivedAt > this.#limits.requestDeadlineMs) {
      this.#countDrop('requests_dropped', 'request-dropped', 'stale');
      return;
    }
    const rateLimits = this.#rateLimits as RequestRateLimits;
    if (!rateLimits.admitDatagram(now)) {
      this.#dropRateLimited('global');
      return;
    }
    let req: Dhcp4Message;
    try {
      req = Dhcp4Message.decode(d.data);
    } catch (err) {
      this.#countFailure(err, d);
      return;
    }
    const refusedBy = rateLimits.refusedBy({ interfaceName: d.interfaceName, giaddr: req.giaddr, hwAddress: req.hwAddress() }, now);
    if (refusedBy !== undefined) {
      this.#dropRateLimited(refusedBy);
      return;
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
      // packets_malformed is the flat total the `stopped` line has always had.
      counters.inc('packets_malformed');
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
      counters.inc(outcome.kind === 'drop' ? 'packets_dropped' : 'requests_unanswered');
      if (logger.enabled('debug')) logger.debug(outcome.kind, { reason: outcome.reason, xid: req.xid, client: req.hwAddress() });
      return;
    }
    // The lease is committed either way; only the late answer is skipped (the client will ask again).
    if (performance.now() - receivedAt > this.#limits.replyDeadlineMs) {
      this.#countDrop('replies_dropped', 'reply-dropped', 'stale');
      return;
    }
    const type = outcome.reply.options.get(Opt.MessageType);
    counters.inc(`replies_${type === undefined ? 'unknown' : Dhcp4MessageType[type].toLowerCase()}`);
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

  async #reclaim(): Promise<void> {
    try {
      const expired = await this.engine.reclaimExpired();
      if (expired.length > 0) this.deps.logger.info('leases-expired', { count: expired.length });
    } catch (err) {
      this.deps.logger.error('reclaim-failed', { err });
    }
  }
}
