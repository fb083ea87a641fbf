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

/**
 * The zone's servers will not apply the update until something changes on
 * our side or theirs (a key, the zone configuration, the server's policy):
 * which answers count as such is the updater's call (net/dns-updater.ts).
 */
export interface DnsRefusal {
  kind: 'refused';
  /** The RCODE's mnemonic: REFUSED, NOTAUTH… */
  rcode: string;
  /** The TSIG error that came with NOTAUTH (RFC 8945 §5.2): BADKEY, BADSIG, BADTRUNC. */
  tsigError?: string;
  /** The server that answered so (the first one, when all of them did). */
  server: string;
  /** The error code (E_DNS_REFUSED, E_TSIG_BADSIG…) and its one-line message. */
  code: string;
  detail: string;
}

/** What one UPDATE came to: an outcome conflict resolution reasons about, or a refusal for good. */
export type UpdateAnswer = UpdateOutcome | DnsRefusal;

/** Sends one UPDATE to a zone's servers and says what the server answered. */
export interface DnsUpdater {
  update(zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateAnswer>;
}

export interface DdnsWorkerCounters {
  inc(name: string, labels?: Readonly<Record<string, string>>): void;
}

/** `parked`: a zone refused the change for good (DnsRefusal); it waits in the queue for `unpark`. */
type ChangeVerdict = Verdict | 'parked';

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
 * or failing, it is retried with exponential back-off, and after a restart
 * the queue is picked up from the store where it stopped.
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
  #inFlight = 0;
  readonly #slotWaiters: Array<() => void> = [];
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
      counters?: DdnsWorkerCounters;
      maxInFlight?: number;
      /** Queue without sending until `resume()` (the appliance resumes once every service has started). */
      paused?: boolean;
    },
  ) {
    this.#paused = opts.paused ?? false;
  }

  /** Starts sending what was queued while paused. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    for (const fqdn of this.#queues.keys()) this.#startDrain(fqdn);
  }

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

  /** Changes queued, parked ones included. */
  get pending(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  /** Changes waiting for `unpark`: the refused ones and those queued behind them. */
  get parked(): number {
    let n = 0;
    for (const fqdn of this.#parked.keys()) n += this.#queues.get(fqdn)?.length ?? 0;
    return n;
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
    for (const release of this.#slotWaiters.splice(0)) release();
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
        const change = queue[0];
        const verdict = await this.#process(change);
        if (this.#stopped) return;
        if (verdict === 'retry-later') {
          this.#retryLater(fqdn);
          return;
        }
        this.#backoff.delete(fqdn);
        if (verdict === 'parked') {
          this.#settled();
          return;
        }
        await this.opts.store.commit({ dequeue: [change.seq] });
        queue.shift();
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
    if (verdict === 'retry-later' || verdict === 'parked') return verdict;
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
      if (reverseVerdict === 'retry-later' || reverseVerdict === 'parked') return reverseVerdict;
    }
    return verdict;
  }

  /** One UPDATE, within the in-flight cap. */
  async #send(zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateAnswer> {
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

  async #run(zone: DdnsZoneConfig, first: PlanStep, change: DnsChange): Promise<ChangeVerdict> {
    let step = first;
    while (step.kind === 'send') {
      if (this.#stopped) return 'retry-later';
      const unparks = this.#unparks;
      const answer = await this.#send(zone, step.request);
      if (typeof answer === 'object') {
        // Sent before the key changed: the new key deserves its own try.
        if (this.#unparks !== unparks) return 'retry-later';
        this.#park(zone, change, answer);
        return 'parked';
      }
      step = step.next(answer);
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
