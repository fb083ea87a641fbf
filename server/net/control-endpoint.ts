import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import { authorized, challenge, type ControlAuth } from '../ops/control-auth.ts';
import { failure, type ControlResponse } from '../ops/control-protocol.ts';

/** The control endpoint could not listen (socket path in use, port taken, no permission). */
export class ControlEndpointError extends LeaseholdError {
  readonly code = 'E_CONTROL_ENDPOINT';
}

export interface ControlEndpointOptions {
  /** The unix socket (none when undefined); created with mode 0600, an old one left by a crash replaced. */
  socketPath: string | undefined;
  /** HTTP(S) on an address, if wanted. */
  http?: { address: string; port: number; tls?: { cert: Buffer; key: Buffer } };
  /** Required over HTTP when given; the unix socket needs none (its mode is the check). */
  auth?: ControlAuth;
  maxBodyBytes: number;
}

/** What the endpoint serves; the appliance's ops service implements it. */
export interface ControlHandlers {
  /** A command's body (JSON text) → the answer. Never rejects: a failure is an answer with result 1. */
  command(body: string): Promise<ControlResponse>;
  /** The Prometheus text of the moment. */
  metrics(): string | Promise<string>;
  health(): { healthy: boolean; problems: string[] };
  /** A request refused before any command ran (401, 413, 400…), for the counters. */
  refused(status: number): void;
}

export interface ControlEndpoint {
  /** Where HTTP listens (the port the kernel chose when 0 was asked). */
  readonly httpAddress: { address: string; port: number } | undefined;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json';

/**
 * The thin edge of the control API and the metrics: one request handler
 * served on a unix socket and, optionally, on HTTP or HTTPS. Routes:
 * `GET /healthz` (open: it tells only whether the server is healthy),
 * `GET /metrics`, and `POST /` with a Kea command (both behind the
 * authentication over HTTP). Authentication is checked before the body is
 * read, and a body over the limit is refused (413) without being read to
 * the end: neither reaches a command.
 */
export async function openControlEndpoint(opts: ControlEndpointOptions, handlers: ControlHandlers, logger: Logger): Promise<ControlEndpoint> {
  const onRequest = (authRequired: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res, authRequired ? opts.auth : undefined, opts.maxBodyBytes, handlers).catch((err) => {
      logger.error('control-request-failed', { err });
      if (!res.headersSent) send(res, 500, JSON_TYPE, JSON.stringify(failure(`internal error: ${reasonOf(err)}`)));
    });
  };
  const servers: Server[] = [];
  try {
    const { socketPath } = opts;
    if (socketPath !== undefined) {
      const unix = http.createServer(onRequest(false));
      servers.push(unix);
      await listenOnSocket(unix, socketPath);
    }
    let httpAddress: ControlEndpoint['httpAddress'];
    if (opts.http) {
      const { address, port, tls } = opts.http;
      const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, onRequest(true)) : http.createServer(onRequest(true));
      servers.push(server);
      await listen(server, { host: address, port }, `${tls ? 'https' : 'http'} ${address}:${port}`);
      const bound = server.address() as AddressInfo;
      httpAddress = { address: bound.address, port: bound.port };
    }
    return {
      httpAddress,
      close: async () => {
        await Promise.all(servers.map(closeServer));
        if (socketPath !== undefined) removeSocket(socketPath);
      },
    };
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
}

async function serve(req: IncomingMessage, res: ServerResponse, auth: ControlAuth | undefined, maxBodyBytes: number, handlers: ControlHandlers): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') {
    const { healthy, problems } = handlers.health();
    send(res, healthy ? 200 : 503, 'text/plain; charset=utf-8', healthy ? 'ok\n' : problems.map((p) => `${p}\n`).join(''));
    return;
  }
  const isMetrics = path === '/metrics';
  if (!(isMetrics && req.method === 'GET') && !(path === '/' && req.method === 'POST')) {
    handlers.refused(isMetrics || path === '/' ? 405 : 404);
    req.resume();
    send(res, isMetrics || path === '/' ? 405 : 404, JSON_TYPE, JSON.stringify(failure(`${req.method} ${path}: the control API takes POST / (Kea commands), GET /metrics and GET /healthz`)));
    return;
  }
  if (auth && !authorized(auth, req.headers.authorization)) {
    handlers.refused(401);
    // Not read, not run: a wrong or missing credential changes nothing.
    res.setHeader('WWW-Authenticate', challenge(auth));
    refuse(req, res, 401, req.headers.authorization === undefined ? 'authentication required' : 'wrong credentials');
    return;
  }
  if (isMetrics) {
    req.resume();
    send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', await handlers.metrics());
    return;
  }
  const body = await readBody(req, maxBodyBytes);
  if (body === undefined) {
    handlers.refused(413);
    refuse(req, res, 413, `request body larger than ${maxBodyBytes} bytes`);
    return;
  }
  const answer = await handlers.command(body);
  // Kea's control agent answers HTTP 200 whatever the result; only a body that is not a command at all is a 400.
  const status = answer.result === 1 && answer.text.startsWith('malformed JSON') ? 400 : 200;
  if (status === 400) handlers.refused(400);
  send(res, status, JSON_TYPE, JSON.stringify(answer));
}

/** The whole body, or undefined as soon as it is over the limit (declared or counted). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** An error answer, then the connection closed: what the client sent after it is not read. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, text: string): void {
  res.setHeader('Connection', 'close');
  send(res, status, JSON_TYPE, JSON.stringify(failure(text)));
  res.on('finish', () => req.destroy());
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Listens on a unix socket created with mode 0600. The umask is narrowed
 * around the bind (Node binds within `listen`, synchronously), so the
 * socket never exists with a wider mode. A socket file left by a server
 * that crashed (nobody answers on it) is removed first; one a live server
 * answers on, or anything else at the path, is an error.
 */
async function listenOnSocket(server: Server, path: string): Promise<void> {
  if (await answers(path)) throw new ControlEndpointError(`control unix socket ${path}: already in use (another server answers on it)`);
  removeSocket(path);
  const umask = process.umask(0o177);
  try {
    await listen(server, { path }, `unix socket ${path}`);
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
}

/** Whether something accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function removeSocket(path: string): void {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new ControlEndpointError(`control socket ${path}: the path exists and is not a socket`);
  unlinkSync(path);
}

function listen(server: Server, where: { path: string } | { host: string; port: number }, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'already in use' : err.code === 'EADDRNOTAVAIL' ? 'no such address here' : reasonOf(err);
      reject(new ControlEndpointError(`control ${what}: ${why}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(where, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
