import type { Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { ServerConfig } from '../config/config.ts';
import { Dhcp4Engine, type Outcome, type RequestContext } from '../dhcp4/dhcp4-engine.ts';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';
import { SERVER_PORT } from '../dhcp4/reply-destination.ts';
import type { LeaseStore } from '../leases/lease-store.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { lookupLink, InterfaceError } from '../net/interfaces.ts';
import { openDhcp4Transport, type Dhcp4Transport, type ReceivedDatagram } from '../net/udp-dhcp4-transport.ts';
import { subnetDdnsById } from '../ddns/ddns-config.ts';
import { DdnsWorker } from '../ddns/ddns-worker.ts';
import { DdnsRegistrar } from '../ddns/name-registrar.ts';
import { reconcile, type ReconcileTarget } from '../ddns/reconciler.ts';
import type { Lease } from '../leases/lease.ts';
import { createDnsServices } from '../net/dns-updater.ts';
import { Counters } from './counters.ts';

export interface RunningDhcp4Server {
  readonly engine: Dhcp4Engine;
  readonly ddnsWorker?: DdnsWorker;
  readonly counters: Counters;
  stop(): Promise<void>;
}

/**
 * The thin I/O edge around the engine: sockets in, decisions out. Anything
 * a datagram can do wrong is counted and dropped here; nothing a client
 * sends can stop the server.
 */
export async function startDhcp4Server(config: ServerConfig, store: LeaseStore, clock: Clock, logger: Logger, port = SERVER_PORT): Promise<RunningDhcp4Server> {
  const links = config.interfaces.map((i) => ({ link: lookupLink(i.name), configured: i.address }));
  const contexts = new Map<string, RequestContext>();
  for (const { link, configured } of links) {
    const serverAddress = config.serverId ?? configured ?? link.ipv4;
    if (!serverAddress) throw new InterfaceError(`interface ${link.name}: has no IPv4 address to use as server identifier; set interfaces[].address`);
    contexts.set(link.name, { interfaceName: link.name, serverAddress });
  }
  const counters = new Counters();
  const ddns = startDdns(config, store, clock, logger, counters);
  const engine = new Dhcp4Engine({
    subnets: config.subnets,
    store,
    clock,
    logger,
    offerHoldSeconds: config.offerHoldSeconds,
    declineQuarantineSeconds: config.declineQuarantineSeconds,
    serverAddresses: [...contexts.values()].map((c) => c.serverAddress),
    registrar: ddns?.registrar,
  });
  // Requests whose answer is still on its way (most wait for a lease commit):
  // a clean stop lets them finish, so no client loses an ACK it has earned.
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;

  const onDatagram = (d: ReceivedDatagram) => {
    if (draining) return;
    counters.inc('packets_received');
    const ctx = contexts.get(d.interfaceName);
    if (!ctx) return;
    let req: Dhcp4Message;
    try {
      req = Dhcp4Message.decode(d.data);
    } catch (err) {
      countMalformed(err, d);
      return;
    }
    inFlight++;
    engine
      .handle(req, ctx)
      .then(
        (outcome) => deliver(outcome, req, ctx),
        (err) => countMalformed(err, d),
      )
      .finally(() => {
        if (--inFlight === 0) drained?.();
      });
  };

  const countMalformed = (err: unknown, d: ReceivedDatagram) => {
    if (err instanceof DecodeError) {
      counters.inc('packets_malformed');
      logger.debug('malformed-packet', { from: d.from.address, interface: d.interfaceName, error: err.message });
    } else {
      counters.inc('internal_errors');
      logger.error('request-failed', { from: d.from.address, err });
    }
  };

  const deliver = (outcome: Outcome, req: Dhcp4Message, ctx: RequestContext) => {
    if (outcome.kind !== 'reply') {
      counters.inc(outcome.kind === 'drop' ? 'packets_dropped' : 'requests_unanswered');
      if (logger.enabled('debug')) logger.debug(outcome.kind, { reason: outcome.reason, xid: req.xid, client: req.hwAddress() });
      return;
    }
    const type = outcome.reply.options.get(Opt.MessageType);
    counters.inc(`replies_${type === undefined ? 'unknown' : Dhcp4MessageType[type].toLowerCase()}`);
    transport.send(ctx.interfaceName, outcome.reply.encode(), outcome.to);
  };

  const onSendError = (err: Error, to: { address: string }) => {
    counters.inc('send_errors');
    logger.warn('send-failed', { to: to.address, err });
  };

  let transport: Dhcp4Transport;
  try {
    transport = await openDhcp4Transport(
      links.map((l) => l.link),
      port,
      { onDatagram, onSendError },
    );
  } catch (err) {
    await ddns?.worker.stop();
    throw err;
  }
  ddns?.resume();

  const reclaim = async () => {
    try {
      const expired = await engine.reclaimExpired();
      if (expired.length > 0) logger.info('leases-expired', { count: expired.length });
    } catch (err) {
      logger.error('reclaim-failed', { err });
    }
  };
  const reclaimTimer = setInterval(reclaim, config.expiredReclaimIntervalSeconds * 1000);
  reclaimTimer.unref();
  await reclaim();

  // Once at start (not awaited: BIND may be down, and DHCP must not wait for
  // it), then on the configured interval.
  const snapshot = () => [...engine.table.all()];
  const reconcileSeconds = config.ddns?.reconcileIntervalSeconds ?? 0;
  const reconcileTimer = ddns && reconcileSeconds > 0 ? setInterval(() => void ddns.reconcileNow(snapshot), reconcileSeconds * 1000) : undefined;
  reconcileTimer?.unref();
  void ddns?.reconcileNow(snapshot);

  return {
    engine,
    ddnsWorker: ddns?.worker,
    counters,
    async stop() {
      clearInterval(reclaimTimer);
      clearInterval(reconcileTimer);
      draining = true;
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      await transport.close();
      // What DNS has not confirmed stays queued in the store for the next start.
      await ddns?.worker.stop();
    },
  };
}

/**
 * DNS registration, when configured: the worker resumes the queue the store
 * kept across a restart, and the registrar numbers new changes after it.
 */
function startDdns(config: ServerConfig, store: LeaseStore, clock: Clock, logger: Logger, counters: Counters) {
  const ddns = config.ddns;
  if (!ddns?.enabled) return undefined;
  const { updater, lookup } = createDnsServices(ddns.zones, logger);
  const worker = new DdnsWorker({ ddns, store, updater, logger, clock, counters });
  const queued = store.loadDnsQueue();
  const lastSeq = queued.reduce((max, c) => Math.max(max, c.seq), 0);
  const registrar = new DdnsRegistrar(ddns, subnetDdnsById(config.subnets), () => clock.now(), lastSeq, (changes) => worker.enqueue(changes));
  // Sent only once the server is up: a server that fails to start sends nothing.
  const resume = () => {
    if (queued.length > 0) logger.info('ddns-queue-resumed', { pending: queued.length });
    worker.enqueue(queued);
  };
  const target: ReconcileTarget = {
    hasPending: (fqdn) => worker.hasPending(fqdn),
    changeFor: (action, lease) => registrar.changeFor(action, lease),
    async enqueue(changes) {
      await store.commit({ enqueue: changes });
      worker.enqueue(changes);
    },
  };
  /** One pass over a snapshot of the table; never two at once. */
  let running: Promise<void> | undefined;
  const reconcileNow = (leases: () => Lease[]) => {
    running ??= reconcile(leases(), ddns, lookup, target, logger, clock.now())
      .then((report) => logger.info('ddns-reconciled', { ...report }))
      .catch((err) => logger.error('ddns-reconcile-failed', { err }))
      .finally(() => (running = undefined));
    return running;
  };
  return { worker, registrar, reconcileNow, resume };
}
