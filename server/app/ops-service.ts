import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Clock } from '../../lib/core/clock.ts';
import { reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { ServerConfig } from '../config/config.ts';
import { openControlEndpoint, ControlEndpointError, type ControlEndpoint } from '../net/control-endpoint.ts';
import { parseBasicAuthFile, parseTokenFile, type ControlAuth } from '../ops/control-auth.ts';
import { controlSocketPath } from '../ops/ops-config.ts';
import type { ControlResponse } from '../ops/control-protocol.ts';
import { formatPrometheus } from '../ops/prometheus-text.ts';
import type { ManagedAppliance } from './managed-appliance.ts';
import { answerCommand } from './control-commands.ts';
import type { CounterSink } from './counters.ts';
import type { Service } from './service.ts';

export interface OpsServiceDeps {
  appliance: ManagedAppliance;
  loadConfig?: () => ServerConfig;
  clock: Clock;
  logger: Logger;
  counters: CounterSink;
  /** Overrides `control.http.port` (tests ask for 0: any free port). */
  httpPort?: number;
}

/**
 * The control API and the metrics endpoint as the appliance's last
 * service: started once everything it reports on runs, stopped first, so
 * no command reaches a service that is stopping. It reads the token or
 * basic-auth file and the TLS files at start (a missing one fails the
 * start, naming it), listens on the unix socket and, if configured, HTTP.
 */
export class OpsService implements Service {
  readonly name = 'ops';
  #endpoint: ControlEndpoint | undefined;
  /**
   * The process's own metrics (CPU, memory, heap, event-loop lag, GC,
   * handles: `process_…`, `nodejs_…`) by prom-client's default
   * collectors, in a registry of this service's own so two appliances in
   * one process (the tests) do not share one.
   */
  readonly #runtime = new Registry();

  constructor(private readonly deps: OpsServiceDeps) {}

  /** Where HTTP listens, once started (the chosen port when 0 was asked). */
  get httpAddress(): { address: string; port: number } | undefined {
    return this.#endpoint?.httpAddress;
  }

  async start(): Promise<void> {
    const { appliance, counters, logger } = this.deps;
    if (this.#runtime.getMetricsAsArray().length === 0) collectDefaultMetrics({ register: this.#runtime });
    const config = appliance.config;
    const { control } = config;
    const http = control.http;
    const auth = http && readAuth(http);
    const socketPath = controlSocketPath(control, config.leaseStore);
    this.#endpoint = await openControlEndpoint(
      {
        socketPath,
        maxBodyBytes: control.maxBodyBytes,
        auth,
        http: http && {
          address: http.address,
          port: this.deps.httpPort ?? http.port,
          tls: http.tlsCert !== undefined && http.tlsKey !== undefined ? { cert: readFile(http.tlsCert, 'TLS certificate'), key: readFile(http.tlsKey, 'TLS key') } : undefined,
        },
      },
      {
        command: (body) => this.run(body),
        metrics: () => this.metricsText(),
        health: () => appliance.health(),
        refused: (status) => counters.inc('control_refused', { status: String(status) }),
      },
      logger,
    );
    logger.info('control-listening', { socket: socketPath, ...(this.#endpoint.httpAddress && { http: this.#endpoint.httpAddress, tls: http?.tlsCert !== undefined, auth: auth?.kind ?? 'none' }) });
  }

  async stop(): Promise<void> {
    await this.#endpoint?.close();
  }

  /** What GET /metrics answers: the appliance's families, then the process's. */
  async metricsText(): Promise<string> {
    return formatPrometheus(this.deps.appliance.metrics()) + (await this.#runtime.metrics());
  }

  /** Runs one command body as the API would (counted; a reload logged either way). */
  async run(body: string): Promise<ControlResponse> {
    const { appliance, counters, logger } = this.deps;
    const { command, response } = await answerCommand(body, { appliance, loadConfig: this.deps.loadConfig, clock: this.deps.clock });
    counters.inc('control_requests', { command, result: String(response.result) });
    if (command === 'config-reload') logReload(logger, response.result === 0, response.text);
    return response;
  }

  /** SIGHUP: the same as `config-reload`. */
  reload(): Promise<ControlResponse> {
    return this.run(JSON.stringify({ command: 'config-reload' }));
  }
}

/** How the log tells of a reload (by command or SIGHUP): applied, or refused and why, naming the fields. */
export function logReload(logger: Logger, applied: boolean, text: string): void {
  if (applied) logger.info('config-reloaded', {});
  else logger.error('config-reload-failed', { reason: text });
}

function readAuth(http: NonNullable<ServerConfig['control']['http']>): ControlAuth | undefined {
  if (http.tokenFile !== undefined) return parseTokenFile(readFile(http.tokenFile, 'token file').toString('utf8'), http.tokenFile);
  if (http.basicAuthFile !== undefined) return parseBasicAuthFile(readFile(http.basicAuthFile, 'basic-auth file').toString('utf8'), http.basicAuthFile);
  return undefined;
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ControlEndpointError(`control ${what} ${path}: cannot read: ${reasonOf(err)}`, { cause: err });
  }
}
