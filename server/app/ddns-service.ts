import type { Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { DdnsConfig, DdnsZoneConfig, SubnetDdnsById } from '../ddns/ddns-config.ts';
import { DdnsWorker } from '../ddns/ddns-worker.ts';
import { DdnsRegistrar } from '../ddns/name-registrar.ts';
import { reconcile, type ReconcileTarget } from '../ddns/reconciler.ts';
import type { LeaseStore } from '../leases/lease-store.ts';
import type { Lease } from '../leases/lease.ts';
import { createDnsServices, type DnsServices } from '../net/dns-updater.ts';
import type { CounterSink } from './counters.ts';
import type { Service } from './service.ts';

/**
 * How often key files are read again. A read of a file of a few hundred
 * bytes costs microseconds; polling, unlike inotify, also follows a file
 * replaced by rename (what editors and `tsig-keygen > new && mv` do).
 */
export const KEY_FILE_CHECK_MS = 2000;

export interface DdnsServiceDeps {
  /** Where each subnet's clients are named (`subnetDdnsById`); a subnet without an entry registers nothing. */
  subnets: SubnetDdnsById;
  /** The open lease store (read at start). */
  store: () => LeaseStore;
  /** The lease table, for the reconciler (read once serving). */
  leases: () => readonly Lease[];
  clock: Clock;
  logger: Logger;
  counters: CounterSink;
  keyCheckIntervalMs?: number;
  /** The DNS edge; tests give their own. */
  dnsServices?: (zones: readonly DdnsZoneConfig[], logger: Logger, counters: CounterSink) => DnsServices;
}

/**
 * DNS registration: the durable queue's worker, the registrar the DHCPv4
 * engine names bindings with, the reconciler's timer and the key files'
 * watch. The queue a previous run left in the store is loaded at start and
 * sent only once the whole appliance is up (`serve`): a server that fails
 * to start sends nothing. Changes a zone refused for good are parked by the
 * worker and sent again when that zone's key file changes.
 */
export class DdnsService implements Service {
  readonly name = 'ddns';
  #dns: DnsServices | undefined;
  #worker: DdnsWorker | undefined;
  #registrar: DdnsRegistrar | undefined;
  #queuedAtStart = 0;
  #reconcileTimer: NodeJS.Timeout | undefined;
  #keyTimer: NodeJS.Timeout | undefined;
  /** One reconcile pass at a time. */
  #reconciling: Promise<void> | undefined;
  #stopped = false;
  /** The last problem logged per zone's key file, so a broken file is logged once, not every check. */
  readonly #keyProblems = new Map<string, string>();

  constructor(
    private readonly config: DdnsConfig,
    private readonly deps: DdnsServiceDeps,
  ) {}

  get worker(): DdnsWorker {
    if (!this.#worker) throw new Error('the DDNS service has not started');
    return this.#worker;
  }

  get registrar(): DdnsRegistrar {
    if (!this.#registrar) throw new Error('the DDNS service has not started');
    return this.#registrar;
  }

  /** Reads the zones' keys (a missing or wrong key file fails the start) and loads the stored queue, without sending. */
  async start(): Promise<void> {
    const { config, deps } = this;
    const dns = (deps.dnsServices ?? createDnsServices)(config.zones, deps.logger, deps.counters);
    const store = deps.store();
    const worker = new DdnsWorker({ ddns: config, store, updater: dns.updater, logger: deps.logger, clock: deps.clock, counters: deps.counters, paused: true });
    const queued = store.loadDnsQueue();
    worker.enqueue(queued);
    const lastSeq = queued.reduce((max, c) => Math.max(max, c.seq), 0);
    this.#registrar = new DdnsRegistrar(config, deps.subnets, () => deps.clock.now(), lastSeq, (changes) => worker.enqueue(changes));
    this.#dns = dns;
    this.#worker = worker;
    this.#queuedAtStart = queued.length;
  }

  /** Sends the queue, then reconciles now and on the configured interval, and watches the key files. */
  serve(): void {
    if (this.#queuedAtStart > 0) this.deps.logger.info('ddns-queue-resumed', { pending: this.#queuedAtStart });
    this.worker.resume();
    // Not awaited: BIND may be down, and DHCP must not wait for it.
    void this.reconcileNow();
    const seconds = this.config.reconcileIntervalSeconds;
    if (seconds > 0) {
      this.#reconcileTimer = setInterval(() => void this.reconcileNow(), seconds * 1000);
      this.#reconcileTimer.unref();
    }
    if (this.config.zones.some((z) => z.key?.secretFile !== undefined)) {
      this.#keyTimer = setInterval(() => this.checkKeys(), this.deps.keyCheckIntervalMs ?? KEY_FILE_CHECK_MS);
      this.#keyTimer.unref();
    }
  }

  /** What DNS has not confirmed stays queued in the store for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#reconcileTimer);
    clearInterval(this.#keyTimer);
    await this.#worker?.stop();
    // A reconcile pass still asking gets its lookups refused; the sessions' connections close.
    this.#dns?.close();
  }

  /**
   * Reads the key files again; a zone whose key changed gets its parked
   * changes sent again. Called on an interval; a configuration reload
   * would call it (or `unpark`) too. Returns the zones whose key changed.
   */
  checkKeys(): string[] {
    if (!this.#dns || this.#stopped) return [];
    const { changed, failed } = this.#dns.reloadKeys();
    for (const { zone, error } of failed) {
      if (this.#keyProblems.get(zone) === error.message) continue;
      this.#keyProblems.set(zone, error.message);
      this.deps.logger.error('ddns-key-unusable', { zone, err: error, kept: 'the key read before' });
    }
    for (const zone of changed) {
      this.#keyProblems.delete(zone);
      const key = this.config.zones.find((z) => z.name === zone)?.key;
      this.deps.logger.info('ddns-key-reloaded', { zone, key: key?.name, algorithm: key?.algorithm, keyFile: key?.secretFile });
    }
    if (changed.length > 0) this.unpark(changed);
    return changed;
  }

  /** The queue as /metrics shows it: changes waiting (parked ones included), parked, and the oldest one's age. */
  queueState(): { queued: number; parked: number; oldestAgeSeconds: number } {
    const worker = this.#worker;
    if (!worker) return { queued: 0, parked: 0, oldestAgeSeconds: 0 };
    const oldest = worker.oldestQueuedAt();
    return { queued: worker.pending, parked: worker.parked, oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (this.deps.clock.now() - oldest) / 1000) };
  }

  /** Sends the changes parked on these zones (all when omitted) again. */
  unpark(zones?: readonly string[]): number {
    return this.#worker?.unpark(zones) ?? 0;
  }

  /** One pass of the reconciler over the lease table; never two at once. */
  reconcileNow(): Promise<void> {
    const dns = this.#dns;
    if (!dns || this.#stopped) return Promise.resolve();
    const worker = this.worker;
    const registrar = this.registrar;
    const store = this.deps.store();
    const target: ReconcileTarget = {
      hasPending: (fqdn) => worker.hasPending(fqdn),
      changeFor: (action, lease) => registrar.changeFor(action, lease),
      enqueue: async (changes) => {
        // A pass that outlives the stop must not write to a store being closed.
        if (this.#stopped) return;
        await store.commit({ enqueue: changes });
        worker.enqueue(changes);
      },
    };
    const { logger } = this.deps;
    this.#reconciling ??= reconcile([...this.deps.leases()], this.config, dns.lookup, target, logger, this.deps.clock.now())
      .then((report) => {
        if (report.missing > 0) this.deps.counters.inc('ddns_reconciler_repairs', { kind: 'missing' }, report.missing);
        if (report.stale > 0) this.deps.counters.inc('ddns_reconciler_repairs', { kind: 'stale' }, report.stale);
        logger.info('ddns-reconciled', { ...report });
      })
      .catch((err) => logger.error('ddns-reconcile-failed', { err }))
      .finally(() => (this.#reconciling = undefined));
    return this.#reconciling;
  }
}
