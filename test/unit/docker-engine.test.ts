// The agent's Docker API client (agent/io/docker.ts, dockerode) against a
// stand-in engine on a unix socket: every request goes to an unversioned
// path (`/containers/…`, not `/v1.41/containers/…`), so the engine answers
// at its own API version — nothing is pinned (issue 17; docker-net-dhcp
// pinned one and broke on newer engines). No root, no Docker.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ATTACH_LABEL } from '../../agent/core/container-engine.ts';
import { DockerEngine } from '../../agent/io/docker.ts';

const ID = 'd5f5ff69ba58236b5f53a52bf13f51018aab9f92317f5f99c645aedb302141d1';
const INSPECT = {
  Id: ID,
  Name: '/web1',
  State: { Pid: 42, Running: true },
  HostConfig: { NetworkMode: 'none' },
  Config: { Labels: { [ATTACH_LABEL]: 'br0' } },
  ResolvConfPath: '/var/lib/docker/containers/x/resolv.conf',
};

test('every call uses an unversioned API path: the engine\'s own version, none pinned', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lt-docker-engine-'));
  const paths: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    paths.push(path);
    res.setHeader('Content-Type', 'application/json');
    if (path === '/containers/json') res.end(JSON.stringify([{ Id: ID, Labels: { [ATTACH_LABEL]: 'br0' } }]));
    else if (path === `/containers/${ID}/json`) res.end(JSON.stringify(INSPECT));
    else if (path === '/events') res.end(`${JSON.stringify({ Action: 'start', Actor: { ID, Attributes: {} }, timeNano: 1e15 })}\n`);
    else {
      res.statusCode = 404;
      res.end(JSON.stringify({ message: `page not found: ${path}` }));
    }
  });
  const socket = join(dir, 'docker.sock');
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const engine = new DockerEngine(socket);
  t.like(await engine.inspect(ID), { id: ID, name: 'web1', pid: 42, running: true });
  t.deepEqual([...(await engine.liveIds())], [ID]);
  t.deepEqual(await engine.labelled(), [{ id: ID, bridge: 'br0' }]);
  const events = await new Promise<string[]>((resolve, reject) => {
    const seen: string[] = [];
    void engine.followEvents((action, id) => void seen.push(`${action} ${id}`), (err) => (err ? reject(err) : resolve(seen)));
  });
  t.deepEqual(events, [`start ${ID}`]);

  t.deepEqual(paths, [`/containers/${ID}/json`, '/containers/json', '/containers/json', '/events']);
  for (const path of paths) t.notRegex(path, /^\/v\d/, `${path}: no /v1.xx prefix`);
});
