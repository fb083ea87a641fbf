import type { Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { LeaseStore } from '../leases/lease-store.ts';
import { coalesceChanges } from './change-coalescing.ts';
import {
  planForwardAdd,
  planForwardRemove,
  planReverseAdd,
  planReverseRemove,
  type AddressRecord,
  type PlanStep,
  type Verdict,
} from './conflict-resolution.ts';
import type { DdnsConfig, DdnsZoneConfig } from './ddns-config.ts';
import type { DnsRefusal, DnsUpdater } from './dns-updater-port.ts';
import type { DnsChange } from '../leases/dns-change.ts';
import { findZone, reverseNameV4, reverseNameV6 } from './reverse-names.ts';
import type { BatchLimits } from './update-batch.ts';
import { UpdateDispatcher, type DdnsCounters } from './update-dispatcher.ts';
import { DEFAULT_WINDOW, UpdateWindow, type WindowSettings } from './update-window.ts';

export type { DnsFailure, DnsRefusal, DnsUpdater, UpdateAnswer } from './dns-updater-port.ts';

/** The durable queue as the metrics see it (`DdnsWorker.backlog`). */
export interface DdnsBacklog {
  /** Changes queued, parked ones included. */
  depth: number;
  /** Of those, the ones waiting for `unpark`. */
  parked: number;
  /** Milliseconds since the oldest queued change was made; 0 when the queue is empty. */
  oldestAgeMs: number;
  /** UPDATE messages on the wire, and how many the window allows now. */
  inFlight: number;
  window: number;
}

/** A clock for round trips: monotonic, sub-millisecond (a LAN round trip to BIND is under a millisecond). */
const MONOTONIC: Clock = { now: () => performance.now() };

/** How a worker on a shared queue asks about its claims. */
export interface WorkerClaims {
  /** Whether this server's claim on the change is still trusted for starting an UPDATE. */
  mayStart(change: DnsChange): boolean;
  /** The worker is done with these changes (sent and dequeued, or dropped for want of a trusted claim). */
  settled(seqs: readonly number[]): void;
}

/**
 * `parked`: a zone refused the change for good (DnsRefusal); it waits in the queue for `unpark`.
 * `claim-lost`: on a shared queue, this server's claim stopped being trusted between two of the change's messages.
 */
type ChangeVerdict = Verdict | 'parked' | 'claim-lost';

/**
 * Works the durable DNS queue: changes to one name go out strictly in
 * order (an add after a remove must not overtake it), different names in
 * parallel. A change leaves the queue — in the store too — only once DNS is
 * as wanted or the name turned out to be someone else's; while BIND is down
 * or failing, it is retried with exponential back-off, and after a restart
 * the queue is picked up from the store where it stopped.
 *
 * Before a name's next change goes out, what is queued for that name is
 * folded (change-coalescing.ts): an add and the removal that undoes it
 * send nothing, two adds of one client send the last; every entry folded
 * leaves the store with the change sent for it. The UPDATE steps of all
 * names go through one dispatcher (update-dispatcher.ts): within an
 * adaptive window of messages in flight (update-window.ts), and several
 * names of one zone to a message when their steps queued up behind a
 * full window.
 *
 * A change a zone refuses for good (a wrong key, an update policy that
 * does not allow it: DnsRefusal) is parked: it stays first in its name's
 * queue and in the store, later changes to that name wait behind it, other
 * names go on. It is not sent again until `unpark` (a key changed, the
 * configuration was reloaded) or the next start. The refusal is counted
 * per change (`ddns_refused`) and logged as an error once per zone, key
 * and answer until that zone is unparked.
 */
export class DdnsWorker {
  readonly #queues = new Map<string, DnsChange[]>();
  readonly #busy = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #backoff = new Map<string, number>();
  readonly #draining = new Set<Promise<void>>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  readonly #window: UpdateWindow;
  readonly #dispatcher: UpdateDispatcher;
  /** Names whose first change a zone refused → that zone. */
  readonly #parked = new Map<string, string>();
  /** Refusals already logged: `zone rcode/tsigError`. */
  readonly #refusalsLogged = new Set<string>();
  #paused: boolean;
  /** Counts `unpark` calls: a refusal of an update sent before the last one may be of the old key. */
  #unparks = 0;

  constructor(
    private readonly opts: {
      ddns: DdnsConfig;
      store: LeaseStore;
      updater: DnsUpdater;
      logger: Logger;
      clock: Clock;
      counters?: DdnsCounters;
      /** The window's bounds (default DEFAULT_WINDOW: 4 at first, 1 to 64). */
      window?: Partial<WindowSettings>;
      /** Shorthand for `window.max` (the initial window is never more). */
      maxInFlight?: number;
      /** Names and bytes per message (default DEFAULT_BATCH_LIMITS; maxParts 1 sends one name per message). */
      batch?: BatchLimits;
      /** Messages in flight per zone (default DEFAULT_MAX_PER_ZONE: 2). */
      maxPerZone?: number;
      /** Round-trip times for the window; default a monotonic clock. */
      rttClock?: Clock;
      /** Queue without sending until `resume()` (the appliance resumes once every service has started). */
      paused?: boolean;
      /**
       * A queue several servers share: each change is sent only under this
       * server's claim on it (server/leases/dns-claims.ts).
       */
      claims?: WorkerClaims;
    },
  ) {
    this.#paused = opts.paused ?? false;
    const max = opts.window?.max ?? opts.maxInFlight ?? DEFAULT_WINDOW.max;
    const min = Math.min(opts.window?.min ?? DEFAULT_WINDOW.min, max);
    const initial = Math.max(min, Math.min(opts.window?.initial ?? DEFAULT_WINDOW.initial, max));
    this.#window = new UpdateWindow({ initial, min, max }, opts.rttClock ?? MONOTONIC);
    this.#dispatcher = new UpdateDispatcher({
      updater: opts.updater,
      window: this.#window,
      limits: opts.batch,
      maxPerZone: opts.maxPerZone,
      logger: opts.logger,
      counters: opts.counters,
      generation: () => this.#unparks,
    });
  }

  /** Starts sending what was queued while paused. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    for (const fqdn of this.#queues.keys()) this.#startDrain(fqdn);
  }

  /** Queues changes already durable in the store, and starts on them (all are queued first, so a name's changes fold). */
  enqueue(changes: readonly DnsChange[]): void {
    for (const change of changes) {
      const queue = this.#queues.get(change.fqdn) ?? [];
      queue.push(change);
      this.#queues.set(change.fqdn, queue);
    }
    for (const fqdn of new Set(changes.map((c) => c.fqdn))) this.#startDrain(fqdn);
  }

  hasPending(fqdn: string): boolean {
    return (this.#queues.get(fqdn)?.length ?? 0) > 0;
  }

  /** Changes queued, parked ones included. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  /** When the oldest change still queued was made (`createdAt`, ms), or undefined when the queue is empty. */
  oldestQueuedAt(): number | undefined {
    let oldest: number | undefined;
    // Each name's queue is in sequence order, so its first change is its oldest.
    for (const q of this.#queues.values()) if (q.length > 0 && (oldest === undefined || q[0].createdAt < oldest)) oldest = q[0].createdAt;
    return oldest;
  }

  /** Changes waiting for `unpark`: the refused ones and those queued behind them. */
  get parked(): number {
    let n = 0;
    for (const fqdn of this.#parked.keys()) n += this.#queues.get(fqdn)?.length ?? 0;
    return n;
  }

  /** Depth and age of the queue, for metrics: a scan of the names' queues, not of every change. */
  backlog(): DdnsBacklog {
    let oldest = Infinity;
    for (const q of this.#queues.values()) if (q.length > 0) oldest = Math.min(oldest, q[0].createdAt);
    return {
      depth: this.pending,
      parked: this.parked,
      oldestAgeMs: Number.isFinite(oldest) ? Math.max(0, this.opts.clock.now() - oldest) : 0,
      inFlight: this.#dispatcher.inFlight,
      window: this.#window.limit,
    };
  }

  /** Resolves when nothing is on its way: every change done, or parked (tests, clean shutdown). */
  idle(): Promise<void> {
    if (this.pending === this.parked) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Sends the parked changes of these zones (all zones when omitted) again,
   * each name's in order: after their key changed or the configuration was
   * reloaded. Returns how many changes were parked there.
   */
  unpark(zones?: readonly string[]): number {
    const names = [...this.#parked].filter(([, zone]) => zones === undefined || zones.includes(zone)).map(([fqdn]) => fqdn);
    let changes = 0;
    for (const fqdn of names) {
      changes += this.#queues.get(fqdn)?.length ?? 0;
      this.#parked.delete(fqdn);
    }
    for (const logged of [...this.#refusalsLogged]) {
      if (zones === undefined || zones.includes(logged.split(' ')[0])) this.#refusalsLogged.delete(logged);
    }
    this.#unparks++;
    if (names.length > 0) this.opts.logger.info('ddns-unparked', { zones: zones ?? 'all', names: names.length, changes });
    for (const fqdn of names) this.#startDrain(fqdn);
    return changes;
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
    await this.#dispatcher.stop();
    await Promise.all([...this.#draining]);
  }

  #startDrain(fqdn: string): void {
    const run = this.#drain(fqdn).finally(() => this.#draining.delete(run));
    this.#draining.add(run);
  }

  async #drain(fqdn: string): Promise<void> {
    if (this.#busy.has(fqdn) || this.#timers.has(fqdn) || this.#parked.has(fqdn) || this.#stopped || this.#paused) return;
    this.#busy.add(fqdn);
    try {
      const queue = this.#queues.get(fqdn) ?? [];
      while (queue.length > 0 && !this.#stopped) {
        // What is queued now, folded; the first item covers the front of the queue.
        const [work] = coalesceChanges(queue);
        const claims = this.opts.claims;
        const verdict = work.change ? await this.#process(work.change) : 'done';
        if (this.#stopped) return;
        if (claims && verdict === 'claim-lost') {
          // The claim may be another server's by now: leave the row in the
          // store for whoever holds it (we, again, once we claim it anew).
          queue.splice(0, work.seqs.length);
          this.opts.counters?.inc('ddns_claims_lost');
          claims.settled(work.seqs);
          continue;
        }
        if (verdict === 'retry-later') {
          this.#retryLater(fqdn);
          return;
        }
        this.#backoff.delete(fqdn);
        if (verdict === 'parked') {
          this.#settled();
          return;
        }
        await this.opts.store.commit({ dequeue: work.seqs });
        queue.splice(0, work.seqs.length);
        this.opts.claims?.settled(work.seqs);
        const folded = work.seqs.length - (work.change ? 1 : 0);
        if (folded > 0) {
          this.opts.counters?.inc('ddns_changes_coalesced', {}, folded);
          this.opts.logger.debug('ddns-coalesced', { fqdn, seqs: work.seqs, sent: work.change?.seq ?? 'nothing' });
        }
      }
      this.#queues.delete(fqdn);
      this.#settled();
    } catch (err) {
      // The store refused the dequeue: keep the change, try again later.
      this.opts.logger.error('ddns-queue-failed', { fqdn, err });
      this.#retryLater(fqdn);
    } finally {
      this.#busy.delete(fqdn);
    }
  }

  #settled(): void {
    if (this.pending === this.parked) for (const resolve of this.#idleWaiters.splice(0)) resolve();
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
  async #process(change: DnsChange): Promise<ChangeVerdict> {
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
    if (verdict === 'retry-later' || verdict === 'parked' || verdict === 'claim-lost') return verdict;
    // A name that is someone else's gets no PTR from us; a lease that ended
    // loses its PTRs whatever became of the name.
    if (verdict === 'conflict' && change.action === 'add') return verdict;
    for (const address of addresses) {
      const name = address.type === 'A' ? reverseNameV4(address.data) : reverseNameV6(address.data);
      const zone = findZone(name, zones);
      if (!zone) continue;
      const reverse = { zone: zone.name, name, fqdn: change.fqdn };
      const step = change.action === 'add' ? planReverseAdd({ ...reverse, ttl: change.ttl }) : planReverseRemove(reverse);
      const reverseVerdict = await this.#run(zone, step, change);
      if (reverseVerdict === 'retry-later' || reverseVerdict === 'parked' || reverseVerdict === 'claim-lost') return reverseVerdict;
    }
    return verdict;
  }

  async #run(zone: DdnsZoneConfig, first: PlanStep, change: DnsChange): Promise<ChangeVerdict> {
    let step = first;
    while (step.kind === 'send') {
      if (this.#stopped) return 'retry-later';
      // Checked before every message, not once per change: a change is
      // several exchanges (forward, then PTR), and the margin a trusted
      // claim keeps (dns-claims.ts) has to cover only the one on the wire.
      if (this.opts.claims && !this.opts.claims.mayStart(change)) return 'claim-lost';
      const { answer, generation } = await this.#dispatcher.submit(zone, step.request);
      if (this.#stopped) return 'retry-later';
      if (typeof answer === 'object' && answer.kind === 'refused') {
        // Sent before the key changed: the new key deserves its own try.
        if (generation !== this.#unparks) return 'retry-later';
        this.#park(zone, change, answer);
        return 'parked';
      }
      step = step.next(typeof answer === 'string' ? answer : 'failed');
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

  #park(zone: DdnsZoneConfig, change: DnsChange, refusal: DnsRefusal): void {
    this.#parked.set(change.fqdn, zone.name);
    this.opts.counters?.inc('ddns_refused', { zone: zone.name, rcode: refusal.tsigError ?? refusal.rcode });
    const answer = refusal.tsigError ? `${refusal.rcode}/${refusal.tsigError}` : refusal.rcode;
    const logged = `${zone.name} ${answer}`;
    this.opts.logger.info('ddns-parked', { fqdn: change.fqdn, action: change.action, ip: change.ipv4, zone: zone.name, rcode: answer });
    if (this.#refusalsLogged.has(logged)) return;
    this.#refusalsLogged.add(logged);
    // The key by name and algorithm (and file), never its secret.
    const key = zone.key;
    this.opts.logger.error('ddns-refused', {
      zone: zone.name,
      key: key ? key.name : 'none',
      ...(key && { algorithm: key.algorithm }),
      ...(key?.secretFile !== undefined && { keyFile: key.secretFile }),
      rcode: refusal.rcode,
      ...(refusal.tsigError !== undefined && { tsigError: refusal.tsigError }),
      server: refusal.server,
      code: refusal.code,
      error: refusal.detail,
      fqdn: change.fqdn,
      parked: 'changes the zone refuses stay queued, and are sent again when the key file changes or at the next start',
    });
  }
}
