import type { Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { DdnsConfig, DdnsZoneConfig, SubnetDdnsById } from '../ddns/ddns-config.ts';
import { DdnsWorker } from '../ddns/ddns-worker.ts';
import { DdnsRegistrar } from '../ddns/name-registrar.ts';
import { reconcile, type ReconcileTarget } from '../ddns/reconciler.ts';
import type { LeaseStore } from '../leases/lease-store.ts';
import { isSharedQueueStore, type ClaimSettings, type LeaderLock, type SharedQueueStore } from '../leases/dns-claims.ts';
import { ClaimKeeper } from '../ddns/claim-keeper.ts';
import type { Lease } from '../leases/lease.ts';
import type { DnsChange } from '../leases/dns-change.ts';
import { createDnsServices, type DnsServices } from '../net/dns-updater.ts';
import type { CounterSink } from './counters.ts';
import type { Service } from './service.ts';

/**
 * How often key files are read again. A read of a file of a few hundred
 * bytes costs microseconds; polling, unlike inotify, also follows a file
 * replaced by rename (what editors and `tsig-keygen > new && mv` do).
 */
export const KEY_FILE_CHECK_MS = 2000;

/**
 * A shared queue is polled for heads this often, besides right after each
 * of our commits and each change we finish: what catches the heads other
 * servers queued, and the claims of a server that died once they ran out.
 */
export const CLAIM_POLL_MS = 1000;
/** Heads claimed in one pass. */
const CLAIM_BATCH = 64;

/** The claim settings `ddns.claimSeconds` means: a third of the claim kept as the margin (dns-claims.ts). */
export function claimSettingsFor(config: DdnsConfig): ClaimSettings {
  const claimMs = config.claimSeconds * 1000;
  return { claimMs, marginMs: Math.round(claimMs / 3) };
}

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
  /**
   * Several servers share the store's DNS queue (`leaseStore.shared`):
   * each change is sent under a claim, and the reconciler runs on the
   * one server holding the leader lock.
   */
  sharedQueue?: boolean;
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
  #shared: { store: SharedQueueStore; keeper: ClaimKeeper; leader: LeaderLock } | undefined;
  #claimTimer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  /** One claim pass at a time; `#claimAgain` asks for another once it ends. */
  #claiming: Promise<void> | undefined;
  #claimAgain = false;
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
    if (deps.sharedQueue) {
      if (!isSharedQueueStore(store)) throw new Error('a shared DNS queue needs a store several servers share (leaseStore.type postgresql)');
      const settings = claimSettingsFor(config);
      this.#shared = { store, keeper: new ClaimKeeper(store.dnsClaimQueue(settings), deps.clock, settings, () => this.#claimSoon()), leader: store.reconcilerLeader() };
    }
    const keeper = this.#shared?.keeper;
    const worker = new DdnsWorker({ ddns: config, store, updater: dns.updater, logger: deps.logger, clock: deps.clock, counters: deps.counters, paused: true, claims: keeper });
    // Shared: the queue is worked through claims (the first pass at `serve`),
    // and the numbers our registrar gives are replaced by the database's.
    const queued = keeper ? [] : store.loadDnsQueue();
    worker.enqueue(queued);
    const lastSeq = queued.reduce((max, c) => Math.max(max, c.seq), 0);
    const onCommitted = keeper ? () => this.#claimSoon() : (changes: DnsChange[]) => worker.enqueue(changes);
    this.#registrar = new DdnsRegistrar(config, deps.subnets, () => deps.clock.now(), lastSeq, onCommitted);
    this.#dns = dns;
    this.#worker = worker;
    this.#queuedAtStart = queued.length;
  }

  /** Sends the queue, then reconciles now and on the configured interval, and watches the key files. */
  serve(): void {
    if (this.#queuedAtStart > 0) this.deps.logger.info('ddns-queue-resumed', { pending: this.#queuedAtStart });
    this.worker.resume();
    if (this.#shared) {
      this.#claimSoon();
      this.#claimTimer = setInterval(() => this.#claimSoon(), CLAIM_POLL_MS);
      this.#claimTimer.unref();
      this.#renewTimer = setInterval(() => void this.#renewClaims(), claimSettingsFor(this.config).claimMs / 3);
      this.#renewTimer.unref();
    }
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
    clearInterval(this.#claimTimer);
    clearInterval(this.#renewTimer);
    await this.#worker?.stop();
    await this.#claiming;
    await this.#shared?.leader.release();
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

  /**
   * One pass of the reconciler over the lease table; never two at once. On
   * a shared queue, only on the server holding the leader lock, over the
   * database's table (this server's copy misses what the others wrote).
   */
  reconcileNow(): Promise<void> {
    const dns = this.#dns;
    if (!dns || this.#stopped) return Promise.resolve();
    const worker = this.worker;
    const registrar = this.registrar;
    const store = this.deps.store();
    const shared = this.#shared;
    const { logger } = this.deps;
    const pass = async () => {
      let leases: readonly Lease[] = this.deps.leases();
      let pending = (fqdn: string) => worker.hasPending(fqdn);
      if (shared) {
        if (!(await shared.leader.acquire())) {
          logger.debug('ddns-reconcile-skipped', { reason: 'another server leads the reconciler' });
          return undefined;
        }
        leases = await shared.store.readLeases();
        const names = await shared.keeper.pendingNames();
        pending = (fqdn) => names.has(fqdn);
      }
      const target: ReconcileTarget = {
        hasPending: pending,
        changeFor: (action, lease) => registrar.changeFor(action, lease),
        enqueue: async (changes) => {
          // A pass that outlives the stop must not write to a store being closed.
          if (this.#stopped) return;
          await store.commit({ enqueue: changes });
          if (shared) this.#claimSoon();
          else worker.enqueue(changes);
        },
      };
      return reconcile([...leases], this.config, dns.lookup, target, logger, this.deps.clock.now());
    };
    this.#reconciling ??= pass()
      .then((report) => {
        if (report === undefined) return;
        if (report.missing > 0) this.deps.counters.inc('ddns_reconciler_repairs', { kind: 'missing' }, report.missing);
        if (report.stale > 0) this.deps.counters.inc('ddns_reconciler_repairs', { kind: 'stale' }, report.stale);
        logger.info('ddns-reconciled', { ...report });
      })
      .catch((err) => logger.error('ddns-reconcile-failed', { err }))
      .finally(() => (this.#reconciling = undefined));
    return this.#reconciling;
  }

  /** A claim pass now, or right after the one running (which may have read the queue before our last commit). */
  #claimSoon(): void {
    if (!this.#shared || this.#stopped) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    const { keeper } = this.#shared;
    this.#claiming = keeper
      .claim(CLAIM_BATCH)
      .then((fresh) => {
        if (fresh.length > 0 && !this.#stopped) this.worker.enqueue(fresh);
      })
      .catch((err) => this.deps.logger.debug('ddns-claim-failed', { err }))
      .finally(() => {
        this.#claiming = undefined;
        if (this.#claimAgain) {
          this.#claimAgain = false;
          this.#claimSoon();
        }
      });
  }

  async #renewClaims(): Promise<void> {
    if (!this.#shared || this.#stopped) return;
    try {
      const lost = await this.#shared.keeper.renew();
      if (lost > 0) this.deps.logger.warn('ddns-claims-lost', { lost, note: 'another server sends them now' });
    } catch (err) {
      // Not renewed: the claims run out, and the worker stops starting UPDATEs for them before they do.
      this.deps.logger.debug('ddns-claim-renew-failed', { err });
    }
  }
}
