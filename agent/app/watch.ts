import { reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { ATTACH_LABEL, WORKER_LABEL } from '../core/container-engine.ts';
import type { Agent } from './agent.ts';
import type { AutoAttachSettings } from '../core/requests.ts';
import type { Supervisor } from './supervisor.ts';
import type { WatchMetrics } from './watch-metrics.ts';

export interface WatchOptions {
  /** Settings for containers attached because of their label (the bridge comes from the label). */
  attach: AutoAttachSettings;
  intervalMs: number;
  /** Attach only containers labelled leasehold.worker=<worker> (agents sharing one engine). */
  worker?: string;
  /** Where what the watcher sees is counted (GET /metrics). */
  metrics?: WatchMetrics;
}

/**
 * `agent watch`: follows Docker events (attach on start when labelled,
 * release on die/destroy) and reconciles every `intervalMs` — which also
 * supervises the DHCP clients. Events are the fast path; the reconcile pass
 * (supervisor.ts) is the safety net for anything an event stream can miss
 * (agent down, stream reconnect). Stopping the watcher leaves every client
 * running.
 */
export async function runWatch(agent: Agent, supervisor: Supervisor, opts: WatchOptions, log: Logger, signal: AbortSignal): Promise<void> {
  let stopFollowing: (() => void) | undefined;
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const { metrics } = opts;
  const onEvent = (action: string, id: string, labels: Record<string, string>, timeMs?: number) => {
    const seenAt = Date.now();
    if (metrics && timeMs !== undefined) metrics.eventLagSeconds.observe(Math.max(0, seenAt - timeMs) / 1000);
    const forUs = !opts.worker || labels[WORKER_LABEL] === opts.worker;
    if (action === 'start' && labels[ATTACH_LABEL] && forUs) {
      track(
        agent
          .attach({ ...opts.attach, container: id, bridge: labels[ATTACH_LABEL] })
          .then((json) => {
            // From the engine's stamp when it gave one: the operator's view of "started" to "has a lease".
            metrics?.attachSeconds.observe((Date.now() - (timeMs ?? seenAt)) / 1000);
            log.info('event-attached', { container: json.Name, ip: json.NetworkSettings.IPAddress });
          })
          .catch((err) => {
            metrics?.attachFailures.inc();
            log.error('event-attach-failed', { container: id.slice(0, 12), error: reasonOf(err) });
          }),
      );
    } else if (action === 'die' || action === 'destroy') {
      track(
        agent
          .releaseContainer(id, `container ${action}`)
          .catch((err) => log.error('event-release-failed', { container: id.slice(0, 12), error: reasonOf(err) })),
      );
    }
  };

  const follow = async () => {
    while (!signal.aborted) {
      try {
        const ended = new Promise<Error | undefined>((resolve) => {
          void agent.engine.followEvents(onEvent, resolve).then((stop) => (stopFollowing = stop), (err) => resolve(err));
        });
        log.always('watching', { intervalMs: opts.intervalMs });
        if (metrics) metrics.following = true;
        const err = await Promise.race([ended, aborted(signal)]);
        if (metrics) metrics.following = false;
        if (signal.aborted) return;
        log.warn('docker-events-ended', { error: err ? reasonOf(err) : undefined });
      } catch (err) {
        log.warn('docker-events-failed', { error: reasonOf(err) });
      }
      await delay(1000, signal);
    }
  };

  const reconcileLoop = async () => {
    while (!signal.aborted) {
      try {
        const actions = await supervisor.reconcile({ autoAttach: opts.attach, worker: opts.worker });
        for (const a of actions) if (a.kind !== 'wait') log.info('reconciled', { ...a });
        metrics?.clientRestarts.inc(actions.filter((a) => a.kind === 'restart-client').length);
      } catch (err) {
        log.error('reconcile-failed', { error: reasonOf(err) });
      }
      await delay(opts.intervalMs, signal);
    }
  };

  await Promise.all([follow(), reconcileLoop()]);
  stopFollowing?.();
  await Promise.allSettled([...pending]);
}

function aborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }));
}

/** Sleeps `ms` or until aborted; the abort listener goes when the timer fires, so passes do not pile them up. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
