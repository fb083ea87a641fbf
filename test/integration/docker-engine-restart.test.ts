// The Docker driver across an engine restart, on a private dockerd
// (test/harness/private-dockerd.ts) the test may stop and start: containers
// with `--restart always` on a Leasehold network are stopped with the
// engine (Leave releases their leases), restarted by it when it comes back,
// and adopted again with the same MAC and address. The engine answers at
// once after start: the driver's handlers make no Docker API call, so an
// engine restoring its containers cannot wait on the plugin while the
// plugin waits on it. Needs root, the Docker engine's containerd.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import test from 'ava';
import type { Attachment } from '../../agent/core/attachment.ts';
import { generateMac } from '../../agent/core/mac.ts';
import { pluginSocketPath } from '../../agent/io/plugin-server.ts';
import { uniqueBridgeName, useAgentLab, WORKER_IP, type AgentLab } from '../harness/agent.ts';
import { TEST_IMAGES } from '../harness/docker.ts';
import { sweepAround } from '../harness/fixture.ts';
import { pollUntil } from '../harness/poll.ts';
import { PrivateDockerd } from '../harness/private-dockerd.ts';
import { ourCommand } from '../harness/run-command.ts';

const PREFIX = 'lt-eng';
sweepAround(test, PREFIX);

test.before(() => {
  if (!ourCommand('agent').built) throw new Error('dist/ is older than agent/: run `npx tsc -p tsconfig.json` first');
});

async function adopted(lab: AgentLab, engine: PrivateDockerd, id: string): Promise<{ record: Attachment; ip: string }> {
  return await pollUntil(`container ${id.slice(0, 12)} adopted with a lease`, async () => {
    const record = await lab.record(`docker-${id.slice(0, 12)}`);
    if (!record) return false;
    const inside = await engine.docker(['exec', id, 'ip', '-4', '-o', 'addr', 'show', 'dev', record.ifname]);
    const ip = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(inside.stdout)?.[1];
    return ip ? { record, ip } : false;
  }, { timeoutMs: 30_000, intervalMs: 100, describe: () => lab.watches.map((w) => w.tail(20)).join('\n') });
}

test('engine stopped and started: --restart always containers come back on the Leasehold network with the same MAC and address, and the engine answers at once', async (t) => {
  const lab = await useAgentLab(t, PREFIX, { bridge: uniqueBridgeName('lteng') });
  const engine = await PrivateDockerd.create();
  t.teardown(async () => {
    if (!t.passed) t.log(engine.tail(60));
    await engine.destroy();
  });
  await engine.start();
  await engine.loadImage(TEST_IMAGES.busybox);
  const driver = `lh-t-${randomBytes(4).toString('hex')}`;
  const network = `${driver}-net`;
  await lab.startWatch(['--docker-socket', engine.socket, '--docker-root', engine.dataRoot, '--worker', `${PREFIX}-${randomBytes(4).toString('hex')}`, '--plugin', driver]);
  await pollUntil('the plugin socket', () => existsSync(pluginSocketPath(driver)), { timeoutMs: 5000 });
  await engine.dockerOk(['network', 'create', '-d', driver, '--ipam-driver', 'null', '-o', `leasehold.bridge=${lab.bridge}`, '-o', `leasehold.bridge-netns=${lab.bridgeNetns}`, '-o', 'leasehold.app=web', network]);

  const ids = [
    await engine.dockerOk(['run', '-d', '--restart', 'always', '--network', network, TEST_IMAGES.busybox, 'sleep', '600']),
    await engine.dockerOk(['run', '-d', '--restart', 'always', '--network', network, TEST_IMAGES.busybox, 'sleep', '600']),
  ];
  const before = await Promise.all(ids.map((id) => adopted(lab, engine, id)));
  for (const [i, b] of before.entries()) {
    t.is(b.record.mac, generateMac({ workerIpv4: WORKER_IP, scheme: 'stable', targetId: ids[i]!, attempt: 0 }));
    await lab.waitForServerLease(b.ip, 'bound');
  }

  // A graceful stop: the engine stops the containers, Leave releases each lease at once.
  await engine.stop();
  for (const b of before) await lab.waitForServerLease(b.ip, 'released', 10_000);

  const started = Date.now();
  await engine.start(10_000);
  t.log(`engine answered ${Date.now() - started} ms after start`);
  const after = await Promise.all(ids.map((id) => adopted(lab, engine, id)));
  for (const [i, a] of after.entries()) {
    t.is(a.record.mac, before[i]!.record.mac, 'same MAC after the engine restart');
    t.is(a.ip, before[i]!.ip, 'same address after the engine restart');
    t.is((await lab.waitForServerLease(a.ip, 'bound')).hwAddress, a.record.mac);
  }
  t.is((await engine.dockerOk(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', ids[0]!])), '0 true', 'restarted by the engine\'s restore, not by a crash loop');
});
