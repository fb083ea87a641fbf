import { existsSync, readlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import type { LogLevel } from '../../lib/core/logger.ts';
import { controlSocketPath, parseResponse, PROTOCOL_VERSION, type ControlRequest, type ControlResponse } from '../core/control-protocol.ts';
import type { OperationRequest } from '../core/requests.ts';

/**
 * The CLI's side of the control socket (core/control-protocol.ts). Loaded
 * before the agent itself, so it imports only Node built-ins and the
 * protocol: its whole point is a start-up without the Docker client.
 *
 * Returns the daemon's answer, or undefined when the CLI should do the work
 * itself: no daemon (no socket, a stale one), one that went away during the
 * command, or one that said so.
 */
export async function askDaemon(
  runDir: string,
  operation: OperationRequest,
  context: { dockerSocket: string; log: { level: LogLevel; pretty: boolean } },
  warn: (text: string) => void,
): Promise<Exclude<ControlResponse, { kind: 'run-locally' }> | undefined> {
  const outcome = await sendToDaemon(runDir, operation, context);
  if (outcome.kind === 'unreachable') return undefined;
  if (outcome.kind === 'lost') {
    // The daemon died mid-command. attach, inspect and gc are idempotent and
    // a detach the daemon finished is reported as "not attached": running
    // the command here gives the true state either way.
    warn(`agent: agent watch went away during the command (${outcome.reason}); running it here\n`);
    return undefined;
  }
  return outcome.response.kind === 'run-locally' ? undefined : outcome.response;
}

/**
 * One operation to the daemon on `runDir`, its outcome as it is: no daemon
 * there, one that went away (or took longer than `timeoutMs`), or its
 * answer. For clients that must not run the work themselves (the CNI plugin).
 */
export async function sendToDaemon(
  runDir: string,
  operation: OperationRequest,
  context: { dockerSocket: string; log: { level: LogLevel; pretty: boolean } },
  timeoutMs?: number,
): Promise<DaemonOutcome> {
  const socketPath = controlSocketPath(runDir);
  if (!existsSync(socketPath)) return { kind: 'unreachable' };
  const request: ControlRequest = {
    version: PROTOCOL_VERSION,
    ...operation,
    netns: namespaceOf('net'),
    mntns: namespaceOf('mnt'),
    dockerSocket: context.dockerSocket,
    log: context.log,
  };
  return await exchange(socketPath, request, timeoutMs);
}

export function namespaceOf(kind: 'net' | 'mnt'): string {
  try {
    return readlinkSync(`/proc/self/ns/${kind}`);
  } catch {
    return 'unknown';
  }
}

export type DaemonOutcome =
  | { kind: 'unreachable' }
  | { kind: 'lost'; reason: string }
  | { kind: 'answered'; response: ControlResponse };

/** One request, one answer; the daemon closes the connection after answering. */
function exchange(socketPath: string, request: ControlRequest, timeoutMs?: number): Promise<DaemonOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let connected = false;
    let settled = false;
    const settle = (o: DaemonOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    // A daemon that accepts and never answers (stopped, wedged) must not hold its client for ever.
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => settle(connected ? { kind: 'lost', reason: `no answer within ${timeoutMs} ms` } : { kind: 'unreachable' }), timeoutMs);
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
