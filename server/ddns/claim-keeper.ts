import type { Clock } from '../../lib/core/clock.ts';
import type { DnsChange } from '../leases/dns-change.ts';
import { claimTrusted, type ClaimSettings, type DnsClaimQueue } from '../leases/dns-claims.ts';
import type { WorkerClaims } from './ddns-worker.ts';

/**
 * This server's claims on a shared DNS queue, between the queue and the
 * worker: a claim pass hands the worker only the heads it has not handed
 * over yet (a pass returns the rows we already hold too, renewed), renewals
 * keep what the worker still works on, and the worker starts an UPDATE only
 * while the claim is trusted (`claimTrusted`). A claim the database no
 * longer gives back is lost at once.
 *
 * A pass's answer describes the queue as it was when the database ran it,
 * and it may arrive after the worker has finished (sent and dequeued) a
 * change that answer still names: the dequeue, on another connection, can
 * be answered first. Such a change must not look new, or it is sent a
 * second time — after the name's next change, even, once that one is its
 * head. So what the worker settles while a pass is out is left out of that
 * pass's answer (a change it dropped unsent comes back with the next pass).
 */
export class ClaimKeeper implements WorkerClaims {
  /** seq → end of our claim (ms epoch); 0 once lost. */
  readonly #held = new Map<number, number>();
  /** Per claim pass still out: the seqs the worker settled since it was asked. */
  readonly #settledDuringPasses = new Set<Set<number>>();

  constructor(
    private readonly queue: DnsClaimQueue,
    private readonly clock: Clock,
    private readonly settings: ClaimSettings,
    /** Told when the worker is done with changes: a name's next change may be its head now. */
    private readonly onSettled: () => void = () => undefined,
  ) {}

  /** Claims up to `max` heads; returns the ones the worker does not have yet. */
  async claim(max: number): Promise<DnsChange[]> {
    const settledMeanwhile = new Set<number>();
    this.#settledDuringPasses.add(settledMeanwhile);
    let claimed: Awaited<ReturnType<DnsClaimQueue['claim']>>;
    try {
      claimed = await this.queue.claim(max);
    } finally {
      this.#settledDuringPasses.delete(settledMeanwhile);
    }
    const fresh: DnsChange[] = [];
    for (const { change, claimedUntil } of claimed) {
      if (settledMeanwhile.has(change.seq)) continue;
      if (!this.#held.has(change.seq)) fresh.push(change);
      this.#held.set(change.seq, claimedUntil);
    }
    return fresh;
  }

  /** Extends every claim the worker holds; returns how many were lost (taken over, or gone). */
  async renew(): Promise<number> {
    const seqs = [...this.#held].filter(([, until]) => until > 0).map(([seq]) => seq);
    if (seqs.length === 0) return 0;
    const renewed = await this.queue.renew(seqs);
    let lost = 0;
    for (const seq of seqs) {
      const until = renewed.get(seq);
      if (until === undefined) lost++;
      if (this.#held.has(seq)) this.#held.set(seq, until ?? 0);
    }
    return lost;
  }

  mayStart(change: DnsChange): boolean {
    const until = this.#held.get(change.seq);
    return until !== undefined && claimTrusted(until, this.clock.now(), this.settings);
  }

  settled(seqs: readonly number[]): void {
    for (const seq of seqs) {
      this.#held.delete(seq);
      for (const pass of this.#settledDuringPasses) pass.add(seq);
    }
    this.onSettled();
  }

  /** Names with a change queued, whoever holds it. */
  pendingNames(): Promise<Set<string>> {
    return this.queue.pendingNames();
  }

  /** Claims the worker still works on. */
  get held(): number {
    return this.#held.size;
  }
}
