import { createLogger, type Logger } from '../../lib/core/logger.ts';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import { Agent, type AgentSettings } from '../app/agent.ts';
import { runOperation } from '../app/operations.ts';
import { Supervisor } from '../app/supervisor.ts';
import { runWatch } from '../app/watch.ts';
import { WatchMetrics } from '../app/watch-metrics.ts';
import { controlSocketPath, PROTOCOL_VERSION, type ControlRequest, type ControlResponse } from '../core/control-protocol.ts';
import { CNI_OPERATIONS, type OperationRequest } from '../core/requests.ts';
import { namespaceOf } from '../io/control-client.ts';
import { ControlSocketBusyError, serveControl, type ControlServer } from '../io/control-server.ts';
import { serveMetrics, type MetricsServer } from '../io/metrics-server.ts';
import type { GlobalSettings, WatchRequest } from './command-line.ts';
import { failureLine, printResult, type CliIo } from './output.ts';

/**
 * The commands the CLI runs itself: a one-shot operation no daemon served
 * (main.ts tried), and `agent watch`, the daemon, which also serves the
 * operations of CLIs that reach its control socket. A failed operation
 * prints one line and exits 1.
 */
const settingsOf = (globals: GlobalSettings): AgentSettings => ({
  runDir: globals.runDir,
  defaultApp: globals.defaultApp,
  dockerSocket: globals.dockerSocket,
});

/** The message of a failure: ours as they are, anything else by its first line. */
function failureMessage(err: unknown): string {
  return err instanceof LeaseholdError ? err.message : reasonOf(err);
}

/** One-shot commands log warnings to stderr (stdout is for the result); watch logs to stdout. */
export function commandLogger(options: ControlRequest['log'], write: (line: string) => void): Logger {
  return createLogger({ level: options.level, pretty: options.pretty, write: (line) => write(line + '\n') });
}

export async function runOperationHere(globals: GlobalSettings, operation: OperationRequest, io: CliIo): Promise<number> {
  const log = commandLogger({ level: globals.logLevel ?? 'warn', pretty: io.stderrIsTTY }, io.stderr);
  try {
    printResult(io, await runOperation(settingsOf(globals), log, operation), globals.json);
    return 0;
  } catch (err) {
    io.stderr(failureLine(failureMessage(err)));
    return 1;
  }
}

export async function runWatchHere(globals: GlobalSettings, request: WatchRequest, io: CliIo): Promise<number> {
  const log = createLogger({ level: globals.logLevel ?? 'info' });
  const controller = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => controller.abort());
  try {
    const agent = new Agent(settingsOf(globals), log);
    await agent.init();
    const control = await serveOperations(agent, globals, log);
    const metrics = new WatchMetrics(agent.store);
    let metricsServer: MetricsServer | undefined;
    try {
      const where = request.metrics;
      metricsServer = await serveMetrics(where, () => metrics.registry.metrics(), () => (metrics.following ? undefined : 'docker: the event stream is not followed'));
      log.info('metrics-listening', { ...where, ...(metricsServer.port !== undefined && { port: metricsServer.port }) });
      const driver = request.plugin ? await serveDockerDriver(agent, globals, request, log) : undefined;
      try {
        await runWatch(agent, new Supervisor(agent, driver?.joinedContainers), { ...request, metrics }, log, controller.signal);
      } finally {
        await driver?.close();
      }
    } finally {
      await metricsServer?.close();
      await control.close();
    }
  } catch (err) {
    io.stderr(failureLine(failureMessage(err)));
    return 1;
  }
  log.always('stopped');
  return 0;
}

/**
 * `agent watch --plugin NAME`: the Docker network driver on
 * /run/docker/plugins/NAME.sock, its adoptions run by this daemon. An
 * adoption a stopped daemon left unfinished (joined, no container found
 * yet) is taken up again.
 */
async function serveDockerDriver(agent: Agent, globals: GlobalSettings, request: WatchRequest, log: Logger): Promise<{ close(): Promise<void>; joinedContainers: () => Promise<Set<string>> }> {
  const { DriverStore } = await import('../io/driver-store.ts');
  const { DockerDriver } = await import('../plugin/docker-driver.ts');
  const { DockerEndpoints } = await import('../app/docker-endpoints.ts');
  const { sandboxOwner, sandboxMounted, processStarted } = await import('../io/sandbox-watch.ts');
  const { servePlugin, pluginSocketPath } = await import('../io/plugin-server.ts');
  const store = new DriverStore(globals.runDir);
  await store.init();
  const endpoints = new DockerEndpoints(agent, store, { owner: sandboxOwner, mounted: sandboxMounted, started: processStarted }, agent.edges.clock, {
    attach: request.attach,
    dockerRoot: request.dockerRoot,
    sandboxTimeoutMs: request.attach.timeoutMs,
  }, log);
  const driver = new DockerDriver(store, agent.edges.network, endpoints, log);
  for (const e of await store.allEndpoints()) {
    const network = e.sandboxKey && !e.containerId ? await store.network(e.networkId) : undefined;
    if (network) endpoints.adopt(network, e);
  }
  const server = await servePlugin(pluginSocketPath(request.plugin!), (path, body) => driver.handle(path, body), log);
  return {
    close: async () => {
      await server.close();
      await endpoints.settle();
    },
    joinedContainers: () => endpoints.joinedContainers(),
  };
}

/**
 * Starts the control socket of `agent watch`: CLIs on this machine, in this
 * daemon's namespaces and with its Docker engine, have their operations run
 * here, each by a fresh Agent on the daemon's run directory sharing its
 * Docker client, its log lines captured for the CLI's stderr.
 */
async function serveOperations(agent: Agent, globals: GlobalSettings, log: Logger): Promise<ControlServer> {
  const own = { netns: namespaceOf('net'), mntns: namespaceOf('mnt') };
  const runLocally = (reason: string): ControlResponse => ({ version: PROTOCOL_VERSION, kind: 'run-locally', reason });
  const handle = async (request: ControlRequest): Promise<ControlResponse> => {
    // Interfaces, bridges and paths are the CLI's: in other namespaces they
    // would name other things here.
    if (request.netns !== own.netns || request.mntns !== own.mntns) return runLocally('the CLI runs in other namespaces');
    if (request.dockerSocket !== globals.dockerSocket && !CNI_OPERATIONS.includes(request.op)) {
      return runLocally(`the command asks for Docker at ${request.dockerSocket}, the daemon uses ${globals.dockerSocket}`);
    }
    const stderr: string[] = [];
    const commandLog = commandLogger(request.log, (line) => stderr.push(line));
    const started = performance.now();
    let response: ControlResponse;
    try {
      const result = await runOperation(settingsOf(globals), commandLog, request, { engine: agent.engine });
      response = { version: PROTOCOL_VERSION, kind: 'result', result, stderr: stderr.join('') };
    } catch (err) {
      response = { version: PROTOCOL_VERSION, kind: 'failed', message: failureMessage(err), stderr: stderr.join('') };
    }
    log.info('served', { command: request.op, exitCode: response.kind === 'result' ? 0 : 1, ms: Math.round(performance.now() - started) });
    return response;
  };
  try {
    return await serveControl(controlSocketPath(globals.runDir), handle, log);
  } catch (err) {
    if (err instanceof ControlSocketBusyError) throw err;
    // Without the socket (a run dir path too long for a unix socket, a
    // read-only directory) the CLI simply does its own work: slower, not
    // broken, so the daemon carries on.
    log.warn('control-socket-unavailable', { path: controlSocketPath(globals.runDir), error: reasonOf(err) });
    return { close: async () => undefined };
  }
}
