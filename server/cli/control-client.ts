import http from 'node:http';
import type { ControlResponse } from '../ops/control-protocol.ts';

/**
 * The CLI's side of the control API: one Kea command over the server's
 * unix socket (HTTP on it, as the server speaks). `undefined` when no
 * server answers there (no socket, or one a crashed server left), so the
 * caller can work from the store instead or say that a server is needed.
 */
export function sendCommand(socketPath: string, command: string, args?: object): Promise<ControlResponse | undefined> {
  const body = JSON.stringify(args === undefined ? { command } : { command, arguments: args });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method: 'POST', path: '/', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve(JSON.parse(text) as ControlResponse);
          } catch {
            reject(new Error(`the server answered on ${socketPath} with something that is not JSON (HTTP ${res.statusCode}): ${text.slice(0, 200)}`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(new Error(`control socket ${socketPath}: ${err.message}`));
    });
    req.end(body);
  });
}
