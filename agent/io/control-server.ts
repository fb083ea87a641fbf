import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import {
  MAX_REQUEST_BYTES,
  parseRequest,
  PROTOCOL_VERSION,
  type ControlRequest,
  type ControlResponse,
} from '../core/control-protocol.ts';

/**
 * `agent watch`'s side of the control socket (core/control-protocol.ts):
 * one JSON line in, one JSON answer out, then the connection closes. A
 * request that is not one (bad JSON, a field of the wrong type) is answered
 * "invalid", naming the field, and logged. The socket is root's alone (mode
 * 0600, in the root-owned run directory): what it accepts is what the root
 * CLI may do anyway.
 */
export interface ControlServer {
  close(): Promise<void>;
}

export class ControlSocketBusyError extends LeaseholdError {
  readonly code = 'E_CONTROL_SOCKET_BUSY';
}

export async function serveControl(
  socketPath: string,
  handle: (request: ControlRequest) => Promise<ControlResponse>,
  log: Logger,
): Promise<ControlServer> {
  // A socket file whose daemon answers belongs to another `agent watch` on
  // this run directory: two would supervise the same clients. One that
  // refuses is left by a dead daemon and is replaced.
  if (await answers(socketPath)) {
    throw new ControlSocketBusyError(`another agent watch serves ${socketPath}`);
  }
  await unlink(socketPath).catch(() => undefined);
  const connections = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();
  // allowHalfOpen: a client may shut down its sending side after the
  // request (socat, nc -N); the answer must still go out.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    // A CLI that goes away mid-command (Ctrl-C) resets its end: without a
    // listener that 'error' would end the daemon.
    socket.on('error', () => undefined);
    const work = serveOne(socket, handle, log);
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error('control-socket-error', { error: reasonOf(err) }));
  await chmod(socketPath, 0o600);
  return {
    close: async () => {
      // New CLIs find no socket and run their command themselves; commands
      // already running here finish and answer.
      await unlink(socketPath).catch(() => undefined);
      const closed = closeServer(server);
      await Promise.allSettled([...inFlight]);
      for (const socket of connections) socket.destroy();
      await closed;
    },
  };
}

async function serveOne(socket: Socket, handle: (request: ControlRequest) => Promise<ControlResponse>, log: Logger): Promise<void> {
  let line: string;
  try {
    line = await readLine(socket);
  } catch (err) {
    // A connection that sends nothing is a probe (another watch checking
    // whether this one is alive): not worth a line.
    if (!(err instanceof NothingSent)) log.warn('control-request-dropped', { error: reasonOf(err) });
    socket.destroy();
    return;
  }
  const request = parseRequest(line);
  let response: ControlResponse;
  if (typeof request === 'string') {
    log.warn('control-request-invalid', { problem: request });
    response = { version: PROTOCOL_VERSION, kind: 'invalid', problem: request };
  } else {
    try {
      response = await handle(request);
    } catch (err) {
      response = { version: PROTOCOL_VERSION, kind: 'failed', message: reasonOf(err), stderr: '' };
    }
  }
  // The CLI may have gone (Ctrl-C); the command ran all the same, as a
  // docker CLI's container keeps running when the CLI is interrupted.
  if (!socket.destroyed) socket.end(JSON.stringify(response));
}

/** A connection that ended before one whole request line. */
class ControlRequestError extends LeaseholdError {
  readonly code = 'E_CONTROL_REQUEST';
}

/** A connection that ended without sending anything (a probe). */
class NothingSent extends LeaseholdError {
  readonly code = 'E_CONTROL_NOTHING_SENT';
}

function readLine(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline >= 0) {
        cleanup();
        resolve(buffered.slice(0, newline));
      } else if (buffered.length > MAX_REQUEST_BYTES) {
        cleanup();
        reject(new ControlRequestError(`request longer than ${MAX_REQUEST_BYTES} bytes`));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(buffered ? new ControlRequestError('connection closed before a full request') : new NothingSent('nothing sent'));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  });
}

/** Whether a daemon answers on `socketPath` (connects at all). */
export function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
