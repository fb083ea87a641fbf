import { existsSync, readlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import {
  controlSocketPath,
  parseResponse,
  PROTOCOL_VERSION,
  routeArgs,
  type ControlRequest,
  type ControlResponse,
} from '../core/control-protocol.ts';

/**
 * The CLI's side of the control socket (core/control-protocol.ts). Loaded
 * before anything else, so it imports only Node built-ins: its whole point
 * is a start-up without yargs and dockerode.
 *
 * Returns the exit code when a running `agent watch` ran the command, or
 * undefined when the CLI should run it itself: no daemon (no socket, a
 * stale one), or the daemon said so.
 */
export async function runThroughDaemon(args: readonly string[]): Promise<number | undefined> {
  const route = routeArgs(args, process.env.LEASEHOLD_AGENT_RUN_DIR, process.cwd());
  if (!route) return undefined;
  const socketPath = controlSocketPath(route.runDir);
  if (!existsSync(socketPath)) return undefined;
  const request: ControlRequest = {
    version: PROTOCOL_VERSION,
    args: [...args],
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    netns: namespaceOf('net'),
    mntns: namespaceOf('mnt'),
    cwd: process.cwd(),
    dockerSocketEnv: process.env.DOCKER_SOCKET,
  };
  const outcome = await exchange(socketPath, request);
  if (outcome.kind === 'unreachable') return undefined;
  if (outcome.kind === 'lost') {
    // The daemon died mid-command. attach, inspect and gc are idempotent and
    // a detach the daemon finished is reported as "not attached": running
    // the command here gives the true state either way.
    process.stderr.write(`agent: agent watch went away during the command (${outcome.reason}); running it here\n`);
    return undefined;
  }
  const response = outcome.response;
  if (response.kind === 'run-locally') return undefined;
  process.stdout.write(response.stdout);
  process.stderr.write(response.stderr);
  return response.exitCode;
}

export function namespaceOf(kind: 'net' | 'mnt'): string {
  try {
    return readlinkSync(`/proc/self/ns/${kind}`);
  } catch {
    return 'unknown';
  }
}

type Outcome =
  | { kind: 'unreachable' }
  | { kind: 'lost'; reason: string }
  | { kind: 'answered'; response: ControlResponse };

/** One request, one answer; the daemon closes the connection after answering. */
function exchange(socketPath: string, request: ControlRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let connected = false;
    let settled = false;
    const settle = (o: Outcome) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(o);
    };
    const socket = createConnection(socketPath, () => {
      connected = true;
      socket.write(JSON.stringify(request) + '\n');
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      const response = parseResponse(Buffer.concat(chunks).toString('utf8'));
      settle(response ? { kind: 'answered', response } : { kind: 'lost', reason: 'no valid answer' });
    });
    // Refused or missing before the request went out: a stale socket of a
    // dead daemon. After: the daemon died while working.
    socket.on('error', (err: NodeJS.ErrnoException) => settle(connected ? { kind: 'lost', reason: err.code ?? err.message } : { kind: 'unreachable' }));
    socket.on('close', () => settle({ kind: 'lost', reason: 'connection closed' }));
  });
}
