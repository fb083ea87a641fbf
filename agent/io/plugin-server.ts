import { mkdir, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { reasonOf } from '../../lib/core/errors.ts';
import type { Logger } from '../../lib/core/logger.ts';
import type { DriverAnswer } from '../plugin/docker-driver.ts';
import { PLUGIN_CONTENT_TYPE } from '../plugin/driver-protocol.ts';
import { answers } from './control-server.ts';

/**
 * Docker's plugin transport: HTTP POSTs of JSON on a unix socket in
 * /run/docker/plugins/<name>.sock (moby pkg/plugins: the socket's file name
 * is the driver's name). Every call is answered, quickly: dockerd waits on
 * a plugin with no timeout.
 */
export const PLUGIN_SOCKET_DIR = '/run/docker/plugins';
const MAX_BODY_BYTES = 1024 * 1024;

export function pluginSocketPath(name: string): string {
  return `${PLUGIN_SOCKET_DIR}/${name}.sock`;
}

export async function servePlugin(
  socketPath: string,
  handle: (path: string, body: unknown) => Promise<DriverAnswer>,
  log: Logger,
): Promise<{ close(): Promise<void> }> {
  if (await answers(socketPath)) throw new Error(`another process serves ${socketPath}`);
  await mkdir(dirname(socketPath), { recursive: true });
  await unlink(socketPath).catch(() => undefined);
  const server = createServer((req, res) => {
    void serveOne(req, res, handle, log);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error('plugin-socket-error', { error: reasonOf(err) }));
  log.always('plugin-serving', { socket: socketPath });
  return {
    close: async () => {
      await unlink(socketPath).catch(() => undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function serveOne(req: IncomingMessage, res: ServerResponse, handle: (path: string, body: unknown) => Promise<DriverAnswer>, log: Logger): Promise<void> {
  let answer: DriverAnswer;
  try {
    const text = await readBody(req);
    let body: unknown = {};
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    answer = body === undefined ? { status: 200, body: { Err: `leasehold: ${req.url}: the request body is not JSON` } } : await handle(req.url ?? '', body);
  } catch (err) {
    answer = { status: 200, body: { Err: `leasehold: ${req.url}: ${reasonOf(err)}` } };
  }
  log.debug('plugin-request', { path: req.url, status: answer.status });
  res.writeHead(answer.status, { 'Content-Type': PLUGIN_CONTENT_TYPE });
  res.end(JSON.stringify(answer.body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
