// End to end, the high-availability lab, lab.sh's default: PostgreSQL in
// the lab and two appliances, <prefix>-appliance (198.18.0.1, appliance-1)
// and <prefix>-appliance2 (198.18.0.3, appliance-2), on the one shared
// database, splitting the clients into RFC 3074 buckets and both sending
// DNS updates. Each appliance is killed in turn (SIGKILL, by its pid file)
// while containers attach: the other one serves them — the router option
// names the server that answered — every lease, whoever granted it, is in
// the one table afterwards, each address on one client, and every
// container's name is in BIND. Needs root, `make build` and `make docker`.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { InspectJson } from '../../agent/core/attachment.ts';
import { commandIn } from '../harness/control-http.ts';
import { ensureDockerReady, startNetNoneContainer, sweepTestContainers, TEST_IMAGES, testRunId, type NetNoneContainer } from '../harness/docker.ts';
import { inLabPool, Lab, LAB, publishedBy, randomLabPrefix, sweepStaleLabs } from '../harness/lab.ts';
import { pollUntil } from '../harness/poll.ts';

const APPLIANCE_IP = '198.18.0.1';
const APPLIANCE2_IP = '198.18.0.3';
const ATTACH_MS = 60_000;
/**
 * A name a dead server had claimed but not yet sent is taken over after
 * ddns.claimSeconds (30 s in the lab): well within this.
 */
const DNS_MS = 90_000;
const SLEEP = ['sleep', '3600'];

let lab: Lab | undefined;

function theLab(): Lab {
  if (!lab) throw new Error('the lab did not come up (see the before hook)');
  return lab;
}

interface Attached {
  container: NetNoneContainer;
  json: InspectJson;
}

/** A `--net none` container for `worker`'s agent, removed with the test (not waited for). */
async function startOn(t: ExecutionContext, worker: string): Promise<NetNoneContainer> {
  const l = theLab();
  const container = await startNetNoneContainer({
    image: TEST_IMAGES.busybox,
    command: SLEEP,
    name: `${l.prefix}-ha-${Math.random().toString(36).slice(2, 6)}`,
    labels: l.labels(worker, 'lab'),
  });
  t.teardown(() => container.stop());
  return container;
}

/** Its attachment once it has IPv4 and IPv6. */
async function attached(worker: string, container: NetNoneContainer): Promise<Attached> {
  const json = await theLab().waitAttached(worker, container.id, ATTACH_MS, (j) => j.NetworkSettings.IPAddress !== '');
  return { container, json };
}

async function attachOn(t: ExecutionContext, worker: string): Promise<Attached> {
  return attached(worker, await startOn(t, worker));
}

type HaStatus = { 'server-name': string; fenced: boolean; live: string[]; servers: Array<{ 'server-name': string; buckets: number; 'heartbeat-age-ms': number }> };

/** The `ha` part of an appliance's status-get, over its control API from its own namespace. */
async function haStatus(netns: string, ip: string): Promise<HaStatus | string> {
  const l = theLab();
  const token = (await readFile(join(l.runDir, 'control.token'), 'utf8')).trim();
  try {
    const answer = await commandIn(netns, `http://${ip}:8000/`, token, 'status-get');
    return (answer.json.arguments?.ha as HaStatus | undefined) ?? JSON.stringify(answer.json);
  } catch (error) {
    return (error as Error).message;
  }
}

/** Polls both appliances until each sees both live, unfenced, the 256 buckets split between them. */
async function waitBothServing(t: ExecutionContext): Promise<void> {
  const l = theLab();
  const targets = [[`${l.prefix}-appliance`, APPLIANCE_IP], [`${l.prefix}-appliance2`, APPLIANCE2_IP]] as const;
  let last: Array<HaStatus | string> = [];
  await pollUntil('both appliances to be live and split the buckets', async () => {
    last = await Promise.all(targets.map(([ns, ip]) => haStatus(ns, ip)));
    return last.every((s) => typeof s === 'object' && !s.fenced && s.live.join(',') === 'appliance-1,appliance-2' &&
      s.servers.filter((x) => s.live.includes(x['server-name'])).reduce((n, x) => n + x.buckets, 0) === 256);
  }, { timeoutMs: 30_000, intervalMs: 500, describe: () => JSON.stringify(last) });
  const [one, two] = last as HaStatus[];
  t.deepEqual([one['server-name'], two['server-name']], ['appliance-1', 'appliance-2']);
  // Each answers its own share, and both see the same split.
  const share = (s: HaStatus, name: string) => s.servers.find((x) => x['server-name'] === name)?.buckets ?? 0;
  t.true(share(one, 'appliance-1') > 0 && share(one, 'appliance-2') > 0, JSON.stringify(one));
  t.is(share(one, 'appliance-1'), share(two, 'appliance-1'));
}

function diagnoseOnFailure(t: ExecutionContext): void {
  t.teardown(async () => {
    if (!t.passed && lab) t.log(await lab.diagnostics(25));
  });
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the e2e suite needs root (network namespaces, the lab's daemons)");
  await ensureDockerReady();
  await sweepTestContainers();
  await sweepStaleLabs();
  // lab.sh's default store: PostgreSQL and the two appliances.
  lab = await Lab.start({ prefix: randomLabPrefix() });
  if (lab.store !== 'postgresql') throw new Error(`the lab's default store is ${lab.store}, not postgresql`);
});

test.after.always(async (t) => {
  try {
    if (lab) t.log((await lab.down()).trim());
  } finally {
    await sweepTestContainers(testRunId());
  }
});

test.serial('with either appliance killed the other serves from the shared database, and the table holds every lease once', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  const [w1, w2] = l.workers;
  const both = await Promise.all([attachOn(t, w1), attachOn(t, w2)]);

  // Only the second appliance alive: it answers (its address is the router it hands out).
  await l.killServer();
  const bySecond = await attachOn(t, w1);
  t.is(bySecond.json.NetworkSettings.Gateway, APPLIANCE2_IP, 'served by appliance2 while appliance is down');

  // appliance back, appliance2 killed: the first serves, from the same table.
  await l.up({ attempts: 2 });
  await l.killServer2();
  const byFirst = await attachOn(t, w2);
  t.is(byFirst.json.NetworkSettings.Gateway, APPLIANCE_IP, 'served by appliance while appliance2 is down');
  await l.up({ attempts: 2 });

  const attached = [...both, bySecond, byFirst].map((a) => a.json.NetworkSettings);
  const ips = attached.map((n) => n.IPAddress);
  t.true(ips.every(inLabPool), ips.join(' '));
  t.is(new Set(ips).size, ips.length, `distinct addresses: ${ips.join(' ')}`);
  // One table: each lease, whichever server granted it, bound to that container's MAC.
  const leases = await l.leases();
  for (const n of attached) {
    t.like(leases.find((x) => x.ip === n.IPAddress), { state: 'bound', hwAddress: n.HWAddr }, `the lease of ${n.IPAddress}`);
  }
  const bound = leases.filter((x) => x.state === 'bound');
  t.is(new Set(bound.map((x) => x.hwAddress)).size, bound.length, 'no client bound twice');
});

test.serial('both appliances report the split and their heartbeats; with appliance SIGKILLed while containers attach on both workers, every container gets its address and its name in BIND', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  const [w1, w2] = l.workers;
  await waitBothServing(t);

  // Containers on both workers, the server killed while their clients are
  // in DISCOVER/REQUEST: those in appliance-1's buckets are answered by
  // appliance-2 once it takes them over (ha.partnerDownAfterMs), and the
  // names appliance-1 had queued but not sent are taken over with its
  // claims (ddns.claimSeconds).
  const starting = [w1, w2, w1, w2].map((w) => startOn(t, w));
  const first = await Promise.all(starting.slice(0, 2));
  const killedPid = await l.killServer();
  t.log(`appliance (pid ${killedPid}) killed while ${first.length} containers attached`);
  const rest = await Promise.all(starting.slice(2));
  // And two more once it is gone.
  const late = await Promise.all([startOn(t, w1), startOn(t, w2)]);
  const boxes = [...first, ...rest, ...late];
  const workerOf = (i: number) => [w1, w2, w1, w2, w1, w2][i];
  const all = await Promise.all(boxes.map((c, i) => attached(workerOf(i), c)));

  const settings = all.map((a) => a.json.NetworkSettings);
  const ips = settings.map((n) => n.IPAddress);
  t.true(ips.every(inLabPool), ips.join(' '));
  t.is(new Set(ips).size, ips.length, `distinct addresses: ${ips.join(' ')}`);
  for (const [i, n] of settings.entries()) {
    t.is(n.FQDN, `${boxes[i].shortId}.lab.${LAB.domain}`);
    t.true([APPLIANCE_IP, APPLIANCE2_IP].includes(n.Gateway), `${n.FQDN}: router ${n.Gateway}`);
  }
  // The ones that attached after the kill can only have been served by appliance2.
  for (const a of all.slice(4)) t.is(a.json.NetworkSettings.Gateway, APPLIANCE2_IP, `${a.json.Name} served by appliance2`);
  // Each name in BIND: A, AAAA, DHCID and both PTRs.
  for (const a of all) {
    const p = publishedBy(a.json);
    const { want, last } = await l.waitForPublished(p, DNS_MS);
    t.deepEqual(last, want, `${p.fqdn}: A, AAAA, DHCID and both PTRs`);
  }
  // One table: each bound to its container's MAC.
  const leases = await l.leases();
  for (const n of settings) t.like(leases.find((x) => x.ip === n.IPAddress), { state: 'bound', hwAddress: n.HWAddr, fqdn: n.FQDN });

  // Restored: appliance back, both live again with the buckets split.
  await l.up({ attempts: 2 });
  await waitBothServing(t);
  // A container after the restore still gets its address and name.
  const after = await attachOn(t, w1);
  const p = publishedBy(after.json);
  const { want, last } = await l.waitForPublished(p, DNS_MS);
  t.deepEqual(last, want, `${p.fqdn} after the restore`);
});
