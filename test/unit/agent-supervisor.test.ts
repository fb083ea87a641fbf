// Supervision (agent/app/supervisor.ts) and release repeats
// (agent/app/release-repeater.ts) on fakes of the agent's edges, with a
// clock moved by hand: restart back-off 1 s, 2 s, 4 s… reset after a
// healthy minute; releases of what is gone; nothing released when the
// engine cannot be asked; repeated DHCPRELEASEs on their schedule, one
// sender per bridge namespace, never for a target attached again.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Opt } from '../../lib/dhcp4/option-defs.ts';
import { Supervisor } from '../../agent/app/supervisor.ts';
import type { ReconcileAction } from '../../agent/core/reconcile.ts';
import type { AttachRequest } from '../../agent/core/requests.ts';
import { BRIDGE, BRIDGE_NS, createWorld, type World } from './helpers/agent-fakes.ts';

const ids = ['a1'.repeat(32), 'b2'.repeat(32)];

function addContainer(w: World, id: string, name: string, labels: Record<string, string> = {}) {
  w.network.addProcess(id === ids[0] ? 100 : 200);
  return w.engine.add({ id, name, pid: id === ids[0] ? 100 : 200, labels });
}

const base: Omit<AttachRequest, 'container'> = { bridge: BRIDGE, bridgeNetns: BRIDGE_NS, ifname: 'eth0', macScheme: 'random', ipv6: 'off', waitIpv6: false, timeoutMs: 200 };

const kinds = (actions: ReconcileAction[]) => actions.map((a) => a.kind);

test('a client that keeps dying is restarted after 0, 1, 2, 4 s, and after a healthy minute from scratch', async (t) => {
  const w = await createWorld(t);
  addContainer(w, ids[0], 'web1');
  const json = await w.agent.attach({ ...base, container: ids[0] });
  const supervisor = new Supervisor(w.agent);
  t.deepEqual(await supervisor.reconcile(), [], 'all well: nothing to do');

  const dieAndPass = async () => {
    for (const pid of [...w.clients.running]) w.clients.kill(pid);
    return await supervisor.reconcile();
  };
  const restartTimes: number[] = [];
  const start = w.clock.now();
  let actions = await dieAndPass();
  for (let pass = 0; restartTimes.length < 4 && pass < 100; pass++) {
    if (kinds(actions).includes('restart-client')) {
      restartTimes.push(w.clock.now() - start);
      if (restartTimes.length < 4) actions = await dieAndPass();
    } else {
      t.deepEqual(kinds(actions), ['wait']);
      w.clock.advance(500);
      actions = await supervisor.reconcile();
    }
  }
  t.deepEqual(restartTimes, [0, 1000, 3000, 7000], 'back-off 1 s, 2 s, 4 s between restarts');
  const record = JSON.parse(await readFile(join(w.runDir, 'attachments', `docker-${ids[0].slice(0, 12)}.json`), 'utf8'));
  t.is(record.client.restarts, 4);
  t.true(w.clients.started.slice(1).every((s) => s.requestIp === json.NetworkSettings.IPAddress), 'each restart asks for the address again');
  t.is(w.logLines.filter((l) => l.includes('"event":"client-restarted"')).length, 4);

  // Up for more than a minute since the last restart: healthy; the next death is restarted at once.
  w.clock.advance(61_000);
  t.deepEqual(await supervisor.reconcile(), []);
  t.deepEqual(kinds(await dieAndPass()), ['restart-client']);
});

test('back-off belongs to one attachment: the same target attached anew starts afresh', async (t) => {
  const w = await createWorld(t);
  addContainer(w, ids[0], 'web1');
  await w.agent.attach({ ...base, container: ids[0] });
  const supervisor = new Supervisor(w.agent);
  for (const pid of [...w.clients.running]) w.clients.kill(pid);
  t.deepEqual(kinds(await supervisor.reconcile()), ['restart-client']);
  for (const pid of [...w.clients.running]) w.clients.kill(pid);
  t.deepEqual(kinds(await supervisor.reconcile()), ['wait'], 'in back-off');

  await w.agent.detach({ container: ids[0] });
  w.clock.advance(10);
  await w.agent.attach({ ...base, container: ids[0] });
  for (const pid of [...w.clients.running]) w.clients.kill(pid);
  t.deepEqual(kinds(await supervisor.reconcile()), ['restart-client'], 'the new attachment has no back-off of the old');
});

test('what has no target is released: a container gone, a netns gone, a veth someone removed', async (t) => {
  const w = await createWorld(t);
  addContainer(w, ids[0], 'web1');
  addContainer(w, ids[1], 'web2');
  w.network.addNamespace('lt-n1');
  await w.agent.attach({ ...base, container: ids[0] });
  await w.agent.attach({ ...base, container: ids[1] });
  await w.agent.attach({ ...base, netns: 'lt-n1' });
  w.engine.containers[0].running = false;
  w.network.names.delete('lt-n1');
  await w.network.deleteLink(BRIDGE_NS, `lh${ids[1].slice(0, 12)}`);
  const actions = await new Supervisor(w.agent).reconcile();
  t.deepEqual(
    actions.map((a) => a.kind === 'release' && [a.key, a.reason]),
    [
      [`docker-${ids[0].slice(0, 12)}`, 'container gone'],
      [`docker-${ids[1].slice(0, 12)}`, 'veth gone'],
      ['netns-lt-n1', 'netns gone'],
    ],
  );
  t.deepEqual(await w.agent.inspectAll(), []);
  t.deepEqual(await new Supervisor(w.agent).reconcile(), [], 'a second pass has nothing to do');
});

test('a container being started (a network driver adopts it before Docker lists it as running) is not released', async (t) => {
  const w = await createWorld(t);
  const c = addContainer(w, ids[0], 'web1');
  await w.agent.attach({ ...base, container: ids[0] });
  // Docker's `created` state until the start returns, after the driver's Join.
  c.running = false;
  c.starting = true;
  const supervisor = new Supervisor(w.agent);
  t.deepEqual(await supervisor.reconcile(), []);
  t.is((await w.agent.inspectAll()).length, 1);
  // The start failed, or it exited: gone.
  c.starting = false;
  t.deepEqual(kinds(await supervisor.reconcile()), ['release']);
});

test('a container started again (Docker lists it as exited until the start returns, after the driver adopted it) is not released while the driver counts it as joined', async (t) => {
  const w = await createWorld(t);
  const c = addContainer(w, ids[0], 'web1');
  await w.agent.attach({ ...base, container: ids[0] });
  c.running = false;
  const joined = new Set([ids[0]]);
  const supervisor = new Supervisor(w.agent, async () => joined);
  t.deepEqual(await supervisor.reconcile(), []);
  t.is((await w.agent.inspectAll()).length, 1);
  // Its sandbox gone (it stopped, or the start failed): released.
  joined.clear();
  t.deepEqual(kinds(await supervisor.reconcile()), ['release']);
});

test('an engine that cannot be asked: container attachments are left alone, not released', async (t) => {
  const w = await createWorld(t);
  addContainer(w, ids[0], 'web1');
  await w.agent.attach({ ...base, container: ids[0] });
  w.engine.unreachable = true;
  w.engine.containers[0].running = false;
  t.deepEqual(await new Supervisor(w.agent).reconcile(), []);
  t.is((await w.agent.inspectAll()).length, 1);
  t.true(w.logLines.some((l) => l.includes('"event":"docker-unreachable"')));
});

test('auto-attach: a running labelled container with no attachment is attached (for this worker only)', async (t) => {
  const w = await createWorld(t);
  addContainer(w, ids[0], 'web1', { 'leasehold.attach': BRIDGE, 'leasehold.worker': 'w1' });
  addContainer(w, ids[1], 'web2', { 'leasehold.attach': BRIDGE, 'leasehold.worker': 'w2' });
  const autoAttach = { bridgeNetns: BRIDGE_NS, ifname: 'eth0', macScheme: 'random' as const, ipv6: 'off' as const, waitIpv6: false, timeoutMs: 200, defaultApp: 'auto' };
  const supervisor = new Supervisor(w.agent);
  t.deepEqual(await supervisor.reconcile({ autoAttach, worker: 'w1' }), [{ kind: 'attach', containerId: ids[0], bridge: BRIDGE }]);
  const all = await w.agent.inspectAll();
  t.deepEqual(all.map((j) => [j.Name, j.NetworkSettings.FQDN]), [['web1', `${ids[0].slice(0, 12)}.auto.leasehold.test`]]);
  t.deepEqual(await supervisor.reconcile({ autoAttach, worker: 'w1' }), [], 'attached once');
});

test('a broken state record is reported, and the others are supervised all the same', async (t) => {
  const w = await createWorld(t);
  addContainer(w, ids[0], 'web1');
  await w.agent.attach({ ...base, container: ids[0] });
  await writeFile(join(w.runDir, 'attachments', 'docker-000000000000.json'), '{ torn');
  for (const pid of [...w.clients.running]) w.clients.kill(pid);
  t.deepEqual(kinds(await new Supervisor(w.agent).reconcile()), ['restart-client']);
  t.true(w.logLines.some((l) => /"event":"broken-state-record".*docker-000000000000\.json/.test(l)));
});

// ---------------------------------------------------------------------------
// Release repeats

test('released leases are sent again when due (2 s, 4 s…), one sender per bridge netns, until attached again', async (t) => {
  const w = await createWorld(t);
  addContainer(w, ids[0], 'web1');
  addContainer(w, ids[1], 'web2');
  w.network.addNamespace('lt-core2');
  w.network.addBridge('lt-core2', BRIDGE, '198.18.0.12');
  await w.agent.attach({ ...base, container: ids[0] });
  await w.agent.attach({ ...base, container: ids[1], bridgeNetns: 'lt-core2' });
  await w.agent.detach({ container: ids[0] });
  await w.agent.detach({ container: ids[1] });
  const supervisor = new Supervisor(w.agent);

  await supervisor.reconcile();
  t.deepEqual(w.releases.sent, [], 'the clients\' own releases count as the first: nothing due yet');
  w.clock.advance(2000);
  await supervisor.reconcile();
  t.deepEqual(w.releases.sent.map((s) => [s.bridgeNetns, s.datagrams.length]), [[BRIDGE_NS, 1], ['lt-core2', 1]]);
  const packet = Dhcp4Message.decode(w.releases.sent[0].datagrams[0].packet);
  t.is(packet.ciaddr, '198.18.1.7');
  t.is(packet.options.get(Opt.ServerId), '198.18.0.1');
  t.is(w.releases.sent[0].datagrams[0].serverId, '198.18.0.1');

  w.clock.advance(2000);
  await supervisor.reconcile();
  t.is(w.releases.sent.length, 2, 'the next repeat is 4 s after the last');
  w.clock.advance(2000);
  await supervisor.reconcile();
  t.is(w.releases.sent.length, 4);

  // web1 comes back: its release would take the new lease away.
  await w.agent.attach({ ...base, container: ids[0] });
  w.clock.advance(10_000);
  await supervisor.reconcile();
  t.deepEqual(w.releases.sent.slice(4).map((s) => s.bridgeNetns), ['lt-core2']);
});

test('a repeat that cannot be sent is logged and tried again later; an expired lease is dropped', async (t) => {
  const w = await createWorld(t);
  addContainer(w, ids[0], 'web1');
  await w.agent.attach({ ...base, container: ids[0] });
  for (const pid of [...w.clients.running]) w.clients.kill(pid); // its own release is lost: no client to send it
  await w.agent.detach({ container: ids[0] });
  w.releases.failing = true;
  const supervisor = new Supervisor(w.agent);
  await supervisor.reconcile();
  t.is(w.releases.sent.length, 1, 'due at once');
  t.true(w.logLines.some((l) => l.includes('"event":"release-repeat-failed"')));
  w.releases.failing = false;
  w.clock.advance(2000);
  await supervisor.reconcile();
  t.is(w.releases.sent.length, 2);
  // The lease (600 s from bound_at 1 700 000 000) has run out: nothing more to release.
  w.clock.advance(700_000);
  await supervisor.reconcile();
  t.is(w.releases.sent.length, 2);
  t.deepEqual(await w.store.listPendingReleases(), []);
});
