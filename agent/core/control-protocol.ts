import { isAbsolute, join, resolve } from 'node:path';

/**
 * The CLI ↔ `agent watch` control protocol. A running `agent watch` listens
 * on a unix socket in its run directory; a one-shot command (attach, detach,
 * inspect, gc) sends it its argv and gets back what it would have printed
 * and its exit code. The daemon has Node warmed up and dockerode loaded, so
 * the command costs its work, not a second of start-up (issue 5's latency
 * target). Anything the daemon cannot run exactly as the CLI would — another
 * namespace, another Docker socket, help output — is answered "run it
 * yourself", and the CLI does; so does a CLI that finds no daemon.
 *
 * Pure: argv routing and message checking, no sockets (io/control-*.ts).
 */

export const PROTOCOL_VERSION = 1;
export const CONTROL_SOCKET_NAME = 'agent.sock';
export const DEFAULT_RUN_DIR = '/run/leasehold/agent';
/** A request is one JSON line; argv never needs more. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Commands the daemon runs for a CLI. `watch` is the daemon itself. */
export const SERVED_COMMANDS: ReadonlySet<string> = new Set(['attach', 'detach', 'inspect', 'gc']);

/** Options every command takes, that may come before the command word, with whether they take a value. */
const GLOBAL_OPTIONS: ReadonlyMap<string, boolean> = new Map([
  ['run-dir', true],
  ['runDir', true],
  ['default-app', true],
  ['defaultApp', true],
  ['docker-socket', true],
  ['dockerSocket', true],
  ['log-level', true],
  ['logLevel', true],
  ['json', false],
  ['no-json', false],
]);
const HELP_FLAGS = new Set(['--help', '-h', '--version', '--help=true']);

export interface ControlRequest {
  version: typeof PROTOCOL_VERSION;
  args: string[];
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** The client's network and mount namespaces (readlink /proc/self/ns/*): the daemon serves only its own. */
  netns: string;
  mntns: string;
  /** The client's working directory: relative paths in `args` are relative to it, not to the daemon's. */
  cwd: string;
  /** The client's DOCKER_SOCKET, which decides its Docker engine when --docker-socket is not given. */
  dockerSocketEnv?: string;
}

export type ControlResponse =
  | { version: typeof PROTOCOL_VERSION; kind: 'done'; stdout: string; stderr: string; exitCode: number }
  | { version: typeof PROTOCOL_VERSION; kind: 'run-locally'; reason: string };

export interface Route {
  command: string;
  /** Absolute: the daemon's socket is <runDir>/agent.sock. */
  runDir: string;
}

/**
 * Whether `args` is a command the daemon can run, and in which run
 * directory. Conservative: anything this scanner does not understand (an
 * unknown option before the command, help, `--`, a repeated --run-dir) is
 * left to the local CLI, which gives the real answer or usage error.
 */
export function routeArgs(args: readonly string[], envRunDir: string | undefined, cwd: string): Route | undefined {
  let command: string | undefined;
  const runDirs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const token = args[i];
    if (token === '--' || HELP_FLAGS.has(token)) return undefined;
    if (token.startsWith('--')) {
      const [name, inline] = splitOption(token.slice(2));
      const takesValue = GLOBAL_OPTIONS.get(name);
      if (command === undefined && takesValue === undefined) return undefined;
      if (name === 'run-dir' || name === 'runDir') {
        const value = inline ?? args[i + 1];
        if (value === undefined) return undefined;
        runDirs.push(value);
      }
      if (takesValue && inline === undefined) i++;
      continue;
    }
    if (token.startsWith('-') && token.length > 1) {
      // Short flags exist only for help; anything else is for the CLI to judge.
      if (command === undefined) return undefined;
      continue;
    }
    command ??= token;
  }
  if (command === undefined || !SERVED_COMMANDS.has(command) || runDirs.length > 1) return undefined;
  const runDir = runDirs[0] ?? envRunDir ?? DEFAULT_RUN_DIR;
  return { command, runDir: isAbsolute(runDir) ? resolve(runDir) : resolve(cwd, runDir) };
}

function splitOption(body: string): [string, string | undefined] {
  const eq = body.indexOf('=');
  return eq < 0 ? [body, undefined] : [body.slice(0, eq), body.slice(eq + 1)];
}

export function controlSocketPath(runDir: string): string {
  return join(runDir, CONTROL_SOCKET_NAME);
}

/** Checks a request line from the socket; returns the problem, or the request. */
export function parseRequest(line: string): ControlRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'not an object';
  const r = value as Record<string, unknown>;
  if (r.version !== PROTOCOL_VERSION) return `version ${JSON.stringify(r.version)}, expected ${PROTOCOL_VERSION}`;
  if (!Array.isArray(r.args) || !r.args.every((a) => typeof a === 'string')) return 'args: not a list of strings';
  for (const field of ['stdoutIsTTY', 'stderrIsTTY'] as const) {
    if (typeof r[field] !== 'boolean') return `${field}: not a boolean`;
  }
  for (const field of ['netns', 'mntns'] as const) {
    if (typeof r[field] !== 'string') return `${field}: not a string`;
  }
  if (typeof r.cwd !== 'string' || !isAbsolute(r.cwd)) return 'cwd: not an absolute path';
  if (r.dockerSocketEnv !== undefined && typeof r.dockerSocketEnv !== 'string') return 'dockerSocketEnv: not a string';
  return value as ControlRequest;
}

/** Checks the daemon's answer (the CLI trusts nothing it did not check either). */
export function parseResponse(text: string): ControlResponse | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (r.version !== PROTOCOL_VERSION) return undefined;
  if (r.kind === 'run-locally' && typeof r.reason === 'string') return value as ControlResponse;
  if (r.kind === 'done' && typeof r.stdout === 'string' && typeof r.stderr === 'string' && Number.isInteger(r.exitCode)) {
    return value as ControlResponse;
  }
  return undefined;
}
