import { reasonOf } from '../../lib/core/errors.ts';
import type { Clock } from '../../lib/core/clock.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { Attachment, RecordedLease } from '../core/attachment.ts';
import type { ClientStopOutcome } from '../core/dhcp-clients.ts';
import { afterSend, buildRelease, releaseRepeatDelayMs, releaseStep, type PendingRelease, type ReleaseSender } from '../core/pending-release.ts';
import type { StateStore } from '../io/state-store.ts';

/**
 * The releases still being repeated after their attachments are gone
 * (core/pending-release.ts says why and until when): recorded at release,
 * cancelled by a new attach of the same target, sent again by each
 * reconcile pass when due.
 */
export class ReleaseRepeater {
  constructor(
    private readonly store: StateStore,
    private readonly edges: { releases: ReleaseSender; clock: Clock; randomBytes(size: number): Buffer },
    private readonly log: Logger,
  ) {}

  /**
   * Records the release of `a`'s lease, if it had one from a known server;
   * the client's own DHCPRELEASE counts as the first send.
   */
  async remember(a: Attachment, lease: RecordedLease | undefined, client: ClientStopOutcome): Promise<void> {
    if (!lease?.serverId) return;
    const now = this.edges.clock.now();
    const sent = client === 'released' ? 1 : 0;
    await this.store.writePendingRelease({
      version: 1, key: a.key, name: a.name, mac: a.mac, clientIdHex: a.clientIdHex, ip: lease.ip,
      serverId: lease.serverId, bridgeNetns: a.bridgeNetns, expiresAtMs: (lease.boundAt + lease.leaseSeconds) * 1000,
      attempts: sent, nextAtMs: sent ? now + releaseRepeatDelayMs(sent) : now,
    });
  }

  async cancel(key: string): Promise<void> {
    await this.store.removePendingRelease(key);
  }

  /** One pass: every release that is due, one sender per bridge netns; the expired and the superseded are dropped. */
  async repeatDue(): Promise<void> {
    const { clock } = this.edges;
    const due = new Map<string, PendingRelease[]>();
    for (const p of await this.store.listPendingReleases()) {
      const step = releaseStep(p, clock.now(), (await this.store.read(p.key)) !== undefined);
      if (step.kind === 'drop') await this.store.removePendingRelease(p.key);
      if (step.kind !== 'send') continue;
      const ns = p.bridgeNetns ?? '';
      due.set(ns, [...(due.get(ns) ?? []), p]);
    }
    for (const [ns, candidates] of due) {
      // Every key stays locked from the check to the send: an attach of the
      // same target in between would get a lease under the same client-id,
      // and this release would take it away.
      const unlocks = await Promise.all(candidates.map((p) => this.store.lock(p.key)));
      try {
        const releases: PendingRelease[] = [];
        for (const p of candidates) {
          if ((await this.store.read(p.key)) === undefined) releases.push(p);
          else await this.store.removePendingRelease(p.key);
        }
        try {
          await this.edges.releases.send(ns || undefined, releases.map((p) => ({ serverId: p.serverId, packet: buildRelease(p, this.edges.randomBytes(4).readUInt32BE(0)) })));
          if (releases.length) this.log.info('releases-repeated', { bridgeNetns: ns || undefined, containers: releases.map((p) => p.name) });
        } catch (err) {
          this.log.warn('release-repeat-failed', { bridgeNetns: ns || undefined, error: reasonOf(err) });
        }
        for (const p of releases) await this.store.writePendingRelease(afterSend(p, clock.now()));
      } finally {
        for (const unlock of unlocks) await unlock();
      }
    }
  }
}
