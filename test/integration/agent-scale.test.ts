// A hundred `agent attach --netns` processes, twenty at a time, against one
// server: every target gets its own address and MAC, and a hundred detaches
// leave the worker as it was. No Docker: plain named namespaces.
import test from 'ava';
import type { InspectJson } from '../../agent/core/attachment.ts';
import { parseMac } from '../../agent/core/mac.ts';
import { jsonOf, netnsList, PREFIX_LEN, useAgentLab, WORKER_IP } from '../harness/agent.ts';
import { sweepAround } from '../harness/fixture.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { ipBatch as ipBatchIn } from '../harness/netns.ts';

const PREFIX = 'lt-ag-s';
sweepAround(test, PREFIX);
const TARGETS = 100;
const CONCURRENCY = 20;

const ipBatch = (lines: string[]) => ipBatchIn(undefined, lines, true).catch(() => undefined);

test(`${TARGETS} netns targets attached ${CONCURRENCY} at a time get distinct addresses and detach cleanly`, async (t) => {
  t.timeout(300_000);
  const lab = await useAgentLab(t, PREFIX);
  // lt-ag-s-t000…: swept with the prefix if a run crashes.
  const names = Array.from({ length: TARGETS }, (_, i) => `${PREFIX}-t${String(i).padStart(3, '0')}`);
  t.teardown(async () => {
    // Their clients are killed by the lab's teardown (registered earlier, run later) as well.
    await ipBatch(names.map((n) => `netns del ${n}`));
  });
  await ipBatch(names.map((n) => `netns add ${n}`));
  const linksBefore = await lab.bridgeLinks();

  const attachStart = Date.now();
  const results = await mapLimit(names, CONCURRENCY, async (name) =>
    jsonOf<InspectJson>(await lab.run(lab.attachArgs(['--netns', name], ['--ipv6', 'off', '--timeout', '60']), { timeoutMs: 120_000 })),
  );

  t.log(`attach: ${Date.now() - attachStart} ms for ${TARGETS}`);
  const ips = results.map((j) => j.NetworkSettings.IPAddress);
  const macs = results.map((j) => j.NetworkSettings.HWAddr);
  t.is(new Set(ips).size, TARGETS, 'distinct addresses');
  t.is(new Set(macs).size, TARGETS, 'distinct MACs');
  t.true(ips.every(Boolean));
  for (const mac of macs) t.deepEqual(parseMac(mac).slice(1, 4), WORKER_IP.split('.').slice(1).map(Number));
  t.deepEqual(results.map((j) => j.Container), names);

  // Each namespace holds its own address, and the server agrees.
  const spot = [0, 37, 99];
  for (const i of spot) {
    const { stdout } = await lab.segment.ip(names[i], '-4', '-o', 'addr', 'show', 'dev', 'eth0');
    t.regex(stdout, new RegExp(`inet ${ips[i].replaceAll('.', '\\.')}/${PREFIX_LEN} `));
  }
  const leases = await lab.server.leases();
  const bound = new Map(leases.filter((l) => l.state === 'bound').map((l) => [l.ip, l.hwAddress]));
  for (const [i, ip] of ips.entries()) t.is(bound.get(ip), macs[i], `server lease for ${ip}`);
  t.is((await lab.inspectAll()).length, TARGETS);
  t.is((await lab.bridgeLinks()).length, linksBefore.length + TARGETS);

  const detachStart = Date.now();
  await mapLimit(names, CONCURRENCY, async (name) => jsonOf(await lab.run(['detach', '--netns', name])));
  t.log(`detach: ${Date.now() - detachStart} ms for ${TARGETS}`);

  t.deepEqual(await lab.bridgeLinks(), linksBefore, 'no veth left');
  t.deepEqual(await lab.stateFiles(), [], 'no state left');
  t.deepEqual(lab.clients(), [], 'no client left');
  const released = new Set((await lab.server.leases()).filter((l) => l.state === 'released').map((l) => l.ip));
  t.is(ips.filter((ip) => released.has(ip)).length, TARGETS, 'every lease released');
  // The agent leaves the namespaces it did not make; only their eth0 is gone.
  t.is((await netnsList()).filter((n) => n.startsWith(`${PREFIX}-t`)).length, TARGETS);
  const { stdout } = await lab.segment.ip(names[0], '-o', 'link', 'show');
  t.deepEqual([...stdout.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]), ['lo']);
});
