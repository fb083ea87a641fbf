import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StateStore } from '../io/state-store.ts';

/**
 * What `agent watch` shows on GET /metrics, named as the server's are
 * (`leasehold_agent_…`, counters `_total`, base units): attachments and
 * pending releases read from the state directory at each scrape (so they
 * count what the one-shot CLIs did too), the durations and restarts the
 * watcher itself saw, and the process's own by prom-client's default
 * collectors. One registry per watcher, never prom-client's global one.
 */
export class WatchMetrics {
  readonly registry = new Registry();
  readonly attachSeconds: Histogram;
  readonly attachFailures: Counter;
  readonly clientRestarts: Counter;
  readonly eventLagSeconds: Histogram;
  /** Whether the Docker event stream is followed now (GET /healthz). */
  following = false;

  constructor(store: StateStore) {
    const registers = [this.registry];
    new Gauge({
      name: 'leasehold_agent_attachments',
      help: 'Targets attached now (records in the state directory).',
      registers,
      async collect() {
        this.set((await store.list()).attachments.length);
      },
    });
    new Gauge({
      name: 'leasehold_agent_pending_releases',
      help: 'DHCPRELEASEs still being repeated for attachments that are gone.',
      registers,
      async collect() {
        this.set((await store.listPendingReleases()).length);
      },
    });
    this.attachSeconds = new Histogram({
      name: 'leasehold_agent_attach_duration_seconds',
      help: 'Time from a container\'s start event to its attachment with a lease.',
      // An attach is a DHCP exchange plus a dozen iproute2 calls: tenths of a second to the 30 s lease timeout.
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.attachFailures = new Counter({ name: 'leasehold_agent_attach_failures_total', help: 'Attaches on a start event that failed.', registers });
    this.clientRestarts = new Counter({ name: 'leasehold_agent_client_restarts_total', help: 'DHCP clients the supervisor restarted after they died.', registers });
    this.eventLagSeconds = new Histogram({
      name: 'leasehold_agent_docker_event_lag_seconds',
      help: 'Delay between the time the Docker engine stamped an event and the watcher reading it.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    collectDefaultMetrics({ register: this.registry });
  }
}
