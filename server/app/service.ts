import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';

/**
 * One part of the appliance with a lifecycle of its own (the lease store,
 * DDNS, the DHCPv4 server, router advertisement). Services are started in
 * a fixed order by a ServiceGroup and stopped in the reverse order, so each
 * may use the ones started before it.
 */
export interface Service {
  /** For logs and errors: `store`, `ddns`, `dhcp4`, `ra`. */
  readonly name: string;
  /**
   * Takes what the service needs (files, sockets, timers). Either it
   * resolves with the service running, or it rejects having released
   * whatever it took: a service whose start failed is never stopped.
   */
  start(): Promise<void>;
  /**
   * Called once every service of the group has started. What a service
   * does unprompted — sending the DNS changes a previous run left queued —
   * begins here, so an appliance that fails to start sends nothing.
   */
  serve?(): void;
  /** Releases everything the service holds. Called once, and only after a successful start. */
  stop(): Promise<void>;
}

/** Some services did not stop cleanly; the others were stopped all the same. */
export class ServiceStopError extends LeaseholdError {
  readonly code = 'E_SERVICE_STOP';

  constructor(readonly failures: ReadonlyArray<{ service: string; error: unknown }>) {
    super(failures.map((f) => `stopping ${f.service}: ${reasonOf(f.error)}`).join('; '), { cause: failures[0]?.error });
  }
}

/** `stop()` was called before every service had started; the rest were not started. */
export class StartAbortedError extends LeaseholdError {
  readonly code = 'E_START_ABORTED';

  constructor(readonly next: string) {
    super(`stopped while starting, before ${next}`);
  }
}

/**
 * Starts services in order and stops them in reverse. When one fails to
 * start, those already started are stopped (in reverse) and the start
 * error is rethrown as it was: the caller reports it, once. `stop()` may
 * be called any number of times, also while the start is still running;
 * it stops every started service even when some fail, then rejects with
 * one ServiceStopError naming each failure.
 */
export class ServiceGroup {
  readonly #services: readonly Service[];
  readonly #logger: Logger;
  /** Started and not yet stopped, in start order. */
  readonly #running: Service[] = [];
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(services: readonly Service[], logger: Logger) {
    this.#services = services;
    this.#logger = logger;
  }

  get names(): string[] {
    return this.#services.map((s) => s.name);
  }

  start(): Promise<void> {
    if (this.#starting || this.#stopping) return Promise.reject(new Error('a service group starts only once'));
    this.#starting = this.#startAll();
    return this.#starting;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #startAll(): Promise<void> {
    try {
      for (const service of this.#services) {
        if (this.#stopping) throw new StartAbortedError(service.name);
        await service.start();
        this.#running.push(service);
      }
      for (const service of this.#running) service.serve?.();
    } catch (err) {
      // The start error is the one to report; what goes wrong while undoing
      // it is logged, so it is not lost, but does not replace it.
      for (const failure of await this.#stopRunning()) {
        this.#logger.error('service-stop-failed', { service: failure.service, err: failure.error });
      }
      throw err;
    }
  }

  async #stopAll(): Promise<void> {
    // A stop during the start waits for it: what it started is then stopped here.
    await this.#starting?.catch(() => undefined);
    const failures = await this.#stopRunning();
    if (failures.length > 0) throw new ServiceStopError(failures);
  }

  async #stopRunning(): Promise<Array<{ service: string; error: unknown }>> {
    const failures: Array<{ service: string; error: unknown }> = [];
    for (let service = this.#running.pop(); service; service = this.#running.pop()) {
      try {
        await service.stop();
      } catch (error) {
        failures.push({ service: service.name, error });
      }
    }
    return failures;
  }
}
