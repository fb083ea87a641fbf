import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { reasonOf } from '../../lib/core/errors.ts';

/** Where `agent watch` serves GET /metrics and GET /healthz: a unix socket (mode 0600) or an address and port. */
export type MetricsListen = { socket: string } | { host: string; port: number };

export interface MetricsServer {
  /** The port the kernel chose when 0 was asked (TCP only). */
  readonly port: number | undefined;
  close(): Promise<void>;
}

/**
 * The thin HTTP edge of the watcher's metrics: `GET /metrics` (the
 * Prometheus text `metrics()` gives) and `GET /healthz` (200 `ok`, or 503
 * and why). Nothing else is served: nothing here changes anything.
 */
export async function serveMetrics(where: MetricsListen, metrics: () => Promise<string>, health: () => string | undefined): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, 'GET /metrics or GET /healthz\n');
    if (path === '/healthz') {
      const problem = health();
      return reply(problem === undefined ? 200 : 503, problem === undefined ? 'ok\n' : `${problem}\n`);
    }
    if (path !== '/metrics') return reply(404, 'GET /metrics or GET /healthz\n');
    metrics().then(
      (text) => reply(200, text, 'text/plain; version=0.0.4; charset=utf-8'),
      (err) => reply(500, `metrics failed: ${reasonOf(err)}\n`),
    );
  });
  if ('socket' in where) await unlink(where.socket).catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`metrics ${'socket' in where ? where.socket : `${where.host}:${where.port}`}: ${err.code === 'EADDRINUSE' ? 'already in use' : reasonOf(err)}`)));
    server.listen('socket' in where ? { path: where.socket } : { host: where.host, port: where.port }, () => resolve());
  });
  if ('socket' in where) await chmod(where.socket, 0o600);
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? (address as AddressInfo).port : undefined,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if ('socket' in where) await unlink(where.socket).catch(() => undefined);
    },
  };
}
