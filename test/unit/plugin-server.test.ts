// Docker's plugin transport (agent/io/plugin-server.ts) on a real unix
// socket with the driver behind it, as dockerd sees it on the wire: the
// plugin content type, a 404 for a call the driver does not implement
// (Docker reads it as "not implemented"), a refusal as HTTP 200 with
// {"Err": "<clear text>"} (what `docker` prints after "remote:"), and a
// body that is no JSON refused the same way. No root, no Docker.
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLogger } from '../../lib/core/logger.ts';
import { servePlugin } from '../../agent/io/plugin-server.ts';
import { DockerDriver, type DriverRecords, type EndpointLifecycle } from '../../agent/plugin/docker-driver.ts';
import { PLUGIN_CONTENT_TYPE } from '../../agent/plugin/driver-protocol.ts';

function post(socketPath: string, path: string, body: string): Promise<{ status: number; type: string; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers: { 'Content-Type': PLUGIN_CONTENT_TYPE } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('on the wire: the content type, 404 for the rest, {"Err": …} with HTTP 200 for a refusal and for a body that is no JSON', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lt-plugin-'));
  const log = createLogger({ level: 'error', write: () => undefined });
  // The calls below never reach the records, the network or the adoption.
  const driver = new DockerDriver({} as DriverRecords, { netnsExists: async () => false, bridgeFacts: async () => undefined }, {} as EndpointLifecycle, log);
  const socket = join(dir, 'leasehold.sock');
  const served = await servePlugin(socket, (path, body) => driver.handle(path, body), log);
  t.teardown(async () => {
    await served.close();
    await rm(dir, { recursive: true, force: true });
  });

  t.deepEqual(await post(socket, '/Plugin.Activate', ''), { status: 200, type: PLUGIN_CONTENT_TYPE, body: { Implements: ['NetworkDriver'] } }, 'an empty body is {}');
  const notImplemented = await post(socket, '/NetworkDriver.ProgramExternalConnectivity', '{}');
  t.is(notImplemented.status, 404);
  t.is(notImplemented.type, PLUGIN_CONTENT_TYPE);
  const refused = await post(socket, '/NetworkDriver.CreateNetwork', JSON.stringify({
    NetworkID: 'ab'.repeat(32),
    Options: { 'com.docker.network.generic': { 'leasehold.bridge': 'br0' } },
    IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '198.18.200.0/24' }],
  }));
  t.deepEqual(refused, {
    status: 200,
    type: PLUGIN_CONTENT_TYPE,
    body: { Err: 'leasehold: the network needs --ipam-driver null (DHCP gives the addresses); got IPAM address space LocalDefault, pool 198.18.200.0/24' },
  });
  t.deepEqual(await post(socket, '/NetworkDriver.Join', '{"NetworkID": '), {
    status: 200,
    type: PLUGIN_CONTENT_TYPE,
    body: { Err: 'leasehold: /NetworkDriver.Join: the request body is not JSON' },
  });
});
