// `agent watch`: Docker events attach labelled containers and release dead
// ones; its reconcile pass restarts DHCP clients that died; an agent killed
// with SIGKILL and started again takes over every attachment without losing
// an address. Needs root and `make docker`.
//
// The watch follows every container on the engine, so this file's bridge
// has a name of its own (not br0): a labelled container of another run is
// never attached here, nor ours by another run's watch.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import test from 'ava';
import type { Attachment } from '../../agent/core/attachment.ts';
import {
  isAlive,
  jsonOf,
  killContainer,
  netnsList,
  PREFIX_LEN,
  uniqueBridgeName,
  useAgentLab,
  type AgentLab,
} from '../harness/agent.ts';
import { TEST_IMAGES, useContainers, type NetNoneContainer } from '../harness/docker.ts';
import { sweepAround } from '../harness/fixture.ts';
import { pollUntil } from '../harness/poll.ts';
import type { InspectJson } from '../../agent/core/attachment.ts';

const PREFIX = 'lt-ag-w';
sweepAround(test, PREFIX);
const containers = useContainers(test);
const SLEEP = ['sleep', '600'];
/** Generous: the figure asked for is "within seconds"; a loaded machine must not fail the test. */
const DEADLINE_MS = 10_000;

function lab(t: Parameters<typeof useAgentLab>[0]): Promise<AgentLab> {
  return useAgentLab(t, PREFIX, { bridge: uniqueBridgeName('ltagw') });
}

async function eth0Addresses(c: NetNoneContainer): Promise<string[]> {
  const r = await c.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  return [...r.stdout.matchAll(/inet (\S+)/g)].map((m) => m[1]);
}

const keyOf = (c: NetNoneContainer) => `docker-${c.shortId}`;

test('a container killed while watch runs is released within seconds', async (t) => {
  const l = await lab(t);
  await l.startWatch();
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const json = await l.attach(c.id);
  const n = json.NetworkSettings;

  await killContainer(c.id);
  await pollUntil('the attachment of the killed container to be released', async () => (await l.records()).length === 0, {
    timeoutMs: DEADLINE_MS,
    describe: () => l.watches[0].tail(),
  });
  await l.waitForServerLease(n.IPAddress, 'released', DEADLINE_MS);
  t.false((await l.bridgeLinks()).includes(n.HostVeth), 'veth removed');
  t.false((await netnsList()).includes(n.Netns), 'netns name removed');
  t.false(isAlive(n.DHCP_PID), 'client stopped');
  t.deepEqual(await l.stateFiles(), []);
  // By the die event, or by a reconcile pass that saw the container gone first.
  t.regex(l.watches[0].output, new RegExp(`"event":"released".*"container":"${c.name}".*"reason":"container (die|gone)"`));
});

test('a container started with the leasehold.attach label while watch runs gets attached', async (t) => {
  const l = await lab(t);
  await l.startWatch(['--app', 'auto']);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP, labels: { 'leasehold.attach': l.bridge } });
  l.track(c.id);
  const json = await pollUntil('the labelled container to be attached with a lease', async () => {
    const all = jsonOf<InspectJson[]>(await l.run(['inspect', '--all']));
    const mine = all.find((j) => j.Container === c.shortId);
    return mine?.NetworkSettings.IPAddress ? mine : undefined;
  }, { timeoutMs: 20_000, intervalMs: 250, describe: () => l.watches[0].tail() });
  t.is(json.NetworkSettings.Bridge, l.bridge);
  t.is(json.NetworkSettings.FQDN, `${c.shortId}.auto.leasehold.test`);
  t.deepEqual(await eth0Addresses(c), [`${json.NetworkSettings.IPAddress}/${PREFIX_LEN}`]);
  t.like(await l.serverLease(json.NetworkSettings.IPAddress), { state: 'bound', hwAddress: json.NetworkSettings.HWAddr });
  t.regex(l.watches[0].output, /"event":"event-attached"|"event":"reconciled".*"kind":"attach"/);
});

test('an agent killed with SIGKILL and started again keeps every address and client', async (t) => {
  const l = await lab(t);
  const first = await l.startWatch();
  const cs = await Promise.all([0, 1, 2].map(() => containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP })));
  const attached = new Map<string, InspectJson>();
  for (const c of cs) attached.set(c.shortId, await l.attach(c.id));

  await first.kill9();
  // Nothing the agent started depends on it: every client keeps running.
  for (const j of attached.values()) t.true(isAlive(j.NetworkSettings.DHCP_PID), `client of ${j.Container} survives the agent`);
  // One client also dies while no agent runs: the new agent must notice.
  const victim = cs[0];
  const victimPid = attached.get(victim.shortId)!.NetworkSettings.DHCP_PID;
  process.kill(victimPid, 'SIGKILL');
  await pollUntil('the victim client to exit', () => !isAlive(victimPid), { timeoutMs: 5000 });

  const second = await l.startWatch();
  const restarted = await pollUntil('the new agent to restart the dead client', async () => {
    const r = await l.record(keyOf(victim));
    return r && r.client.restarts === 1 && isAlive(r.client.pid) && r;
  }, { timeoutMs: DEADLINE_MS, describe: () => second.tail() });
  t.not(restarted.client.pid, victimPid);

  const now = new Map((await l.inspectAll()).map((j) => [j.Container, j]));
  t.is(now.size, cs.length);
  for (const c of cs) {
    const before = attached.get(c.shortId)!.NetworkSettings;
    const after = now.get(c.shortId)!.NetworkSettings;
    t.is(after.IPAddress, before.IPAddress, `${c.shortId} keeps its address`);
    t.is(after.HWAddr, before.HWAddr);
    if (c !== victim) t.is(after.DHCP_PID, before.DHCP_PID, `${c.shortId} keeps its client`);
    t.deepEqual(await eth0Addresses(c), [`${before.IPAddress}/${PREFIX_LEN}`]);
    t.like(await l.serverLease(before.IPAddress), { state: 'bound', hwAddress: before.HWAddr });
  }
  for (const r of await l.records()) if (r.key !== keyOf(victim)) t.is(r.client.restarts, 0);
});

test('a DHCP client killed with SIGKILL is restarted by watch and keeps its address', async (t) => {
  const l = await lab(t);
  const watch = await l.startWatch();
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const json = await l.attach(c.id);
  const ip = json.NetworkSettings.IPAddress;
  const before = (await l.record(keyOf(c)))!;
  t.is(before.client.restarts, 0);

  process.kill(before.client.pid, 'SIGKILL');
  const after: Attachment = await pollUntil('watch to restart the client', async () => {
    const r = await l.record(keyOf(c));
    return r && r.client.restarts === 1 && isAlive(r.client.pid) && r;
  }, { timeoutMs: DEADLINE_MS, describe: () => watch.tail() });
  t.not(after.client.pid, before.client.pid);
  t.regex(watch.output, /"event":"client-restarted"/);

  // The restarted client asks for the same address (udhcpc -r) and gets it.
  const inspected = await pollUntil('the restarted client to hold its lease', async () => {
    const j = jsonOf<InspectJson>(await l.run(['inspect', c.id]));
    return j.NetworkSettings.DHCP_PID === after.client.pid && j.NetworkSettings.IPAddress === ip && j;
  }, { timeoutMs: DEADLINE_MS });
  t.is(inspected.NetworkSettings.IPAddress, ip);
  t.deepEqual(await eth0Addresses(c), [`${ip}/${PREFIX_LEN}`]);
  t.like(await l.serverLease(ip), { state: 'bound', hwAddress: json.NetworkSettings.HWAddr });
  // Still exactly one client for the attachment.
  t.deepEqual(l.clients().filter((pid) => pid === after.client.pid || pid === before.client.pid), [after.client.pid]);
  // And one start marker (the hook's): the dead client's is gone.
  const markers = readdirSync(join(l.runDir, 'attachments')).filter((f) => f.startsWith(`${keyOf(c)}.lease.started-`));
  t.deepEqual(markers, [`${keyOf(c)}.lease.started-${after.client.pid}`]);
});

test('without watch, gc releases the attachment of a container that was removed', async (t) => {
  const l = await lab(t);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const keep = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const gone = (await l.attach(c.id)).NetworkSettings;
  const kept = (await l.attach(keep.id)).NetworkSettings;
  await c.stop(); // killed and removed

  const actions = jsonOf<{ kind: string; key: string; reason: string }[]>(await l.run(['gc']));
  t.deepEqual(actions, [{ kind: 'release', key: keyOf(c), reason: 'container gone' }]);
  await l.waitForServerLease(gone.IPAddress, 'released');
  t.false((await l.bridgeLinks()).includes(gone.HostVeth));
  t.false((await netnsList()).includes(gone.Netns));
  t.false(isAlive(gone.DHCP_PID));
  t.deepEqual((await l.inspectAll()).map((j) => j.Container), [keep.shortId]);
  t.true(isAlive(kept.DHCP_PID), 'the other attachment is untouched');
  t.deepEqual(jsonOf(await l.run(['gc'])), [], 'a second pass has nothing to do');
});

/** GET `path` on watch's metrics socket. */
function getOnSocket(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('watch serves /metrics and /healthz on a 0600 socket: the attachment, its duration and event lag, a client restart', async (t) => {
  const l = await lab(t);
  const watch = await l.startWatch(['--app', 'auto']);
  const socket = join(l.runDir, 'metrics.sock');
  await pollUntil('the metrics socket', () => existsSync(socket), { timeoutMs: DEADLINE_MS });
  t.is(statSync(socket).mode & 0o777, 0o600);
  const health = await pollUntil('watch to follow the Docker events', async () => {
    const h = await getOnSocket(socket, '/healthz');
    return h.status === 200 && h;
  }, { timeoutMs: DEADLINE_MS, describe: () => watch.tail() });
  t.is(health.body, 'ok\n');
  const scrape = async () => (await getOnSocket(socket, '/metrics')).body;
  t.regex(await scrape(), /^leasehold_agent_attachments 0$/m);

  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP, labels: { 'leasehold.attach': l.bridge } });
  l.track(c.id);
  await pollUntil('the labelled container to be attached and counted', async () => /^leasehold_agent_attach_duration_seconds_count 1$/m.test(await scrape()), {
    timeoutMs: 30_000,
    describe: () => watch.tail(),
  });
  const text = await scrape();
  t.regex(text, /^leasehold_agent_attachments 1$/m);
  t.regex(text, /^leasehold_agent_docker_event_lag_seconds_count [1-9]\d*$/m);
  t.regex(text, /^leasehold_agent_pending_releases 0$/m);
  t.regex(text, /^leasehold_agent_client_restarts_total 0$/m);
  t.regex(text, /^process_resident_memory_bytes \d+$/m);

  const record = await pollUntil('the record', async () => l.record(keyOf(c)), { timeoutMs: DEADLINE_MS });
  process.kill(record.client.pid, 'SIGKILL');
  await pollUntil('the restart to be counted', async () => /^leasehold_agent_client_restarts_total 1$/m.test(await scrape()), {
    timeoutMs: DEADLINE_MS,
    describe: () => watch.tail(),
  });
  t.pass();
});
