import { reasonOf } from '../../lib/core/errors.ts';
import type { Attachment } from '../core/attachment.ts';
import { planReconcile, type ReconcileAction, type RestartBackoff } from '../core/reconcile.ts';
import type { AutoAttachSettings } from '../core/requests.ts';
import type { Agent } from './agent.ts';

export interface ReconcileOptions {
  /** Attach labelled containers that have no attachment, with these settings. */
  autoAttach?: AutoAttachSettings;
  /** Only containers labelled leasehold.worker=<worker> (agents sharing one engine). */
  worker?: string;
}

/** A client that has stayed up this long since its last restart is healthy again. */
const HEALTHY_AFTER_MS = 60_000;

/**
 * Supervision, the seed's dhcp-garbagecollection grown up: one reconcile
 * pass compares the records with what runs (core/reconcile.ts plans it) and
 * releases what has no target, restarts DHCP clients that died — with
 * back-off, so one that keeps dying does not spin — attaches labelled
 * containers when asked, and sends the releases that are due.
 */
export class Supervisor {
  /** Restart back-off per attachment; an entry belongs to one attachment (its createdAt), not to its key. */
  private readonly backoff = new Map<string, { createdAt: string; backoff: RestartBackoff }>();

  constructor(
    private readonly agent: Agent,
    /**
     * Containers to count as live although the engine does not list them as
     * running: those the Docker driver joined whose sandbox exists, which may
     * be in the middle of a start (docker-endpoints.ts).
     */
    private readonly starting?: () => Promise<Set<string>>,
  ) {}

  async reconcile(opts: ReconcileOptions = {}): Promise<ReconcileAction[]> {
    const { store, log } = this.agent;
    const { network, clients, clock, engine } = this.agent.edges;
    const { attachments, broken } = await store.list();
    for (const b of broken) log.error('broken-state-record', b);
    let live: Set<string> | undefined;
    let labelled: { id: string; bridge: string }[] = [];
    if (attachments.some((a) => a.kind === 'docker') || opts.autoAttach) {
      try {
        live = await engine.liveIds();
        if (this.starting) for (const id of await this.starting()) live.add(id);
        if (opts.autoAttach) labelled = await engine.labelled(opts.worker);
      } catch (err) {
        // Without the engine we cannot tell a dead container from a live one:
        // leave container attachments alone rather than release live ones.
        log.warn('docker-unreachable', { error: reasonOf(err) });
      }
    }
    // One `ip link` per bridge namespace, not one per attachment: with 200
    // attachments that is the difference between ~1.4 s of CPU per pass
    // (spawning ip 200 times) and a few milliseconds.
    const linksByNs = new Map<string, Promise<Set<string>>>();
    const linksIn = (ns: string | undefined) => {
      const key = ns ?? '';
      // A bridge netns that is gone has no links: its attachments are released.
      if (!linksByNs.has(key)) linksByNs.set(key, network.linkNames(ns).catch(() => new Set<string>()));
      return linksByNs.get(key)!;
    };
    const observed = await Promise.all(
      attachments.map(async (a) => ({
        attachment: a,
        targetAlive:
          a.kind === 'docker'
            ? live === undefined || (live.has(a.targetId) && (await network.netnsExists(a.netns)))
            : await network.netnsExists(a.netns),
        clientAlive: clients.isRunning(a.client),
        vethPresent: (await linksIn(a.bridgeNetns)).has(a.hostVeth),
      })),
    );
    const now = clock.now();
    const current = new Map<string, RestartBackoff>();
    for (const o of observed) {
      const entry = this.backoff.get(o.attachment.key);
      if (!entry || entry.createdAt !== o.attachment.createdAt) continue;
      if (o.clientAlive && now - entry.backoff.lastAttemptMs > HEALTHY_AFTER_MS) continue;
      current.set(o.attachment.key, entry.backoff);
    }
    // What is not current (released, attached anew, healthy again) starts afresh.
    for (const key of [...this.backoff.keys()]) if (!current.has(key)) this.backoff.delete(key);
    const actions = planReconcile({ observed, labelled, backoff: current, nowMs: now });
    for (const action of actions) {
      try {
        await this.apply(action, attachments, opts.autoAttach);
      } catch (err) {
        log.error('reconcile-failed', { action: action.kind, error: reasonOf(err) });
      }
    }
    await this.agent.releaseRepeater.repeatDue();
    return actions;
  }

  private async apply(action: ReconcileAction, attachments: Attachment[], autoAttach: AutoAttachSettings | undefined): Promise<void> {
    if (action.kind === 'wait') return;
    if (action.kind === 'attach') {
      if (autoAttach) await this.agent.attach({ ...autoAttach, container: action.containerId, bridge: action.bridge });
      return;
    }
    const { store, edges } = this.agent;
    const a = attachments.find((x) => x.key === action.key)!;
    const unlock = await store.lock(a.key);
    try {
      const current = await store.read(a.key);
      if (!current) return; // released meanwhile
      if (action.kind === 'release') {
        await this.agent.release(current, action.reason);
        this.backoff.delete(a.key);
      } else if (!edges.clients.isRunning(current.client)) {
        const entry = this.backoff.get(a.key);
        const failures = entry && entry.createdAt === current.createdAt ? entry.backoff.failures + 1 : 0;
        this.backoff.set(a.key, { createdAt: current.createdAt, backoff: { failures, lastAttemptMs: edges.clock.now() } });
        await this.agent.restartClient(current);
      }
    } finally {
      await unlock();
    }
  }
}
