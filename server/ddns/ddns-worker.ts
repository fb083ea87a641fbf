import type { Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { LeaseStore } from '../leases/lease-store.ts';
import {
  planForwardAdd,
  planForwardRemove,
  planReverseAdd,
  planReverseRemove,
  type AddressRecord,
  type PlanStep,
  type UpdateOutcome,
  type Verdict,
} from './conflict-resolution.ts';
import type { DdnsConfig, DdnsZoneConfig } from './ddns-config.ts';
import type { DnsChange } from '../leases/dns-change.ts';
import { findZone, reverseNameV4, reverseNameV6 } from './reverse-names.ts';
import type { UpdateRequest } from '../../lib/dns/update-request.ts';

/** Sends one UPDATE to a zone's servers and says what the server answered. */
export interface DnsUpdater {
  update(zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateOutcome>;
}

export interface DdnsWorkerCounters {
  inc(name: string): void;
}

/**
 * UPDATEs in flight at once, across all names. BIND works on at most 100
 * (`update-quota`) and silently drops the rest, which then cost a timeout
 * each; Kea's D2 keeps 32 in flight. Measured with make bench (ddns).
 */
const DEFAULT_MAX_IN_FLIGHT = 32;

/**
 * Works the durable DNS queue: changes to one name go out strictly in
 * order (an add after a remove must not overtake it), different names in
 * parallel. A change leaves the queue — in the store too — only once DNS is
 * as wanted or the name turned out to be someone else's; while BIND is down
 * or refusing, it is retried with exponential back-off, and after a restart
 * the queue is picked up from the store where it stopped.
 */
export class DdnsWorker {
  readonly #queues = new Map<string, DnsChange[]>();
  readonly #busy = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #backoff = new Map<string, number>();
  readonly #draining = new Set<Promise<void>>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  #inFlight = 0;
  readonly #slotWaiters: Array<() => void> = [];

  constructor(
    private readonly opts: {
      ddns: DdnsConfig;
      store: LeaseStore;
      updater: DnsUpdater;
      logger: Logger;
      clock: Clock;
      counters?: DdnsWorkerCounters;
      maxInFlight?: number;
    },
  ) {}

  /** Queues changes already durable in the store, and starts on them. */
  enqueue(changes: readonly DnsChange[]): void {
    for (const change of changes) {
      const queue = this.#queues.get(change.fqdn) ?? [];
      queue.push(change);
      this.#queues.set(change.fqdn, queue);
      this.#startDrain(change.fqdn);
    }
  }

  hasPending(fqdn: string): boolean {
    return (this.#queues.get(fqdn)?.length ?? 0) > 0;
  }

  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  /** Resolves when nothing is queued (tests, clean shutdown). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops sending and waits for the updates already on the wire to settle
   * (so none writes to a closed store); what is still queued stays in the
   * store for the next start.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const release of this.#slotWaiters.splice(0)) release();
    await Promise.all([...this.#draining]);
  }

  #startDrain(fqdn: string): void {
    const run = this.#drain(fqdn).finally(() => this.#draining.delete(run));
    this.#draining.add(run);
  }

  async #drain(fqdn: string): Promise<void> {
    if (this.#busy.has(fqdn) || this.#timers.has(fqdn) || this.#stopped) return;
    this.#busy.add(fqdn);
    try {
      const queue = this.#queues.get(fqdn) ?? [];
      while (queue.length > 0 && !this.#stopped) {
        const change = queue[0];
        const verdict = await this.#process(change);
        if (this.#stopped) return;
        if (verdict === 'retry-later') {
          this.#retryLater(fqdn);
          return;
        }
        this.#backoff.delete(fqdn);
        await this.opts.store.commit({ dequeue: [change.seq] });
        queue.shift();
      }
      this.#queues.delete(fqdn);
      if (this.pending === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    } catch (err) {
      // The store refused the dequeue: keep the change, try again later.
      this.opts.logger.error('ddns-queue-failed', { fqdn, err });
      this.#retryLater(fqdn);
    } finally {
      this.#busy.delete(fqdn);
    }
  }

  #retryLater(fqdn: string): void {
    const { initialMs, maxMs } = this.opts.ddns.retry;
    const delay = Math.min(maxMs, this.#backoff.get(fqdn) ?? initialMs);
    this.#backoff.set(fqdn, Math.min(maxMs, delay * 2));
    this.opts.counters?.inc('ddns_retries');
    const timer = setTimeout(() => {
      this.#timers.delete(fqdn);
      this.#startDrain(fqdn);
    }, delay);
    this.#timers.set(fqdn, timer);
  }

  /** Forward first; the PTRs only once the forward name is settled (as Kea does). */
  async #process(change: DnsChange): Promise<Verdict> {
    const zones = this.opts.ddns.zones;
    const forwardZone = findZone(change.fqdn, zones);
    if (!forwardZone) {
      this.opts.logger.warn('ddns-no-zone', { fqdn: change.fqdn });
      return 'done';
    }
    const addresses: AddressRecord[] = [{ type: 'A', data: change.ipv4 }];
    if (change.ipv6 !== undefined) addresses.push({ type: 'AAAA', data: change.ipv6 });
    const mode = this.opts.ddns.conflictResolution;
    const forward = { zone: forwardZone.name, fqdn: change.fqdn, addresses, dhcid: change.dhcid };
    const plan = change.action === 'add' ? planForwardAdd(mode, { ...forward, ttl: change.ttl }) : planForwardRemove(mode, forward);
    const verdict = await this.#run(forwardZone, plan, change);
    if (verdict === 'retry-later') return verdict;
    // A name that is someone else's gets no PTR from us; a lease that ended
    // loses its PTRs whatever became of the name.
    if (verdict === 'conflict' && change.action === 'add') return verdict;
    for (const address of addresses) {
      const name = address.type === 'A' ? reverseNameV4(address.data) : reverseNameV6(address.data);
      const zone = findZone(name, zones);
      if (!zone) continue;
      const reverse = { zone: zone.name, name, fqdn: change.fqdn };
      const step = change.action === 'add' ? planReverseAdd({ ...reverse, ttl: change.ttl }) : planReverseRemove(reverse);
      if ((await this.#run(zone, step, change)) === 'retry-later') return 'retry-later';
    }
    return verdict;
  }

  /** One UPDATE, within the in-flight cap. */
  async #send(zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateOutcome> {
    const max = this.opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    while (this.#inFlight >= max) {
      if (this.#stopped) return 'failed';
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    this.#inFlight++;
    try {
      return await this.opts.updater.update(zone, req);
    } finally {
      this.#inFlight--;
      this.#slotWaiters.shift()?.();
    }
  }

  async #run(zone: DdnsZoneConfig, first: PlanStep, change: DnsChange): Promise<Verdict> {
    let step = first;
    while (step.kind === 'send') {
      if (this.#stopped) return 'retry-later';
      const outcome = await this.#send(zone, step.request);
      step = step.next(outcome);
    }
    const fields = { fqdn: change.fqdn, action: change.action, ip: change.ipv4, zone: zone.name, reason: step.reason };
    if (step.verdict === 'conflict') {
      this.opts.counters?.inc('ddns_conflicts');
      this.opts.logger.warn('ddns-conflict', fields);
    } else if (step.verdict === 'retry-later') {
      this.opts.logger.warn('ddns-retry', fields);
    } else {
      this.opts.counters?.inc(`ddns_${change.action}_done`);
      this.opts.logger.info('ddns-updated', fields);
    }
    return step.verdict;
  }
}
