import { readFileSync } from 'node:fs';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import { lookupLink } from '../net/interfaces.ts';
import { openIcmpv6Socket, type Icmpv6Socket } from '../net/icmpv6-socket.ts';
import { buildFinalRouterAdvert, buildRouterAdvert } from '../ra/advert-builder.ts';
import { AdvertScheduler } from '../ra/advert-scheduler.ts';
import { usableLinkLocal } from '../ra/link-local.ts';
import type { RaConfig, RaInterfaceConfig } from '../ra/ra-config.ts';
import { routerAdvert } from '../ra/router-advert.ts';
import { ROUTER_SOLICITATION } from '../ra/router-solicit.ts';
import { validateRouterSolicit } from '../ra/rs-validation.ts';
import { Counters } from './counters.ts';

/** RFC 4861 §6.2.6/§6.3.7: routers listen on all-routers, advertise to all-nodes. */
const ALL_ROUTERS = 'ff02::2';
const ALL_NODES = 'ff02::1';
/** How soon to look again for a link-local address that is still in DAD. */
const LINK_LOCAL_RETRY_MS = 1000;

export interface RunningRaService {
  readonly counters: Counters;
  /** Sends each interface's final RA (RFC 4861 §6.2.5), then closes its socket. */
  stop(): Promise<void>;
}

/**
 * The I/O edge of router advertisement: per interface a raw ICMPv6 socket,
 * one timer driven by the pure AdvertScheduler, and the two RAs the
 * configuration gives (the regular one and the final one), encoded once.
 * What a solicitation can do wrong is counted and dropped; nothing a host
 * sends can stop the service.
 */
export async function startRaService(config: RaConfig, clock: Clock, logger: Logger, random: () => number = Math.random): Promise<RunningRaService> {
  const counters = new Counters();
  const advertisers: InterfaceAdvertiser[] = [];
  try {
    for (const iface of config.interfaces) advertisers.push(new InterfaceAdvertiser(iface, clock, logger, counters, random));
  } catch (err) {
    await Promise.all(advertisers.map((a) => a.stop()));
    throw err;
  }
  return {
    counters,
    async stop() {
      await Promise.all(advertisers.map((a) => a.stop()));
    },
  };
}

class InterfaceAdvertiser {
  readonly #regular: Buffer;
  readonly #final: Buffer;
  readonly #scheduler: AdvertScheduler;
  readonly #socket: Icmpv6Socket;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #waitingForLinkLocal = false;

  constructor(
    private readonly config: RaInterfaceConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly counters: Counters,
    random: () => number,
  ) {
    const link = lookupLink(config.name);
    const mac = config.sourceLinkLayerAddress ? readMac(config.name) : undefined;
    this.#regular = routerAdvert.encode(buildRouterAdvert(config, mac));
    this.#final = routerAdvert.encode(buildFinalRouterAdvert(config, mac));
    this.#scheduler = new AdvertScheduler(
      { minIntervalMs: config.minIntervalSeconds * 1000, maxIntervalMs: config.maxIntervalSeconds * 1000, solicitedResponse: config.solicitedResponse },
      random,
      clock.now(),
    );
    this.#socket = openIcmpv6Socket(
      link,
      { receiveTypes: [ROUTER_SOLICITATION], joinGroups: [ALL_ROUTERS] },
      { onMessage: (data, source) => this.#onSolicit(data, source), onError: (err) => this.#onReceiveError(err) },
    );
    logger.info('ra-started', {
      interface: config.name,
      linkLocal: this.#linkLocal(),
      prefixes: config.prefixes.map((p) => `${p.prefix}/${p.prefixLength}`),
      solicitedResponse: config.solicitedResponse,
    });
    this.#arm();
  }

  /** The address the kernel will send from, or undefined while the interface has none that passed DAD. */
  #linkLocal(): string | undefined {
    return usableLinkLocal(readFileSync('/proc/net/if_inet6', 'utf8'), this.config.name);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#stopping) return;
    this.#timer = setTimeout(() => this.#advertise(), Math.max(0, this.#scheduler.nextMulticastAt - this.clock.now()));
  }

  #advertise(): void {
    const now = this.clock.now();
    if (this.#linkLocal() === undefined) {
      // RFC 4861 §6.1.2: hosts would drop an RA from any other source.
      this.counters.inc('ra_deferred_no_link_local');
      if (!this.#waitingForLinkLocal) this.logger.warn('ra-waiting-for-link-local', { interface: this.config.name });
      this.#waitingForLinkLocal = true;
      this.#scheduler.postpone(now + LINK_LOCAL_RETRY_MS);
    } else {
      this.#waitingForLinkLocal = false;
      this.#send(this.#regular, ALL_NODES, 'ra_sent_multicast');
      this.#scheduler.multicastSent(now);
    }
    this.#arm();
  }

  #onSolicit(data: Buffer, source: string): void {
    if (this.#stopping) return;
    this.counters.inc('rs_received');
    const verdict = validateRouterSolicit({ data, source });
    if (!verdict.valid) {
      this.counters.inc(`rs_invalid_${verdict.reason.replace(/-/g, '_')}`);
      this.logger.debug('rs-dropped', { interface: this.config.name, from: source, reason: verdict.reason, detail: verdict.detail });
      return;
    }
    const answer = this.#scheduler.solicited(this.clock.now(), source);
    if (this.logger.enabled('debug')) this.logger.debug('rs-received', { interface: this.config.name, from: source, answer });
    if (answer.kind === 'unicast') {
      if (this.#linkLocal() !== undefined) this.#send(this.#regular, `${answer.to}%${this.config.name}`, 'ra_sent_unicast');
      else this.counters.inc('ra_deferred_no_link_local');
    } else if (answer.kind === 'multicast') {
      this.#arm();
    }
  }

  #onReceiveError(err: Error): void {
    this.counters.inc('icmpv6_receive_errors');
    this.logger.warn('icmpv6-receive-failed', { interface: this.config.name, err });
  }

  #send(data: Buffer, to: string, counter: string): void {
    this.#socket.send(data, to).then(
      () => this.counters.inc(counter),
      (err: Error) => {
        this.counters.inc('ra_send_errors');
        this.logger.warn('ra-send-failed', { interface: this.config.name, to, err });
      },
    );
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearTimeout(this.#timer);
    const wait = this.#scheduler.finalAt(this.clock.now()) - this.clock.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.#linkLocal() !== undefined) {
      try {
        await this.#socket.send(this.#final, ALL_NODES);
        this.counters.inc('ra_sent_final');
        this.logger.info('ra-final-sent', { interface: this.config.name });
      } catch (err) {
        this.counters.inc('ra_send_errors');
        this.logger.warn('ra-send-failed', { interface: this.config.name, to: ALL_NODES, err });
      }
    }
    this.#socket.close();
  }
}

/** The interface's MAC, for the Source Link-Layer Address option; undefined for links without one. */
function readMac(name: string): string | undefined {
  const mac = readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim();
  return /^[0-9a-f]{2}(:[0-9a-f]{2})+$/.test(mac) && /[1-9a-f]/.test(mac) ? mac : undefined;
}
