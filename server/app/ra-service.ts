import { readFileSync } from 'node:fs';
import type { Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { lookupLink } from '../net/interfaces.ts';
import { openIcmpv6Socket, type Icmpv6Socket, type ReceivedIcmpv6 } from '../net/icmpv6-socket.ts';
import { buildFinalRouterAdvert, buildRouterAdvert } from '../ra/advert-builder.ts';
import { AdvertScheduler } from '../ra/advert-scheduler.ts';
import { chooseLinkLocal, usableLinkLocals } from '../ra/link-local.ts';
import type { RaConfig, RaInterfaceConfig } from '../ra/ra-config.ts';
import { findInconsistencies } from '../ra/ra-consistency.ts';
import { validateRouterAdvert } from '../ra/ra-validation.ts';
import { ROUTER_ADVERTISEMENT, routerAdvert, type RouterAdvert } from '../../lib/ndp/router-advert.ts';
import { ROUTER_SOLICITATION } from '../../lib/ndp/router-solicit.ts';
import { validateRouterSolicit } from '../ra/rs-validation.ts';
import type { CounterSink } from './counters.ts';
import type { Service } from './service.ts';

/** RFC 4861 §6.2.6/§6.3.7: routers listen on all-routers, advertise to all-nodes. */
const ALL_ROUTERS = 'ff02::2';
const ALL_NODES = 'ff02::1';
/** How soon to look again for a link-local address that is still in DAD. */
const LINK_LOCAL_RETRY_MS = 1000;

/**
 * The I/O edge of router advertisement: per interface a raw ICMPv6 socket,
 * one timer driven by the pure AdvertScheduler, and the two RAs the
 * configuration gives (the regular one and the final one), encoded once.
 * The socket hears Router Solicitations, answered as the scheduler says,
 * and other routers' Advertisements, compared with ours (RFC 4861 §6.2.7)
 * and each disagreement logged and counted. What a received message can do
 * wrong is counted and dropped; nothing a host sends can stop the service.
 */
export class RaService implements Service {
  readonly name = 'ra';
  #advertisers: InterfaceAdvertiser[] = [];

  constructor(
    private readonly config: RaConfig,
    private readonly deps: { clock: Clock; logger: Logger; counters: CounterSink; random?: () => number },
  ) {}

  async start(): Promise<void> {
    const { clock, logger, counters, random = Math.random } = this.deps;
    const advertisers: InterfaceAdvertiser[] = [];
    try {
      for (const iface of this.config.interfaces) advertisers.push(new InterfaceAdvertiser(iface, clock, logger, counters, random));
    } catch (err) {
      await Promise.all(advertisers.map((a) => a.stop()));
      throw err;
    }
    this.#advertisers = advertisers;
  }

  /**
   * Sends each interface's MAX_FINAL_RTR_ADVERTISEMENTS (3) final RAs
   * (RFC 4861 §6.2.5; when, AdvertScheduler.finalTimes says), then closes
   * its socket. Resolves within 9 s under `rfc4861`, 0.6 s under
   * `immediate`.
   */
  async stop(): Promise<void> {
    await Promise.all(this.#advertisers.map((a) => a.stop()));
  }
}

class InterfaceAdvertiser {
  /** Ours, to compare other routers' RAs with (§6.2.7). */
  readonly #advert: RouterAdvert;
  readonly #regular: Buffer;
  readonly #final: Buffer;
  readonly #scheduler: AdvertScheduler;
  readonly #socket: Icmpv6Socket;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #waitingForLinkLocal = false;
  /** Every counter of this interface carries its name. */
  readonly #labels: { interface: string };
  /** The link-local address RAs go out from: hosts know this router by it (§6.2.8). */
  #source: string | undefined;

  constructor(
    private readonly config: RaInterfaceConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly counters: CounterSink,
    random: () => number,
  ) {
    this.#labels = { interface: config.name };
    const link = lookupLink(config.name);
    const mac = config.sourceLinkLayerAddress ? readMac(config.name) : undefined;
    this.#advert = buildRouterAdvert(config, mac);
    this.#regular = routerAdvert.encode(this.#advert);
    this.#final = routerAdvert.encode(buildFinalRouterAdvert(config, mac));
    this.#scheduler = new AdvertScheduler(
      { minIntervalMs: config.minIntervalSeconds * 1000, maxIntervalMs: config.maxIntervalSeconds * 1000, solicitedResponse: config.solicitedResponse },
      random,
      clock.now(),
    );
    this.#socket = openIcmpv6Socket(
      link,
      { receiveTypes: [ROUTER_SOLICITATION, ROUTER_ADVERTISEMENT], joinGroups: [ALL_ROUTERS] },
      { onMessage: (message) => this.#onMessage(message), onError: (err) => this.#onReceiveError(err) },
    );
    logger.info('ra-started', {
      interface: config.name,
      linkLocal: this.#refreshSource(clock.now()),
      prefixes: config.prefixes.map((p) => `${p.prefix}/${p.prefixLength}`),
      solicitedResponse: config.solicitedResponse,
    });
    this.#arm();
  }

  /** The interface's link-local addresses that passed DAD, read afresh. */
  #linkLocals(): string[] {
    return usableLinkLocals(readFileSync('/proc/net/if_inet6', 'utf8'), this.config.name);
  }

  /**
   * The address the next RA goes out from, re-read before every send, or
   * undefined while the interface has none that passed DAD. RFC 4861 §6.2.8:
   * it stays the same while the interface has it; when it is gone and
   * another is there, RAs go out from that one, logged, and the interface
   * starts over as a new advertising interface (initial RAs again), which
   * is how hosts learn of the "new" router quickly. What §6.2.8 also asks,
   * a few RAs with Router Lifetime 0 from the old address, is not done:
   * the kernel no longer owns it (sending from it would need IPV6_FREEBIND,
   * and if it went because DAD failed, it is another node's address).
   * Hosts drop the old router when its lifetime runs out.
   */
  #refreshSource(now: number): string | undefined {
    const next = chooseLinkLocal(this.#linkLocals(), this.#source);
    if (next !== undefined && this.#source !== undefined && next !== this.#source) {
      this.counters.inc('ra_link_local_changed', this.#labels);
      this.logger.warn('ra-link-local-changed', { interface: this.config.name, from: this.#source, to: next });
      this.#scheduler.restart(now);
    }
    if (next !== undefined) this.#source = next;
    return next;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#stopping) return;
    this.#timer = setTimeout(() => this.#advertise(), Math.max(0, this.#scheduler.nextMulticastAt - this.clock.now()));
  }

  #advertise(): void {
    const now = this.clock.now();
    const source = this.#refreshSource(now);
    if (source === undefined) {
      // RFC 4861 §6.1.2: hosts would drop an RA from any other source.
      this.counters.inc('ra_deferred_no_link_local', this.#labels);
      if (!this.#waitingForLinkLocal) this.logger.warn('ra-waiting-for-link-local', { interface: this.config.name });
      this.#waitingForLinkLocal = true;
      this.#scheduler.postpone(now + LINK_LOCAL_RETRY_MS);
    } else {
      this.#waitingForLinkLocal = false;
      this.#send(this.#regular, ALL_NODES, source, 'ra_sent_multicast');
      this.#scheduler.multicastSent(now);
    }
    this.#arm();
  }

  #onMessage(message: ReceivedIcmpv6): void {
    if (this.#stopping) return;
    // ICMP6_FILTER lets only these two types through.
    if (message.data[0] === ROUTER_ADVERTISEMENT) this.#onAdvert(message);
    else this.#onSolicit(message);
  }

  #onSolicit(message: ReceivedIcmpv6): void {
    const { source } = message;
    this.counters.inc('rs_received', this.#labels);
    const verdict = validateRouterSolicit(message);
    if (!verdict.valid) {
      this.counters.inc(`rs_invalid_${verdict.reason.replace(/-/g, '_')}`, this.#labels);
      this.logger.debug('rs-dropped', { interface: this.config.name, from: source, reason: verdict.reason, detail: verdict.detail });
      return;
    }
    const now = this.clock.now();
    const answer = this.#scheduler.solicited(now, source);
    if (this.logger.enabled('debug')) this.logger.debug('rs-received', { interface: this.config.name, from: source, answer });
    if (answer.kind === 'unicast') {
      const from = this.#refreshSource(now);
      if (from !== undefined) this.#send(this.#regular, answer.to, from, 'ra_sent_unicast');
      else this.counters.inc('ra_deferred_no_link_local', this.#labels);
      // A changed source restarted the multicast schedule.
      this.#arm();
    } else if (answer.kind === 'multicast') {
      this.#arm();
    }
  }

  /** RFC 4861 §6.2.7: another router's RA, checked against ours. */
  #onAdvert(message: ReceivedIcmpv6): void {
    const { source } = message;
    // Our own multicasts are not looped back, but another daemon of this host would send from our address.
    if (this.#linkLocals().includes(source)) {
      this.counters.inc('ra_received_own', this.#labels);
      return;
    }
    const verdict = validateRouterAdvert(message);
    if (!verdict.valid) {
      this.counters.inc(`ra_invalid_${verdict.reason.replace(/-/g, '_')}`, this.#labels);
      this.logger.debug('ra-dropped', { interface: this.config.name, from: source, reason: verdict.reason, detail: verdict.detail });
      return;
    }
    this.counters.inc('ra_received', this.#labels);
    const inconsistencies = findInconsistencies(this.#advert, verdict.advert);
    this.logger.debug('ra-received', { interface: this.config.name, from: source, inconsistencies: inconsistencies.length });
    if (inconsistencies.length > 0) this.counters.inc('ra_received_inconsistent', this.#labels);
    // One line per disagreement, as radvd logs them.
    for (const { field, prefix, ours, theirs } of inconsistencies) {
      this.counters.inc(`ra_inconsistent_${field.replace(/-/g, '_')}`, this.#labels);
      this.logger.warn('ra-inconsistent', { interface: this.config.name, from: source, field, ...(prefix !== undefined && { prefix }), ours, theirs });
    }
  }

  #onReceiveError(err: Error): void {
    this.counters.inc('icmpv6_receive_errors', this.#labels);
    this.logger.warn('icmpv6-receive-failed', { interface: this.config.name, err });
  }

  /** Sends one RA; true when it went out. */
  #send(data: Buffer, to: string, from: string, counter: string): boolean {
    try {
      this.#socket.send(data, to, from);
      this.counters.inc(counter, this.#labels);
      return true;
    } catch (err) {
      this.counters.inc('ra_send_errors', this.#labels);
      this.logger.warn('ra-send-failed', { interface: this.config.name, to, from, err });
      return false;
    }
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearTimeout(this.#timer);
    try {
      const times = this.#scheduler.finalTimes(this.clock.now());
      for (const [i, at] of times.entries()) {
        const wait = at - this.clock.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const source = this.#refreshSource(this.clock.now());
        if (source === undefined) {
          this.counters.inc('ra_final_skipped_no_link_local', this.#labels);
        } else if (this.#send(this.#final, ALL_NODES, source, 'ra_sent_final')) {
          this.logger.info('ra-final-sent', { interface: this.config.name, number: i + 1, of: times.length });
        }
      }
    } finally {
      this.#socket.close();
    }
  }
}

/** The interface's MAC, for the Source Link-Layer Address option; undefined for links without one. */
function readMac(name: string): string | undefined {
  const mac = readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim();
  return /^[0-9a-f]{2}(:[0-9a-f]{2})+$/.test(mac) && /[1-9a-f]/.test(mac) ? mac : undefined;
}
