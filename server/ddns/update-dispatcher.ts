import type { Logger } from '../../lib/core/logger.ts';
import type { UpdateRequest } from '../../lib/dns/update-request.ts';
import type { DdnsZoneConfig } from './ddns-config.ts';
import type { DnsUpdater, UpdateAnswer } from './dns-updater-port.ts';
import { batchLength, judgeBatch, mergeRequests, partBytes, splitBatch, type BatchAnswer, type BatchLimits } from './update-batch.ts';
import type { UpdateWindow, WindowTicket } from './update-window.ts';

/**
 * Sends the names' UPDATE steps (one at a time per name, from the worker)
 * within the adaptive window, as few messages as the steps waiting allow:
 * a step goes out at once when the window is open and nothing else waits;
 * steps that queued up behind a full window go out together, one message
 * per zone (update-batch.ts says how a message's answer is shared out, and
 * splits it when it cannot be).
 */

/** Names per message (BIND's cost per name levels off around here) and record bytes (well under TCP's 64 KiB). */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxParts: 64, maxBytes: 32_768 };

/**
 * Messages on their way to one zone at once, whatever the window allows.
 * BIND applies one zone's UPDATEs one after the other (each a journal
 * write and a serial bump), so a third message to a zone would only wait
 * there, unbatched, at a full message's cost; here it waits with the
 * others and they leave as one message. Two: one being applied, the
 * next on its way. Zones are applied in parallel, so the window spans
 * them.
 */
export const DEFAULT_MAX_PER_ZONE = 2;

export interface Dispatched {
  answer: UpdateAnswer;
  /** `generation()` when the step's last message left (the worker's count of unparks). */
  generation: number;
}

/** Where the worker and the dispatcher count (the appliance's registry). */
export interface DdnsCounters {
  inc(name: string, labels?: Readonly<Record<string, string>>, by?: number): void;
}

export interface UpdateDispatcherOptions {
  updater: DnsUpdater;
  window: UpdateWindow;
  limits?: BatchLimits;
  /** Messages in flight per zone (default DEFAULT_MAX_PER_ZONE). */
  maxPerZone?: number;
  logger: Logger;
  counters?: DdnsCounters;
  generation(): number;
}

interface Part {
  request: UpdateRequest;
  bytes: number;
  settle(result: Dispatched): void;
}

/** Parts that leave as one message: fresh ones may be joined by others; a half of a split one leaves as it is. */
interface Group {
  parts: Part[];
  split: boolean;
}

interface ZoneQueue {
  zone: DdnsZoneConfig;
  groups: Group[];
  /** Messages of this zone on the wire. */
  inFlight: number;
}

/** What a step not sent because the worker stops is answered: tried again at the next start. */
const STOPPED: UpdateAnswer = { kind: 'failed', reason: 'STOPPED', answered: false };

export class UpdateDispatcher {
  readonly #opts: UpdateDispatcherOptions;
  readonly #limits: BatchLimits;
  readonly #maxPerZone: number;
  readonly #zones = new Map<string, ZoneQueue>();
  /** Zones in the order they get their next turn. */
  #turns: string[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #scheduled = false;
  #stopped = false;

  constructor(opts: UpdateDispatcherOptions) {
    this.#opts = opts;
    this.#limits = opts.limits ?? DEFAULT_BATCH_LIMITS;
    this.#maxPerZone = opts.maxPerZone ?? DEFAULT_MAX_PER_ZONE;
    if (!(Number.isInteger(this.#maxPerZone) && this.#maxPerZone >= 1)) throw new RangeError(`maxPerZone must be a positive integer, got ${this.#maxPerZone}`);
  }

  /** Messages on the wire. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Steps waiting for the window. */
  get waiting(): number {
    let n = 0;
    for (const q of this.#zones.values()) for (const g of q.groups) n += g.parts.length;
    return n;
  }

  /** One name's step for `zone`; resolves with the answer to that step alone (never rejects). */
  submit(zone: DdnsZoneConfig, request: UpdateRequest): Promise<Dispatched> {
    if (this.#stopped) return Promise.resolve({ answer: STOPPED, generation: this.#opts.generation() });
    return new Promise<Dispatched>((settle) => {
      this.#queue(zone).groups.push({ parts: [{ request, bytes: partBytes(request), settle }], split: false });
      this.#schedule();
    });
  }

  /** Sends nothing more (what waits is answered STOPPED) and waits for the messages on the wire. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const q of this.#zones.values()) {
      for (const g of q.groups.splice(0)) for (const p of g.parts) p.settle({ answer: STOPPED, generation: this.#opts.generation() });
    }
    await Promise.all([...this.#inFlight]);
  }

  #queue(zone: DdnsZoneConfig): ZoneQueue {
    let q = this.#zones.get(zone.name);
    if (!q) {
      q = { zone, groups: [], inFlight: 0 };
      this.#zones.set(zone.name, q);
      this.#turns.push(zone.name);
    }
    return q;
  }

  /**
   * Steps submitted in the same turn of the event loop (a group commit's
   * worth of leases, the PTRs after a forward answer) leave together: the
   * flush waits for the end of the turn, no longer.
   */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (!this.#stopped && this.#opts.window.open) {
      const q = this.#nextZone();
      if (!q) return;
      this.#send(q, this.#take(q));
    }
  }

  /** The next zone with something waiting and room for a message, round robin. */
  #nextZone(): ZoneQueue | undefined {
    for (let i = 0; i < this.#turns.length; i++) {
      const name = this.#turns.shift() as string;
      this.#turns.push(name);
      const q = this.#zones.get(name);
      if (q && q.groups.length > 0 && q.inFlight < this.#maxPerZone) return q;
    }
    return undefined;
  }

  /** The parts of the zone's next message, from the front of its queue. */
  #take(q: ZoneQueue): Part[] {
    const first = q.groups[0];
    if (first.split) return (q.groups.shift() as Group).parts;
    let fresh = 0;
    while (fresh < q.groups.length && !q.groups[fresh].split) fresh++;
    const n = batchLength(q.groups.slice(0, fresh).map((g) => g.parts[0].bytes), this.#limits);
    return q.groups.splice(0, n).map((g) => g.parts[0]);
  }

  #send(q: ZoneQueue, parts: Part[]): void {
    const zone = q.zone;
    q.inFlight++;
    const ticket = this.#opts.window.sent();
    const generation = this.#opts.generation();
    this.#opts.counters?.inc('ddns_updates_sent', { zone: zone.name });
    if (this.#opts.logger.enabled('debug')) {
      this.#opts.logger.debug('ddns-update-sent', { zone: zone.name, names: parts.length, bytes: parts.reduce((n, p) => n + p.bytes, 0) });
    }
    const request = parts.length === 1 ? parts[0].request : mergeRequests(zone.name, parts.map((p) => p.request));
    const run = this.#opts.updater
      .update(zone, request)
      .catch((err: unknown): UpdateAnswer => {
        this.#opts.logger.error('ddns-update-failed', { zone: zone.name, err });
        return { kind: 'failed', reason: 'ERROR', answered: false };
      })
      .then((answer) => {
        q.inFlight--;
        this.#answered(zone, parts, answer, ticket, generation);
      })
      .finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
  }

  #answered(zone: DdnsZoneConfig, parts: Part[], answer: UpdateAnswer, ticket: WindowTicket, generation: number): void {
    const batch = toBatchAnswer(answer);
    this.#opts.window.settled(ticket, batch.kind === 'failed' ? 'congested' : 'answered');
    const failure = failureName(answer);
    if (failure) this.#opts.counters?.inc('ddns_updates_failed', { zone: zone.name, rcode: failure });
    if (judgeBatch(batch, parts.length) === 'answer-each') {
      for (const p of parts) p.settle({ answer, generation });
    } else if (this.#stopped) {
      // No more messages: each part is left for the next start, whatever the batch's answer was.
      for (const p of parts) p.settle({ answer: STOPPED, generation });
    } else {
      const [first, second] = splitBatch(parts);
      this.#opts.counters?.inc('ddns_update_splits', { zone: zone.name });
      this.#opts.logger.debug('ddns-update-split', { zone: zone.name, names: parts.length, answer: failure });
      // In front of what came since, first half first: the split names keep their turn.
      this.#queue(zone).groups.unshift({ parts: first, split: true }, { parts: second, split: true });
    }
    this.#flush();
  }
}

/**
 * Refusals that cannot be about one name of a message: the key (a TSIG
 * error, RFC 8945 §5.2), the zone (NOTAUTH: not authoritative for it), the
 * opcode (NOTIMP). REFUSED (an update policy may grant some names and not
 * others), NOTZONE (one name outside the zone) and FORMERR may be one
 * name's doing.
 */
const ZONE_WIDE_RCODES: ReadonlySet<string> = new Set(['NOTAUTH', 'NOTIMP']);

function toBatchAnswer(answer: UpdateAnswer): BatchAnswer {
  if (typeof answer === 'string') return answer === 'failed' ? { kind: 'failed', answered: false } : { kind: 'outcome', outcome: answer };
  if (answer.kind === 'refused') return { kind: 'refused', zoneWide: answer.tsigError !== undefined || ZONE_WIDE_RCODES.has(answer.rcode) };
  return { kind: 'failed', answered: answer.answered };
}

/** The `rcode` label of a message that was not applied; undefined for one that was. */
function failureName(answer: UpdateAnswer): string | undefined {
  if (answer === 'success') return undefined;
  if (typeof answer === 'string') return answer.toUpperCase();
  if (answer.kind === 'refused') return answer.tsigError ?? answer.rcode;
  return answer.reason;
}
