import type { Attachment } from './attachment.ts';

/**
 * Garbage collection as the seed's dhcp-garbagecollection did it, as a pure
 * plan: compare what the agent recorded with what is running and say what to
 * do. The I/O side (agent/app/reconcile-runner.ts) gathers the facts and
 * carries the plan out.
 */
export interface ObservedAttachment {
  attachment: Attachment;
  /** The container is running (docker) or the netns exists (netns). */
  targetAlive: boolean;
  /** The DHCP client process recorded for it is alive (same PID, same start time). */
  clientAlive: boolean;
  /** The host-side veth still exists. */
  vethPresent: boolean;
}

export interface LabelledContainer {
  id: string;
  /** Value of the `leasehold.attach` label: the bridge to attach to. */
  bridge: string;
}

export type ReconcileAction =
  | { kind: 'release'; key: string; reason: string }
  | { kind: 'restart-client'; key: string; reason: string }
  | { kind: 'attach'; containerId: string; bridge: string }
  | { kind: 'wait'; key: string; untilMs: number };

export interface RestartBackoff {
  /** Restarts already done in a row for this attachment. */
  failures: number;
  /** When the last restart was made (epoch ms). */
  lastAttemptMs: number;
}

/** 1 s, 2 s, 4 s … capped at 60 s: a client that keeps dying must not spin. */
export function restartDelayMs(failures: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, failures));
}

export function planReconcile(input: {
  observed: ObservedAttachment[];
  labelled: LabelledContainer[];
  backoff: ReadonlyMap<string, RestartBackoff>;
  nowMs: number;
}): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  const attachedIds = new Set(input.observed.filter((o) => o.attachment.kind === 'docker').map((o) => o.attachment.targetId));
  for (const o of input.observed) {
    const key = o.attachment.key;
    if (!o.targetAlive) {
      actions.push({ kind: 'release', key, reason: o.attachment.kind === 'docker' ? 'container gone' : 'netns gone' });
    } else if (!o.vethPresent) {
      // Someone removed the link: the attachment cannot work; undo and (for
      // a labelled container) attach again below on the next pass.
      actions.push({ kind: 'release', key, reason: 'veth gone' });
    } else if (!o.clientAlive) {
      const b = input.backoff.get(key);
      const due = b ? b.lastAttemptMs + restartDelayMs(b.failures) : 0;
      if (input.nowMs >= due) actions.push({ kind: 'restart-client', key, reason: 'client not running' });
      else actions.push({ kind: 'wait', key, untilMs: due });
    }
  }
  for (const c of input.labelled) {
    if (!attachedIds.has(c.id)) actions.push({ kind: 'attach', containerId: c.id, bridge: c.bridge });
  }
  return actions;
}
