import { join, resolve } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { createLogger, type Logger, type LogLevel } from '../../lib/core/logger.ts';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import { Agent, type AttachRequest } from '../app/agent.ts';
import { runWatch } from '../app/watch.ts';
import { WatchMetrics } from '../app/watch-metrics.ts';
import { controlSocketPath, DEFAULT_RUN_DIR, PROTOCOL_VERSION, routeArgs, type ControlRequest, type ControlResponse } from '../core/control-protocol.ts';
import { namespaceOf } from '../io/control-client.ts';
import { ControlSocketBusyError, serveControl, type ControlServer } from '../io/control-server.ts';
import { dockerSocketPath, type DockerEngine } from '../io/docker.ts';
import { serveMetrics, type MetricsListen, type MetricsServer } from '../io/metrics-server.ts';
import { formatInspect } from './output.ts';

/**
 * The `agent` commands (yargs). Bad arguments print usage and exit 2; a
 * failed operation prints one line and exits 1. `runCli` runs in the CLI's
 * own process, or inside `agent watch` for a CLI that reached it over the
 * control socket (core/control-protocol.ts): everything it prints goes
 * through `CliIo`, and it returns the exit code instead of exiting.
 */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

/** When `agent watch` runs a command for a CLI: its run dir and Docker client stand in for the CLI's. */
export interface ServingDaemon {
  /** The CLI's working directory, for relative paths in its arguments. */
  cwd: string;
  runDir: string;
  docker: DockerEngine;
  dockerSocket: string;
  /** The CLI's DOCKER_SOCKET. */
  clientDockerSocketEnv?: string;
}

/** The daemon cannot run this one exactly as the CLI would: the CLI runs it itself. */
class RunLocally extends Error {}

class UsageError extends Error {
  constructor(
    message: string,
    /** The help text to show with it, rendered where the error was found. */
    readonly help?: string,
  ) {
    super(message);
  }
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
  };
}

const withTarget = <T>(y: Argv<T>) =>
  y
    .positional('container', { type: 'string', describe: 'container name, id or id prefix' })
    .option('netns', { type: 'string', describe: 'a named network namespace instead of a container' });

const withAttachSettings = <T>(y: Argv<T>) =>
  y
    .option('bridge-netns', { type: 'string', describe: 'netns the bridge lives in (default: the agent\'s own)' })
    .option('ifname', { type: 'string', default: 'eth0', describe: 'interface name inside the container' })
    .option('mac-scheme', { choices: ['random', 'stable'] as const, default: 'random' as const, describe: 'last MAC bytes: random, or from the container id' })
    .option('worker-ip', { type: 'string', describe: 'IPv4 for the MAC scheme (default: the bridge\'s address)' })
    .option('app', { type: 'string', describe: 'app label in <id>.<app> (default: label leasehold.app, then --default-app)' })
    .option('ipv6', { choices: ['slaac', 'off'] as const, default: 'slaac' as const, describe: 'IPv6 by SLAAC, or off' })
    .option('wait-ipv6', { type: 'boolean', default: false, describe: 'also wait for the SLAAC address' })
    .option('timeout', { type: 'number', default: 30, describe: 'seconds to wait for the lease' });

function requestFrom(argv: Record<string, unknown>): Omit<AttachRequest, 'container' | 'bridge'> {
  const timeout = argv.timeout as number;
  if (!(timeout > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  return {
    netns: argv.netns as string | undefined,
    bridgeNetns: argv['bridge-netns'] as string | undefined,
    ifname: argv.ifname as string,
    mac: argv.mac as string | undefined,
    macScheme: argv['mac-scheme'] as 'random' | 'stable',
    workerIp: argv['worker-ip'] as string | undefined,
    app: argv.app as string | undefined,
    ipv6: argv.ipv6 as 'slaac' | 'off',
    waitIpv6: argv['wait-ipv6'] as boolean,
    timeoutMs: timeout * 1000,
    resolvConf: argv['resolv-conf'] as string | undefined,
  };
}

function targetOf(argv: { container?: string; netns?: string }): { container?: string; netns?: string } {
  if (Boolean(argv.container) === Boolean(argv.netns)) throw new UsageError('give a container or --netns NAME (one of them)');
  return { container: argv.container, netns: argv.netns };
}

/**
 * Runs one `agent` command line; resolves to its exit code. `serving` is
 * set when `agent watch` runs it for a CLI.
 */
export async function runCli(args: readonly string[], io: CliIo, serving?: ServingDaemon): Promise<number> {
  // Paths in the arguments are the CLI's, wherever the command runs.
  const cwd = serving?.cwd ?? process.cwd();
  const absolute = (path: string) => resolve(cwd, path);
  /** The engine a command talks to; a relative $DOCKER_SOCKET is relative to the cwd too. */
  const dockerSocketOf = (option: string | undefined, env: string | undefined) => dockerSocketPath(option, env ? absolute(env) : undefined);
  /** One-shot commands log warnings to stderr (stdout is for the JSON); watch logs to stdout. */
  const commandLogger = (argv: Record<string, unknown>): Logger =>
    createLogger({
      level: (argv['log-level'] as LogLevel | undefined) ?? 'warn',
      write: (l) => io.stderr(l + '\n'),
      pretty: io.stderrIsTTY,
    });

  const newAgent = (argv: Record<string, unknown>, log: Logger): Agent => {
    const dockerSocket = argv['docker-socket'] as string | undefined;
    if (!serving) return new Agent({ runDir: argv['run-dir'] as string, defaultApp: argv['default-app'] as string, dockerSocket }, log);
    // The daemon's Docker client is the CLI's only if both would talk to the same engine.
    const wanted = dockerSocketOf(dockerSocket, serving.clientDockerSocketEnv);
    if (wanted !== serving.dockerSocket) throw new RunLocally(`the command asks for Docker at ${wanted}, the daemon uses ${serving.dockerSocket}`);
    return new Agent({ runDir: serving.runDir, defaultApp: argv['default-app'] as string, dockerSocket }, log, serving.docker);
  };

  const withAgent = async (
    argv: Record<string, unknown>,
    body: (agent: Agent, json: boolean) => Promise<void>,
    log: Logger = commandLogger(argv),
  ): Promise<void> => {
    const json = (argv.json as boolean) || !io.stdoutIsTTY;
    const agent = newAgent(argv, log);
    await agent.init();
    await body(agent, json);
  };

  const print = (value: unknown, json: boolean): void => {
    io.stdout((json ? JSON.stringify(value, null, 2) : formatInspect(value)) + '\n');
  };

  /** The command that is running (its help goes with a usage error it finds). */
  let running: string | undefined;
  const makeParser = (argv: readonly string[]) => yargs([...argv])
    .scriptName('agent')
    .usage('$0 <command> [options]')
    .option('run-dir', { type: 'string', default: process.env.LEASEHOLD_AGENT_RUN_DIR ?? DEFAULT_RUN_DIR, coerce: absolute, describe: 'state directory' })
    .option('json', { type: 'boolean', default: false, describe: 'JSON output (the default when stdout is not a terminal)' })
    .option('default-app', { type: 'string', default: 'app', describe: 'app label when neither --app nor leasehold.app is set' })
    .option('docker-socket', { type: 'string', coerce: absolute, describe: 'Docker engine socket (default $DOCKER_SOCKET, else /var/run/docker.sock)' })
    .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, describe: 'log level (stderr)' })
    .command(
      'attach [container]',
      'attach a container (run with --net none) to a bridge and wait for its lease',
      (y) =>
        withAttachSettings(withTarget(y))
          .option('bridge', { type: 'string', default: 'br0', describe: 'bridge to attach to' })
          .option('mac', { type: 'string', describe: 'use this MAC instead of the scheme' })
          .option('resolv-conf', { type: 'string', coerce: absolute, describe: 'resolv.conf to write for a --netns target' }),
      async (argv) => {
        running = 'attach';
        const target = targetOf(argv);
        const req = { ...requestFrom(argv), ...target, bridge: argv.bridge };
        await withAgent(argv, async (agent, json) => print(await agent.attach(req), json));
      },
    )
    .command(
      'detach [container]',
      'release the lease and remove the veth, client and state',
      (y) => withTarget(y),
      async (argv) => {
        running = 'detach';
        const target = targetOf(argv);
        await withAgent(argv, async (agent, json) => print(await agent.detach(target), json));
      },
    )
    .command(
      'inspect [container]',
      'show an attachment (or --all) as docker-inspect-style JSON',
      (y) => withTarget(y).option('all', { type: 'boolean', default: false, describe: 'every attachment' }),
      async (argv) => {
        running = 'inspect';
        if (argv.all) {
          if (argv.container || argv.netns) throw new UsageError('--all takes no container');
          await withAgent(argv, async (agent, json) => print(await agent.inspectAll(), json));
          return;
        }
        const target = targetOf(argv);
        await withAgent(argv, async (agent, json) => print(await agent.inspect(target), json));
      },
    )
    .command(
      'gc',
      'one garbage-collection pass: release clients without a container, restart dead clients',
      (y) => y,
      async (argv) => {
        await withAgent(argv, async (agent, json) => {
          const actions = (await agent.reconcile()).filter((a) => a.kind !== 'wait');
          print(actions, json);
        });
      },
    )
    .command(
      'watch',
      'daemon: follow Docker events (label leasehold.attach=<bridge>), supervise clients, reconcile, and run other agent commands for the CLI',
      (y) =>
        withAttachSettings(y)
          .option('interval', { type: 'number', default: 5, describe: 'seconds between reconcile passes' })
          .option('worker', { type: 'string', describe: 'attach only containers labelled leasehold.worker=<this>' })
          .option('metrics', { type: 'string', describe: 'where to serve GET /metrics and /healthz: a unix socket path, or IPV4:PORT (default: metrics.sock in the run directory)' }),
      async (argv) => {
        running = 'watch';
        if (serving) throw new RunLocally('watch is the daemon itself');
        if (!(argv.interval > 0)) throw new UsageError('--interval must be a positive number of seconds');
        const attach = requestFrom({ ...argv, netns: undefined, mac: undefined });
        const log = createLogger({ level: argv['log-level'] ?? 'info' });
        const controller = new AbortController();
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => controller.abort());
        await withAgent(
          argv,
          async (agent) => {
            const control = await serveCommands(agent, argv['run-dir'], dockerSocketOf(argv['docker-socket'], process.env.DOCKER_SOCKET), log);
            const metrics = new WatchMetrics(agent.store);
            let metricsServer: MetricsServer | undefined;
            try {
              const where = metricsListen(argv.metrics, argv['run-dir']);
              metricsServer = await serveMetrics(where, () => metrics.registry.metrics(), () => (metrics.following ? undefined : 'docker: the event stream is not followed'));
              log.info('metrics-listening', { ...where, ...(metricsServer.port !== undefined && { port: metricsServer.port }) });
              await runWatch(agent, { attach, intervalMs: argv.interval * 1000, worker: argv.worker, metrics }, log, controller.signal);
            } finally {
              await metricsServer?.close();
              await control.close();
            }
          },
          log,
        );
        log.always('stopped');
      },
    )
    .demandCommand(1, 'give a command')
    .strict()
    .fail((msg, err, y) => {
      if (err) throw err;
      // Rendered now, while yargs is still in the failing command's context.
      let help = '';
      y.showHelp((text: string) => (help = text));
      throw new UsageError(msg, help);
    })
    .help()
    .version(false)
    // In the daemon, yargs must never end the process (help is never routed there).
    .exitProcess(!serving);

  /** Help for one command (or all), captured instead of printed. */
  const helpFor = (command: string | undefined): Promise<string> =>
    new Promise((resolve) => {
      const argv = command ? [command, '--help'] : ['--help'];
      void makeParser(argv).exitProcess(false).parse(argv, {}, (_err, _argv, output) => resolve(output));
    });

  const parser = makeParser(args);
  skipHelpRendering(parser);
  try {
    await parser.parseAsync();
    return 0;
  } catch (err) {
    if (err instanceof RunLocally) throw err;
    if (err instanceof UsageError) {
      io.stderr(`${err.help ?? (await helpFor(running))}\n\nerror: ${err.message}\n`);
      return 2;
    }
    io.stderr(`agent: ${err instanceof LeaseholdError ? err.message : reasonOf(err)}\n`);
    return 1;
  }
}

/**
 * yargs renders the whole help text each time it runs a command, in case
 * the handler shows it later (usage.cacheHelpMessage): 30–70 ms of CPU per
 * command here, as much as the rest of an attach's bookkeeping, and spent
 * on every attach the daemon serves. Help is shown only with a usage
 * error, rendered then (`fail` above, `helpFor`). If a yargs release drops
 * this internal, nothing breaks; the time comes back.
 */
function skipHelpRendering(parser: Argv): void {
  const internals = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } })
    .getInternalMethods?.()
    .getUsageInstance?.();
  if (internals && typeof internals.cacheHelpMessage === 'function') internals.cacheHelpMessage = () => undefined;
}

/** `--metrics`: IPV4:PORT is an address to listen on, anything else a unix socket path. */
export function metricsListen(option: string | undefined, runDir: string): MetricsListen {
  if (option === undefined) return { socket: join(runDir, 'metrics.sock') };
  const tcp = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(option);
  if (!tcp) return { socket: option };
  const port = Number(tcp[2]);
  if (port > 65535) throw new UsageError(`--metrics ${option}: the port must be 0-65535`);
  return { host: tcp[1], port };
}

/**
 * Starts the control socket of `agent watch`: CLIs on this machine, in this
 * daemon's namespaces, have their attach/detach/inspect/gc run here.
 */
async function serveCommands(agent: Agent, runDir: string, dockerSocket: string, log: Logger): Promise<ControlServer> {
  const own = { netns: namespaceOf('net'), mntns: namespaceOf('mnt') };
  const runLocally = (reason: string): ControlResponse => ({ version: PROTOCOL_VERSION, kind: 'run-locally', reason });
  const handle = async (request: ControlRequest): Promise<ControlResponse> => {
    // Interfaces, bridges and paths in the command are the CLI's: in other
    // namespaces they would name other things here.
    if (request.netns !== own.netns || request.mntns !== own.mntns) return runLocally('the CLI runs in other namespaces');
    const route = routeArgs(request.args, undefined, '/');
    if (!route) return runLocally('not a command the daemon runs');
    const stdout: string[] = [];
    const stderr: string[] = [];
    const io: CliIo = {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
      stdoutIsTTY: request.stdoutIsTTY,
      stderrIsTTY: request.stderrIsTTY,
    };
    const started = performance.now();
    let exitCode: number;
    try {
      exitCode = await runCli(request.args, io, { cwd: request.cwd, runDir, docker: agent.docker, dockerSocket, clientDockerSocketEnv: request.dockerSocketEnv });
    } catch (err) {
      if (err instanceof RunLocally) return runLocally(err.message);
      throw err;
    }
    log.info('served', { command: route.command, exitCode, ms: Math.round(performance.now() - started) });
    return { version: PROTOCOL_VERSION, kind: 'done', stdout: stdout.join(''), stderr: stderr.join(''), exitCode };
  };
  try {
    return await serveControl(controlSocketPath(runDir), handle, log);
  } catch (err) {
    if (err instanceof ControlSocketBusyError) throw err;
    // Without the socket (a run dir path too long for a unix socket, a
    // read-only directory) the CLI simply does its own work: slower, not
    // broken, so the daemon carries on.
    log.warn('control-socket-unavailable', { path: controlSocketPath(runDir), error: reasonOf(err) });
    return { close: async () => undefined };
  }
}
