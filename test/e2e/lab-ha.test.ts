// End to end, the high-availability lab (lab.sh up --store postgresql):
// PostgreSQL in the lab and two appliances, lh-appliance (198.18.0.1) and
// lh-app2 (198.18.0.3), on the one shared database. Each appliance is
// killed in turn (SIGKILL, by its pid file) while a container attaches on
// a worker: the other one serves it — its router option names the server
// that answered — and every lease, whoever granted it, is in the one table
// afterwards, each address on one client. Needs root, `make build` and
// `make docker`.
//
// Several servers on one database do not send DNS updates yet, so this lab
// has no names in BIND and this file checks none.
import test, { type ExecutionContext } from 'ava';
import type { InspectJson } from '../../agent/core/attachment.ts';
import { ensureDockerReady, startNetNoneContainer, sweepTestContainers, TEST_IMAGES, testRunId, type NetNoneContainer } from '../harness/docker.ts';
import { inLabPool, Lab, randomLabPrefix, sweepStaleLabs } from '../harness/lab.ts';

const APPLIANCE_IP = '198.18.0.1';
const APPLIANCE2_IP = '198.18.0.3';
const ATTACH_MS = 60_000;
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

/** A `--net none` container for `worker`'s agent, removed with the test, and its attachment once it has IPv4. */
async function attachOn(t: ExecutionContext, worker: string): Promise<Attached> {
  const l = theLab();
  const container = await startNetNoneContainer({
    image: TEST_IMAGES.busybox,
    command: SLEEP,
    name: `${l.prefix}-ha-${Math.random().toString(36).slice(2, 6)}`,
    labels: l.labels(worker, 'lab'),
  });
  t.teardown(() => container.stop());
  const json = await l.waitAttached(worker, container.id, ATTACH_MS, (j) => j.NetworkSettings.IPAddress !== '');
  return { container, json };
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
  lab = await Lab.start({ prefix: randomLabPrefix(), store: 'postgresql' });
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
  t.is(bySecond.json.NetworkSettings.Gateway, APPLIANCE2_IP, 'served by lh-app2 while lh-appliance is down');

  // lh-appliance back, lh-app2 killed: the first serves, from the same table.
  await l.up({ attempts: 2 });
  await l.killServer2();
  const byFirst = await attachOn(t, w2);
  t.is(byFirst.json.NetworkSettings.Gateway, APPLIANCE_IP, 'served by lh-appliance while lh-app2 is down');
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
