#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createLogger, type Logger, type LogLevel } from '../../server/core/logger.ts';
import { LeaseholdError, reasonOf } from '../../server/errors.ts';
import { Agent, type AttachRequest } from '../app/agent.ts';
import { runWatch } from '../app/watch.ts';
import { formatInspect } from './output.ts';

/**
 * `agent`: attaches Docker containers run with --net none (or named network
 * namespaces) to a bridge with a DHCP lease. Bad arguments print usage and
 * exit 2; a failed operation prints one line and exits 1.
 */
const DEFAULT_RUN_DIR = process.env.LEASEHOLD_AGENT_RUN_DIR ?? '/run/leasehold/agent';

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

class UsageError extends Error {}

function targetOf(argv: { container?: string; netns?: string }): { container?: string; netns?: string } {
  if (Boolean(argv.container) === Boolean(argv.netns)) throw new UsageError('give a container or --netns NAME (one of them)');
  return { container: argv.container, netns: argv.netns };
}

/** One-shot commands log warnings to stderr (stdout is for the JSON); watch logs to stdout. */
function commandLogger(argv: Record<string, unknown>): Logger {
  return createLogger({
    level: (argv['log-level'] as LogLevel | undefined) ?? 'warn',
    write: (l) => process.stderr.write(l + '\n'),
    pretty: Boolean(process.stderr.isTTY),
  });
}

async function withAgent(
  argv: Record<string, unknown>,
  body: (agent: Agent, json: boolean) => Promise<void>,
  log: Logger = commandLogger(argv),
): Promise<void> {
  const json = (argv.json as boolean) || !process.stdout.isTTY;
  const agent = new Agent(
    { runDir: argv['run-dir'] as string, defaultApp: argv['default-app'] as string, dockerSocket: argv['docker-socket'] as string | undefined },
    log,
  );
  await agent.init();
  await body(agent, json);
}

function print(value: unknown, json: boolean): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : formatInspect(value)) + '\n');
}

const parser = yargs(hideBin(process.argv))
  .scriptName('agent')
  .usage('$0 <command> [options]')
  .option('run-dir', { type: 'string', default: DEFAULT_RUN_DIR, describe: 'state directory' })
  .option('json', { type: 'boolean', default: false, describe: 'JSON output (the default when stdout is not a terminal)' })
  .option('default-app', { type: 'string', default: 'app', describe: 'app label when neither --app nor leasehold.app is set' })
  .option('docker-socket', { type: 'string', describe: 'Docker engine socket (default /var/run/docker.sock)' })
  .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, describe: 'log level (stderr)' })
  .command(
    'attach [container]',
    'attach a container (run with --net none) to a bridge and wait for its lease',
    (y) =>
      withAttachSettings(withTarget(y))
        .option('bridge', { type: 'string', default: 'br0', describe: 'bridge to attach to' })
        .option('mac', { type: 'string', describe: 'use this MAC instead of the scheme' })
        .option('resolv-conf', { type: 'string', describe: 'resolv.conf to write for a --netns target' }),
    async (argv) => {
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
      const target = targetOf(argv);
      await withAgent(argv, async (agent, json) => print(await agent.detach(target), json));
    },
  )
  .command(
    'inspect [container]',
    'show an attachment (or --all) as docker-inspect-style JSON',
    (y) => withTarget(y).option('all', { type: 'boolean', default: false, describe: 'every attachment' }),
    async (argv) => {
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
    'daemon: follow Docker events (label leasehold.attach=<bridge>), supervise clients, reconcile',
    (y) =>
      withAttachSettings(y)
        .option('interval', { type: 'number', default: 5, describe: 'seconds between reconcile passes' })
        .option('worker', { type: 'string', describe: 'attach only containers labelled leasehold.worker=<this>' }),
    async (argv) => {
      if (!(argv.interval > 0)) throw new UsageError('--interval must be a positive number of seconds');
      const attach = requestFrom({ ...argv, netns: undefined, mac: undefined });
      const log = createLogger({ level: argv['log-level'] ?? 'info' });
      const controller = new AbortController();
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => controller.abort());
      await withAgent(
        argv,
        async (agent) => await runWatch(agent, { attach, intervalMs: argv.interval * 1000, worker: argv.worker }, log, controller.signal),
        log,
      );
      log.always('stopped');
    },
  )
  .demandCommand(1, 'give a command')
  .strict()
  .fail((msg, err, y) => {
    if (err) throw err;
    usage(y, msg);
  })
  .help()
  .version(false);

function usage(y: Argv, msg: string): never {
  y.showHelp((s: string) => process.stderr.write(s + '\n'));
  process.stderr.write(`\nerror: ${msg}\n`);
  process.exit(2);
}

try {
  await parser.parseAsync();
} catch (err) {
  if (err instanceof UsageError) usage(parser, err.message);
  process.stderr.write(`agent: ${err instanceof LeaseholdError ? err.message : reasonOf(err)}\n`);
  process.exitCode = 1;
}
