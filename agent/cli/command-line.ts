import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LogLevel } from '../../lib/core/logger.ts';
import { DEFAULT_RUN_DIR, LOG_LEVELS } from '../core/control-protocol.ts';
import type { MetricsListen } from '../io/metrics-server.ts';
import { dockerSocketPath, IPV6_MODES, MAC_SCHEMES, type AttachRequest, type AutoAttachSettings, type OperationRequest, type TargetRef } from '../core/requests.ts';

/**
 * The `agent` command line: one table of commands and options, from which
 * both the parsing and the help text come. Parsing is node:util's parseArgs
 * (built in: loading it costs nothing, and a CLI that hands its work to
 * `agent watch` must start fast) plus the checks below; the result is a
 * typed operation (core/requests.ts) with every path made absolute against
 * the CLI's working directory, so it means the same wherever it runs.
 */

type OptionKind = 'string' | 'path' | 'number' | 'boolean' | 'choice';

interface OptionSpec {
  name: string;
  kind: OptionKind;
  describe: string;
  choices?: readonly string[];
  default?: string | number | boolean;
}

// The CLI's commands: every operation but the CNI plugin's (agent/cni/main.ts sends those), and the daemon.
/** Docker's default data root (dockerd --data-root). */
const DEFAULT_DOCKER_ROOT = '/var/lib/docker';

type CommandName = 'attach' | 'detach' | 'inspect' | 'gc' | 'watch';

interface CommandSpec {
  name: CommandName;
  /** The command's one positional, if it takes one. */
  positional?: { name: string; describe: string };
  describe: string;
  options: OptionSpec[];
}

const globalOptions = (env: NodeJS.ProcessEnv): OptionSpec[] => [
  { name: 'run-dir', kind: 'path', default: env.LEASEHOLD_AGENT_RUN_DIR ?? DEFAULT_RUN_DIR, describe: 'state directory' },
  { name: 'json', kind: 'boolean', default: false, describe: 'JSON output (the default when stdout is not a terminal)' },
  { name: 'default-app', kind: 'string', default: 'app', describe: 'app label when neither --app nor leasehold.app is set' },
  { name: 'docker-socket', kind: 'path', describe: 'Docker engine socket (default $DOCKER_SOCKET, else /var/run/docker.sock)' },
  { name: 'log-level', kind: 'choice', choices: LOG_LEVELS, describe: 'log level (stderr)' },
  { name: 'help', kind: 'boolean', describe: 'Show help' },
];

const TARGET: OptionSpec[] = [{ name: 'netns', kind: 'string', describe: 'a named network namespace instead of a container' }];
const CONTAINER = { name: 'container', describe: 'container name, id or id prefix' };

const ATTACH_SETTINGS: OptionSpec[] = [
  { name: 'bridge-netns', kind: 'string', describe: 'netns the bridge lives in (default: the agent\'s own)' },
  { name: 'ifname', kind: 'string', default: 'eth0', describe: 'interface name inside the container' },
  { name: 'mac-scheme', kind: 'choice', choices: MAC_SCHEMES, default: 'random', describe: 'last MAC bytes: random, or from the container id' },
  { name: 'worker-ip', kind: 'string', describe: 'IPv4 for the MAC scheme (default: the bridge\'s address)' },
  { name: 'app', kind: 'string', describe: 'app label in <id>.<app> (default: label leasehold.app, then --default-app)' },
  { name: 'ipv6', kind: 'choice', choices: IPV6_MODES, default: 'slaac', describe: 'IPv6 by SLAAC, or off' },
  { name: 'wait-ipv6', kind: 'boolean', default: false, describe: 'also wait for the SLAAC address' },
  { name: 'timeout', kind: 'number', default: 30, describe: 'seconds to wait for the lease' },
];

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'attach',
    positional: CONTAINER,
    describe: 'attach a container (run with --net none) to a bridge and wait for its lease',
    options: [
      ...TARGET,
      ...ATTACH_SETTINGS,
      { name: 'bridge', kind: 'string', default: 'br0', describe: 'bridge to attach to' },
      { name: 'mac', kind: 'string', describe: 'use this MAC instead of the scheme' },
      { name: 'resolv-conf', kind: 'path', describe: 'resolv.conf to write for a --netns target' },
    ],
  },
  { name: 'detach', positional: CONTAINER, describe: 'release the lease and remove the veth, client and state', options: TARGET },
  {
    name: 'inspect',
    positional: CONTAINER,
    describe: 'show an attachment (or --all) as docker-inspect-style JSON',
    options: [...TARGET, { name: 'all', kind: 'boolean', default: false, describe: 'every attachment' }],
  },
  { name: 'gc', describe: 'one garbage-collection pass: release clients without a container, restart dead clients', options: [] },
  {
    name: 'watch',
    describe: 'daemon: follow Docker events (label leasehold.attach=<bridge>), supervise clients, reconcile, and run other agent commands for the CLI',
    options: [
      ...ATTACH_SETTINGS,
      { name: 'interval', kind: 'number', default: 5, describe: 'seconds between reconcile passes' },
      { name: 'worker', kind: 'string', describe: 'attach only containers labelled leasehold.worker=<this>' },
      { name: 'metrics', kind: 'string', describe: 'where to serve GET /metrics and /healthz: a unix socket path, or IPV4:PORT (default: metrics.sock in the run directory)' },
      { name: 'plugin', kind: 'string', describe: 'also serve the Docker network driver of this name (/run/docker/plugins/<name>.sock)' },
      { name: 'docker-root', kind: 'path', default: DEFAULT_DOCKER_ROOT, describe: 'Docker\'s data root (the driver\'s containers\' resolv.conf)' },
    ],
  },
];

/** What every command gets besides its own request. */
export interface GlobalSettings {
  /** Absolute. */
  runDir: string;
  json: boolean;
  defaultApp: string;
  /** The engine to talk to, resolved (option, else $DOCKER_SOCKET, else the default) and absolute. */
  dockerSocket: string;
  logLevel?: LogLevel;
}

export interface WatchRequest {
  attach: AutoAttachSettings;
  intervalMs: number;
  worker?: string;
  /** Where GET /metrics and /healthz are served. */
  metrics: MetricsListen;
  /** Serve the Docker network driver of this name. */
  plugin?: string;
  dockerRoot: string;
}

export type AgentCommand = OperationRequest | { op: 'watch'; request: WatchRequest };

/** Whether a running `agent watch` may do this command for the CLI: every operation, never watch (the daemon itself). */
export function isServed(command: AgentCommand): command is OperationRequest {
  return command.op !== 'watch';
}

export type ParsedCommandLine =
  | { kind: 'command'; globals: GlobalSettings; command: AgentCommand }
  | { kind: 'help'; text: string }
  | { kind: 'usage-error'; message: string; help: string };

export interface CommandLineContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Bad arguments: the parser's own control flow, caught in parseCommandLine
 * and returned as a usage-error result (usage text, exit code 2); it never
 * leaves this module, so it carries no code. Not a LeaseholdError on
 * purpose: lib/core/errors.ts would be one more module every CLI start
 * loads before it reaches `agent watch` (each costs ~0.5 ms of CPU here).
 */
class UsageError extends Error {}

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Parses `agent <args>`; never throws for bad input (that is a usage-error result). */
export function parseCommandLine(args: readonly string[], ctx: CommandLineContext): ParsedCommandLine {
  const globals = globalOptions(ctx.env);
  const specs = new Map<string, OptionSpec>();
  for (const spec of [...globals, ...COMMANDS.flatMap((c) => c.options)]) specs.set(spec.name, spec);
  // Every option in its kebab-case and camelCase spelling; booleans also as --no-<name>.
  const spellings = new Map<string, { spec: OptionSpec; negated: boolean }>();
  for (const spec of specs.values()) {
    for (const spelling of new Set([spec.name, camel(spec.name)])) {
      spellings.set(spelling, { spec, negated: false });
      if (spec.kind === 'boolean') spellings.set(`no-${spelling}`, { spec, negated: true });
    }
  }
  const parseOptions = Object.fromEntries(
    [...spellings].map(([spelling, { spec, negated }]) => [spelling, { type: spec.kind === 'boolean' || negated ? ('boolean' as const) : ('string' as const) }]),
  );
  const { tokens } = parseArgs({ args: [...args], options: parseOptions, strict: false, allowPositionals: true, tokens: true });

  let command: CommandSpec | undefined;
  let unknownCommand: string | undefined;
  let help = false;
  const positionals: string[] = [];
  const unknown: string[] = [];
  const missingValue: string[] = [];
  const given = new Map<string, string | boolean>();
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (!command && unknownCommand === undefined) {
        command = COMMANDS.find((c) => c.name === token.value);
        if (!command) unknownCommand = token.value;
      } else {
        positionals.push(token.value);
      }
      continue;
    }
    if (token.name === 'h') {
      help = true;
      continue;
    }
    const known = token.rawName.startsWith('--') ? spellings.get(token.name) : undefined;
    if (!known) {
      unknown.push(token.name);
      continue;
    }
    const { spec, negated } = known;
    if (spec.name === 'help') {
      help = !negated;
      continue;
    }
    if (spec.kind === 'boolean') {
      given.set(spec.name, negated ? false : token.value !== 'false');
    } else if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      // `--netns --json`: parseArgs would take the next option for the value.
      missingValue.push(spec.name);
    } else {
      given.set(spec.name, token.value);
    }
  }

  // Rendered only when shown: a command that runs never pays for its help.
  if (help) return { kind: 'help', text: renderHelp(command, globals) };
  try {
    if (unknownCommand !== undefined) throw new UsageError(`Unknown argument: ${unknownCommand}`);
    if (!command) throw new UsageError('give a command');
    if (missingValue.length) throw new UsageError(`Not enough arguments following: ${missingValue[0]}`);
    const allowed = new Set([...globals, ...command.options].map((o) => o.name));
    const extra = [...positionals.slice(command.positional ? 1 : 0), ...unknown, ...[...given.keys()].filter((name) => !allowed.has(name))];
    if (extra.length) throw new UsageError(`Unknown argument${extra.length > 1 ? 's' : ''}: ${extra.join(', ')}`);
    const invalid = [...globals, ...command.options].filter((o) => o.kind === 'choice' && given.has(o.name) && !o.choices!.includes(given.get(o.name) as string));
    if (invalid.length) {
      const lines = invalid.map((o) => `  Argument: ${o.name}, Given: ${JSON.stringify(given.get(o.name))}, Choices: ${o.choices!.map((c) => JSON.stringify(c)).join(', ')}`);
      throw new UsageError(`Invalid values:\n${lines.join('\n')}`);
    }
    const value = (name: string) => given.get(name) ?? specs.get(name)!.default;
    const path = (name: string) => {
      const v = given.get(name) as string | undefined;
      return v === undefined ? undefined : resolve(ctx.cwd, v);
    };
    const envDocker = ctx.env.DOCKER_SOCKET;
    const settings: GlobalSettings = {
      runDir: resolve(ctx.cwd, value('run-dir') as string),
      json: value('json') as boolean,
      defaultApp: value('default-app') as string,
      dockerSocket: resolve(ctx.cwd, dockerSocketPath(path('docker-socket'), envDocker ? resolve(ctx.cwd, envDocker) : undefined)),
      logLevel: given.get('log-level') as LogLevel | undefined,
    };
    return { kind: 'command', globals: settings, command: buildCommand(command.name, positionals[0], value, path, settings) };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return { kind: 'usage-error', message: err.message, help: renderHelp(command, globals) };
  }
}

/** The typed request from the options; the checks a command makes of its own options, in the order it makes them. */
function buildCommand(
  name: CommandName,
  positional: string | undefined,
  value: (name: string) => string | number | boolean | undefined,
  path: (name: string) => string | undefined,
  settings: GlobalSettings,
): AgentCommand {
  const str = (option: string) => value(option) as string | undefined;
  const target = (): TargetRef => {
    const container = positional || undefined;
    const netns = str('netns') || undefined;
    if (Boolean(container) === Boolean(netns)) throw new UsageError('give a container or --netns NAME (one of them)');
    return container ? { container } : { netns };
  };
  const seconds = (option: string) => {
    const n = Number(value(option));
    if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${option} must be a positive number of seconds`);
    return n * 1000;
  };
  const attachSettings = (): AutoAttachSettings => ({
    bridgeNetns: str('bridge-netns'),
    ifname: str('ifname')!,
    macScheme: str('mac-scheme') as AttachRequest['macScheme'],
    workerIp: str('worker-ip'),
    app: str('app'),
    defaultApp: settings.defaultApp,
    ipv6: str('ipv6') as AttachRequest['ipv6'],
    waitIpv6: value('wait-ipv6') as boolean,
    timeoutMs: seconds('timeout'),
  });
  switch (name) {
    case 'attach': {
      const ref = target();
      return { op: 'attach', request: { ...ref, ...attachSettings(), bridge: str('bridge')!, mac: str('mac'), resolvConf: path('resolv-conf') } };
    }
    case 'detach':
      return { op: 'detach', request: target() };
    case 'inspect':
      if (value('all')) {
        if (positional || str('netns')) throw new UsageError('--all takes no container');
        return { op: 'inspect', request: { all: true } };
      }
      return { op: 'inspect', request: { all: false, ...target() } };
    case 'gc':
      return { op: 'gc', request: {} };
    case 'watch': {
      const intervalMs = seconds('interval');
      const plugin = str('plugin');
      if (plugin !== undefined && !/^[a-z0-9][a-z0-9_.-]*$/.test(plugin)) throw new UsageError('--plugin must be a driver name: lower-case letters, digits, _ . -');
      return {
        op: 'watch',
        request: {
          attach: attachSettings(),
          intervalMs,
          worker: str('worker'),
          metrics: metricsListen(str('metrics'), path('metrics'), settings.runDir),
          plugin,
          dockerRoot: path('docker-root') ?? DEFAULT_DOCKER_ROOT,
        },
      };
    }
  }
}

/** `--metrics`: IPV4:PORT is an address to listen on, anything else a unix socket path (`absolute`: it resolved). */
export function metricsListen(option: string | undefined, absolute: string | undefined, runDir: string): MetricsListen {
  if (option === undefined) return { socket: join(runDir, 'metrics.sock') };
  const tcp = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(option);
  if (!tcp) return { socket: absolute ?? option };
  const port = Number(tcp[2]);
  if (port > 65535) throw new UsageError(`--metrics ${option}: the port must be 0-65535`);
  return { host: tcp[1], port };
}

// ---------------------------------------------------------------------------
// Help, from the same table (laid out as yargs did: 80 columns, the type and
// default right-aligned after the description).

const WIDTH = 80;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines;
}

/** Rows of `left  description [extra]`, the description column aligned, wrapped at 80. */
function table(rows: { left: string; describe: string; extra?: string }[]): string {
  const leftWidth = Math.max(...rows.map((r) => r.left.length)) + 2;
  const descWidth = WIDTH - 2 - leftWidth;
  const out: string[] = [];
  for (const row of rows) {
    const lines = wrap(row.describe, descWidth);
    if (row.extra) {
      const last = lines[lines.length - 1];
      if (last.length + 1 + row.extra.length <= descWidth) lines[lines.length - 1] = last + row.extra.padStart(descWidth - last.length);
      else lines.push(row.extra.padStart(descWidth));
    }
    lines.forEach((line, i) => out.push(`  ${(i === 0 ? row.left : '').padEnd(leftWidth)}${line}`.trimEnd()));
  }
  return out.join('\n');
}

function extraOf(o: OptionSpec): string {
  const parts = [o.kind === 'choice' ? `[choices: ${o.choices!.map((c) => JSON.stringify(c)).join(', ')}]` : `[${o.kind === 'path' ? 'string' : o.kind}]`];
  if (o.default !== undefined) parts.push(`[default: ${JSON.stringify(o.default)}]`);
  return parts.join(' ');
}

const usageOf = (c: CommandSpec) => `agent ${c.name}${c.positional ? ` [${c.positional.name}]` : ''}`;

/** The help of one command, or of the agent as a whole. */
function renderHelp(command: CommandSpec | undefined, globals: OptionSpec[]): string {
  const options = (list: OptionSpec[]) => `Options:\n${table(list.map((o) => ({ left: `--${o.name}`, describe: o.describe, extra: extraOf(o) })))}`;
  if (!command) {
    return [
      'agent <command> [options]',
      `Commands:\n${table(COMMANDS.map((c) => ({ left: usageOf(c), describe: c.describe })))}`,
      options(globals),
    ].join('\n\n');
  }
  return [
    usageOf(command),
    wrap(command.describe, WIDTH).join('\n'),
    ...(command.positional ? [`Positionals:\n${table([{ left: command.positional.name, describe: command.positional.describe, extra: '[string]' }])}`] : []),
    options([...globals, ...command.options]),
  ].join('\n\n');
}
