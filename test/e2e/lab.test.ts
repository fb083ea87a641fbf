// End to end, on a lab of our own: lab/lab.sh brings up the spine, BIND,
// the appliance (one leasehold server on SQLite, `--store sqlite`) and two
// workers with `agent watch`, under a random prefix and in a temp run dir;
// containers started with `--net none` and the agent's labels get an
// address, a name and a page served across workers; then the server and
// BIND are killed mid-run and what they hold must survive. Needs root,
// `make build` and `make docker`.
//
// The tests share one lab and run in order (each leaves it as the next
// expects: web and client attached, nothing else). Every wait is a poll
// with a deadline; nothing asserts how long anything took.
import test, { type ExecutionContext } from 'ava';
import type { InspectJson } from '../../agent/core/attachment.ts';
import {
  dockerClient,
  ensureDockerReady,
  execInContainer,
  startNetNoneContainer,
  sweepTestContainers,
  TEST_IMAGES,
  testRunId,
  type NetNoneContainer,
} from '../harness/docker.ts';
import {
  eui64Address,
  expandIpv6,
  inLabPool,
  Lab,
  LAB,
  publishedBy,
  randomLabPrefix,
  retryable,
  sweepStaleLabs,
  type ConfigEdits,
} from '../harness/lab.ts';
import { pollUntil } from '../harness/poll.ts';
import { httpIn, seriesValue } from '../harness/control-http.ts';
import { readFile } from 'node:fs/promises';
import { AGENT_JOB, SERVER_JOB } from '../../lab/prometheus-config.ts';
import { join } from 'node:path';

/**
 * The lab's config with shorter clocks, so that what the lab does in
 * minutes happens within the suite: a 40 s lease (busybox udhcpc renews at
 * half of it, so a client keeps its address through a server outage of at
 * least 20 s) lets a lease whose RELEASE was lost expire during the run;
 * DDNS retries back off to at most 2 s instead of 60 s. The reconciler keeps
 * its 300 s, so DNS converging after a BIND restart is the queue's doing.
 */
const LEASE_SECONDS = 40;
const CONFIG_EDITS: ConfigEdits = {
  'subnets.0.leaseTime': LEASE_SECONDS,
  expiredReclaimIntervalSeconds: 1,
  'ddns.retry.initialMs': 250,
  'ddns.retry.maxMs': 2000,
};

/** Deadlines, generous for a loaded two-core machine shared with other runs. */
const ATTACH_MS = 45_000;
const DNS_MS = 30_000;
const RELEASE_MS = 30_000;
const HTTP_MS = 30_000;
const WELCOME = 'Welcome to Leasehold';

interface Box {
  container: NetNoneContainer;
  worker: string;
  app: string;
}

let lab: Lab | undefined;
let web: Box;
let client: Box;

function theLab(): Lab {
  if (!lab) throw new Error('the lab did not come up (see the before hook)');
  return lab;
}

/** A `--net none` container labelled for `worker`'s agent, as `<id>.<app>.leasehold.test`. */
async function startOn(worker: string, app: string, image: string, command?: string[]): Promise<Box> {
  const l = theLab();
  const container = await startNetNoneContainer({
    image,
    command,
    name: `${l.prefix}-${app}-${Math.random().toString(36).slice(2, 6)}`,
    labels: l.labels(worker, app),
  });
  return { container, worker, app };
}

const SLEEP = ['sleep', '3600'];

function attached(box: Box, accept?: (j: InspectJson) => boolean): Promise<InspectJson> {
  return theLab().waitAttached(box.worker, box.container.id, ATTACH_MS, accept);
}

/** On failure, the daemons' logs and the lab's status go to the test's log. */
function diagnoseOnFailure(t: ExecutionContext): void {
  t.teardown(async () => {
    if (!t.passed && lab) t.log(await lab.diagnostics(25));
  });
}

/** A container removed with the test, pass or fail (the agent then releases it). */
function removeAfter(t: ExecutionContext, box: Box): void {
  t.teardown(() => box.container.stop());
}

/** The expected A/AAAA/DHCID/PTR answers of one attachment, polled until BIND gives them. */
async function waitPublished(t: ExecutionContext, j: InspectJson): Promise<void> {
  const p = publishedBy(j);
  const { want, last } = await theLab().waitForPublished(p, DNS_MS);
  t.deepEqual(last, want, `${p.fqdn}: A, AAAA, DHCID and both PTRs`);
}

/** Polls until BIND has no A, AAAA, DHCID or PTR left for the attachment. */
async function waitWithdrawn(t: ExecutionContext, j: InspectJson): Promise<void> {
  const p = publishedBy(j);
  const none = { a: [], aaaa: [], dhcid: 0, ptr4: [], ptr6: [] };
  let last: unknown;
  await pollUntil(`BIND to withdraw ${p.fqdn}`, async () => {
    last = await theLab().lookup(p);
    return JSON.stringify(last) === JSON.stringify(none);
  }, { timeoutMs: DNS_MS, intervalMs: 250, describe: async () => `last ${JSON.stringify(last)}\n${await theLab().diagnostics()}` });
  t.deepEqual(last, none, `${p.fqdn}: no records left`);
}

/** The addresses busybox nslookup (the container's resolver config) gives for `name`. */
async function resolveIn(box: Box, name: string, type: 'A' | 'AAAA'): Promise<string[]> {
  const r = await execInContainer(box.container.id, ['nslookup', `-type=${type}`, name], { timeoutMs: 15_000 });
  const answer = r.stdout.split(/^Name:/m).slice(1).join('\n');
  return [...answer.matchAll(/^Address:\s*(\S+)/gm)].map((m) => m[1]);
}

/**
 * The page at `url`, fetched from inside `box` (busybox wget under busybox
 * timeout: the static build's `wget -T` crashes); polled, as the first
 * packets to a fresh neighbour can be lost while ARP or ND resolves.
 */
async function fetchIn(box: Box, url: string): Promise<string> {
  let last = '';
  return pollUntil(`${url} from ${box.container.name}`, async () => {
    const r = await execInContainer(box.container.id, ['timeout', '5', 'wget', '-q', '-O', '-', url], { timeoutMs: 15_000 });
    last = `exit ${r.exitCode}: ${r.stdout}${r.stderr}`;
    return r.exitCode === 0 && r.stdout.includes(WELCOME) && r.stdout;
  }, { timeoutMs: HTTP_MS, intervalMs: 500, describe: () => `last: ${last}` });
}

let downSince = 0;

/**
 * `lab.sh up --no-demo` again, to bring back a daemon the test killed; logs
 * how long it was down (for the record, never asserted) and any retry.
 */
async function upAgain(t: ExecutionContext, what: string): Promise<void> {
  const { output, retried } = await theLab().up({ attempts: 2 });
  t.log(`${what} was down for ${((Date.now() - downSince) / 1000).toFixed(1)} s`);
  if (retried) t.log(`lab.sh up needed a second attempt:\n${output}`);
}

function macOctets(mac: string): number[] {
  return mac.split(':').map((h) => parseInt(h, 16));
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error('the e2e suite needs root (network namespaces, the lab\'s daemons)');
  await ensureDockerReady();
  // What crashed runs left: their containers, then their labs.
  await sweepTestContainers();
  await sweepStaleLabs();
  // The single appliance on SQLite (lab.sh --store sqlite): what one server
  // does alone, down to "no lease while it is down". The two-server lab of
  // the default is lab-ha.test.ts's.
  lab = await Lab.start({ prefix: randomLabPrefix(), configEdits: CONFIG_EDITS, store: 'sqlite' });
  web = await startOn(lab.workers[0], 'web', TEST_IMAGES.httpd);
  client = await startOn(lab.workers[1], 'lab', TEST_IMAGES.busybox, SLEEP);
});

test.after.always(async (t) => {
  // lab.sh down removes the containers labelled for the lab first (so the
  // agents release them), then everything else; the sweep is for any
  // container of this run it did not know.
  try {
    if (lab) t.log((await lab.down()).trim());
  } finally {
    await sweepTestContainers(testRunId());
  }
});

test.serial('containers on two workers get IPv4 from the server, IPv6 by SLAAC, and A/AAAA/PTR in BIND', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  const jsons = await Promise.all([attached(web), attached(client)]);
  const leases = await l.leases();
  for (const [box, j] of [[web, jsons[0]], [client, jsons[1]]] as const) {
    const n = j.NetworkSettings;
    const what = `${box.container.name} on ${box.worker}`;
    t.true(inLabPool(n.IPAddress), `${what}: ${n.IPAddress} is in the pool ${LAB.pool.start}-${LAB.pool.end}`);
    t.is(n.IPPrefixLen, LAB.prefixLen);
    t.is(n.Gateway, LAB.serverIp);
    t.deepEqual(n.DNS, [LAB.dnsIp]);
    t.is(n.FQDN, `${box.container.shortId}.${box.app}.${LAB.domain}`);
    // The seed's MAC scheme: locally administered unicast, then the worker's last three octets.
    const mac = macOctets(n.HWAddr);
    t.is(mac[0] & 0x03, 0x02, `${what}: ${n.HWAddr} is unicast and locally administered`);
    t.deepEqual(mac.slice(1, 4), l.workerIp(box.worker).split('.').slice(1).map(Number), `${what}: ${n.HWAddr} carries the worker's address`);
    t.is(expandIpv6(n.GlobalIPv6Address), eui64Address(LAB.slaacPrefix, n.HWAddr), `${what}: the EUI-64 address of its MAC`);
    t.is(n.GlobalIPv6PrefixLen, 64);

    // What the container itself has: both addresses on eth0, the lease's resolver.
    const addrs = await box.container.exec(['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
    t.true(addrs.stdout.includes(`inet ${n.IPAddress}/${LAB.prefixLen}`), addrs.stdout);
    t.true(addrs.stdout.includes(`inet6 ${n.GlobalIPv6Address}/64`), addrs.stdout);
    const resolv = await box.container.exec(['cat', '/etc/resolv.conf']);
    t.regex(resolv.stdout, new RegExp(`^nameserver ${LAB.dnsIp.replace(/\./g, '\\.')}$`, 'm'));

    // The server's side: a bound lease for that MAC, with the name and the SLAAC address it registers.
    const lease = leases.find((x) => x.ip === n.IPAddress);
    t.like(lease, { state: 'bound', hwAddress: n.HWAddr, fqdn: n.FQDN, subnetId: 'lab' }, `${what}: the server's lease`);
    t.is(expandIpv6(lease?.ipv6 ?? '::'), expandIpv6(n.GlobalIPv6Address));

    await waitPublished(t, j);
  }
  // And nothing else: the zones hold exactly these two attachments' records.
  await l.waitForExactlyPublished(jsons.map(publishedBy), DNS_MS);
});


test.serial('docker run --network on the first worker\'s Leasehold network: a lease and a name in BIND, resolved and fetched from the other worker\'s container', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  const worker = l.workers[0];
  // lab.sh up made one network per worker, served by that worker's driver (leasehold-<worker>); no attach label here.
  const container = await startNetNoneContainer({
    image: TEST_IMAGES.httpd,
    name: `${l.prefix}-drv-${Math.random().toString(36).slice(2, 6)}`,
    labels: { 'leasehold.lab': l.prefix },
    network: `${worker}-net`,
  });
  const box: Box = { container, worker, app: 'lab' };
  removeAfter(t, box);
  const j = await attached(box);
  const n = j.NetworkSettings;
  t.true(inLabPool(n.IPAddress), `${n.IPAddress} is in the lab's pool`);
  t.is(n.FQDN, `${container.shortId}.lab.${LAB.domain}`, 'named by its short id under the network\'s app');
  t.like(await l.waitForLease(n.IPAddress, 'bound', (x) => x?.state === 'bound', RELEASE_MS), { state: 'bound', hwAddress: n.HWAddr });
  await waitPublished(t, j);
  const seen = await pollUntil(`${client.container.name} resolving ${n.FQDN}`, async () => {
    const a = await resolveIn(client, n.FQDN, 'A');
    return a.includes(n.IPAddress) && a;
  }, { timeoutMs: DNS_MS, intervalMs: 250 });
  t.deepEqual(seen, [n.IPAddress], `${n.FQDN} from ${client.worker}`);
  t.true((await fetchIn(client, `http://${n.FQDN}/`)).includes(WELCOME), 'its page by name from the other worker');
});

test.serial('HTTP by name works across workers over IPv4 and IPv6', async (t) => {
  diagnoseOnFailure(t);
  const w = (await attached(web)).NetworkSettings;
  await attached(client);
  // By name, as the seed's demo did: whichever family the resolver gives first.
  t.true((await fetchIn(client, `http://${w.FQDN}/`)).includes(WELCOME));
  // Each family on its own: busybox wget has no -4/-6, so resolve first.
  for (const [type, expected] of [['A', w.IPAddress], ['AAAA', w.GlobalIPv6Address]] as const) {
    const answers = await pollUntil(`${client.container.name} to resolve ${w.FQDN} ${type}`, async () => {
      const got = await resolveIn(client, w.FQDN, type);
      return got.length > 0 && got;
    }, { timeoutMs: DNS_MS, intervalMs: 500 });
    t.deepEqual(answers.map((a) => (type === 'AAAA' ? expandIpv6(a) : a)), [type === 'AAAA' ? expandIpv6(expected) : expected]);
    const url = type === 'A' ? `http://${answers[0]}/` : `http://[${answers[0]}]/`;
    t.true((await fetchIn(client, url)).includes(WELCOME), `over ${type === 'A' ? 'IPv4' : 'IPv6'}`);
  }
});

test.serial('stopping a container withdraws its names and frees its lease', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  const box = await startOn(l.workers[1], 'gone', TEST_IMAGES.busybox, SLEEP);
  removeAfter(t, box);
  const j = await attached(box);
  await waitPublished(t, j);
  t.is((await l.lease(j.NetworkSettings.IPAddress))?.state, 'bound');

  await box.container.stop();
  await l.waitDetached(box.worker, box.container.id, RELEASE_MS);
  const lease = await l.waitForLease(j.NetworkSettings.IPAddress, 'released', (x) => x?.state === 'released', RELEASE_MS);
  t.is(lease?.hwAddress, j.NetworkSettings.HWAddr);
  await waitWithdrawn(t, j);
  // Nothing else moved: web and client are still published, and only they.
  await l.waitForExactlyPublished([publishedBy(await attached(web)), publishedBy(await attached(client))], DNS_MS);
});

test.serial('a restarted container gets its address back with the same MAC', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  const before = await attached(web);
  await dockerClient().getContainer(web.container.id).restart({ t: 1 });
  // A new attachment: another DHCP client, after the old one was released.
  const after = await attached(web, (j) => j.NetworkSettings.DHCP_PID !== before.NetworkSettings.DHCP_PID);
  t.is(after.NetworkSettings.HWAddr, before.NetworkSettings.HWAddr, 'stable MAC scheme: the same MAC');
  t.is(after.NetworkSettings.IPAddress, before.NetworkSettings.IPAddress, 'the same IPv4 address');
  t.is(after.NetworkSettings.GlobalIPv6Address, before.NetworkSettings.GlobalIPv6Address, 'the same SLAAC address');
  t.like(await l.lease(after.NetworkSettings.IPAddress), { state: 'bound', hwAddress: before.NetworkSettings.HWAddr });
  await waitPublished(t, after);
  // And it serves again, by name, from the other worker.
  t.true((await fetchIn(client, `http://${after.NetworkSettings.FQDN}/`)).includes(WELCOME));
});

test.serial('a server killed mid-run loses no lease and no name, and catches up when it is back', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  const [webJ, clientJ] = await Promise.all([attached(web), attached(client)]);
  // A container that will stop while the server is down.
  const orphan = await startOn(l.workers[0], 'orphan', TEST_IMAGES.busybox, SLEEP);
  removeAfter(t, orphan);
  const orphanJ = await attached(orphan);
  await waitPublished(t, orphanJ);
  const before = await l.leases();

  await l.killServer();
  downSince = Date.now();
  // Stopped while the server is down: the agent releases it, but udhcpc's
  // DHCPRELEASE reaches no one (RFC 2131 §4.4.6: the client expects no
  // answer). The agent keeps repeating it (agent/core/pending-release.ts).
  await orphan.container.stop();
  await l.waitDetached(orphan.worker, orphan.container.id, RELEASE_MS);
  // Started while the server is down: attached, its client asking in vain.
  const late = await startOn(l.workers[1], 'late', TEST_IMAGES.busybox, SLEEP);
  removeAfter(t, late);
  const waiting = await pollUntil(`${l.workers[1]}'s agent to start a client for ${late.container.name}`, async () => {
    const j = await retryable(() => l.inspect(late.worker, late.container.id));
    return typeof j === 'object' && j;
  }, { timeoutMs: ATTACH_MS, intervalMs: 250 });
  t.is(waiting.NetworkSettings.IPAddress, '', 'no lease while the server is down');

  await upAgain(t, 'the server');
  // Every lease is still in the table, unchanged.
  const readAt = Date.now();
  const after = await l.leases();
  for (const j of [webJ, clientJ, orphanJ]) {
    const old = before.find((x) => x.ip === j.NetworkSettings.IPAddress);
    const now = after.find((x) => x.ip === j.NetworkSettings.IPAddress);
    // A RELEASE clears the lease's name and IPv6 address: the orphan's repeated
    // one may already have arrived, so only its identity is compared then.
    const released = j === orphanJ && now?.state === 'released';
    const kept = released ? { hwAddress: old?.hwAddress, clientId: old?.clientId } : { hwAddress: old?.hwAddress, clientId: old?.clientId, fqdn: old?.fqdn, ipv6: old?.ipv6 };
    t.like(now, kept, `the lease of ${j.Name} survived`);
    if (j === orphanJ) {
      // Bound until the agent's repeated RELEASE arrives, or released already.
      if (now && now.expiresAt > readAt) t.true(['bound', 'released'].includes(now.state), `the lease of ${j.Name} is ${now.state}`);
    } else {
      // Web and client renew at half the lease: an outage this short costs them nothing.
      t.is(now?.state, 'bound', `the lease of ${j.Name} is still bound`);
    }
  }
  const orphanLease = after.find((x) => x.ip === orphanJ.NetworkSettings.IPAddress)!;
  // Names intact for the containers that kept running.
  await waitPublished(t, webJ);
  await waitPublished(t, clientJ);

  // The container started during the outage gets its lease and its names.
  const lateJ = await attached(late);
  t.true(inLabPool(lateJ.NetworkSettings.IPAddress));
  t.like(await l.lease(lateJ.NetworkSettings.IPAddress), { state: 'bound', hwAddress: lateJ.NetworkSettings.HWAddr });
  await waitPublished(t, lateJ);

  // One stopped now that the server is back: released, names withdrawn.
  await late.container.stop();
  await l.waitDetached(late.worker, late.container.id, RELEASE_MS);
  await l.waitForLease(lateJ.NetworkSettings.IPAddress, 'released', (x) => x?.state === 'released', RELEASE_MS);
  await waitWithdrawn(t, lateJ);

  // The orphan: the agent's repeated DHCPRELEASE reaches the server now that
  // it is back, well before the lease would run out (40 s after its last
  // ACK), and the server withdraws the names — no stale name is left.
  const repeatDeadline = Math.max(1000, orphanLease.expiresAt - Date.now() - 1000);
  await l.waitForLease(orphanJ.NetworkSettings.IPAddress, 'released', (x) => x?.state === 'released', repeatDeadline);
  await waitWithdrawn(t, orphanJ);
  await l.waitForExactlyPublished([publishedBy(webJ), publishedBy(clientJ)], DNS_MS);
  // The web page still comes through, the server back in charge.
  t.true((await fetchIn(client, `http://${webJ.NetworkSettings.FQDN}/`)).includes(WELCOME));
});

test.serial('BIND killed mid-run: DNS converges to exactly the running containers', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  const [webJ, clientJ] = await Promise.all([attached(web), attached(client)]);
  const goner = await startOn(l.workers[0], 'goner', TEST_IMAGES.busybox, SLEEP);
  removeAfter(t, goner);
  const gonerJ = await attached(goner);
  await waitPublished(t, gonerJ);

  await l.killNamed();
  downSince = Date.now();
  // While BIND is down: one container goes, another comes. DHCP does not
  // wait for DNS; both name changes wait in the server's queue.
  await goner.container.stop();
  await l.waitDetached(goner.worker, goner.container.id, RELEASE_MS);
  await l.waitForLease(gonerJ.NetworkSettings.IPAddress, 'released', (x) => x?.state === 'released', RELEASE_MS);
  const fresh = await startOn(l.workers[1], 'fresh', TEST_IMAGES.busybox, SLEEP);
  removeAfter(t, fresh);
  const freshJ = await attached(fresh);

  await upAgain(t, 'named');
  await l.waitForExactlyPublished([publishedBy(webJ), publishedBy(clientJ), publishedBy(freshJ)], 90_000);
  t.pass('DNS holds web, client and the container started while BIND was down, and nothing of the one that stopped');
});

test.serial('the lab server serves /metrics on 198.18.0.1:8000 behind the token in its run directory: the two containers are counted', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  await Promise.all([attached(web), attached(client)]);
  const token = (await readFile(join(l.runDir, 'control.token'), 'utf8')).trim();
  const url = `http://${LAB.serverIp}:8000/metrics`;
  t.is((await httpIn(l.dnsNetns, url)).status, 401, 'no token, no metrics');
  const answer = await httpIn(l.dnsNetns, url, { headers: { Authorization: `Bearer ${token}` } });
  t.is(answer.status, 200, answer.body);
  t.true((seriesValue(answer.body, 'leasehold_dhcp4_subnet_assigned_addresses', { subnet: 'lab' }) ?? 0) >= 2, 'both containers hold a lease');
  t.true((seriesValue(answer.body, 'leasehold_dhcp4_packets_sent_total', { type: 'ack' }) ?? 0) >= 2);
  t.is((await httpIn(l.dnsNetns, `http://${LAB.serverIp}:8000/healthz`)).status, 200);
});

test.serial('the lab\'s Prometheus scrapes the server and both agents: the two containers\' leases and attachments are in its leasehold_ series', async (t) => {
  diagnoseOnFailure(t);
  const l = theLab();
  await Promise.all([attached(web), attached(client)]);
  const upBy = async (job: string) => new Map((await l.prometheusQuery(`up{job="${job}"}`)).map((s) => [s.metric.instance_name, s.value]));
  const ups = await pollUntil('every target to be scraped and up', async () => {
    const [servers, agents] = [await upBy(SERVER_JOB), await upBy(AGENT_JOB)];
    return [...servers.values(), ...agents.values()].every((v) => v === 1) && servers.size === 1 && agents.size === 2 ? { servers, agents } : undefined;
  }, { timeoutMs: 60_000, intervalMs: 500, describe: async () => JSON.stringify(await l.prometheusQuery('up')) });
  t.deepEqual([...ups.servers.keys()], ['appliance']);
  t.deepEqual([...ups.agents.keys()].sort(), [...l.workers].sort());

  // Scraped figures, polled: a scrape may predate the last attach.
  const seen = await pollUntil('Prometheus to hold both leases and both attachments', async () => {
    const assigned = await l.prometheusQuery(`leasehold_dhcp4_subnet_assigned_addresses{job="${SERVER_JOB}",subnet="lab"}`);
    const attachments = new Map((await l.prometheusQuery(`leasehold_agent_attachments{job="${AGENT_JOB}"}`)).map((s) => [s.metric.instance_name, s.value]));
    const done = assigned.length === 1 && assigned[0].value >= 2 && l.workers.every((w) => (attachments.get(w) ?? 0) >= 1);
    return done && { assigned: assigned[0], attachments };
  }, { timeoutMs: 60_000, intervalMs: 500, describe: async () => JSON.stringify(await l.prometheusQuery('{__name__=~"leasehold_dhcp4_subnet_assigned_addresses|leasehold_agent_attachments"}')) });
  t.is(seen.assigned.metric.instance_name, 'appliance');
  t.deepEqual([...seen.attachments.keys()].sort(), [...l.workers].sort());
});
