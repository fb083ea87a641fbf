// The Docker network driver (`agent watch --plugin NAME`) with the real
// engine (Debian's docker.io 20.10, /usr/bin/docker through SYSTEM_PATH):
// `docker network create -d NAME --ipam-driver null -o leasehold.bridge=…`
// on a harness segment with our DHCP server, `docker run --network` gets
// what `agent attach` gives (stable MAC from the container id, a lease,
// resolv.conf from DHCP, its hostname and client-id at the server, SLAAC
// where routers advertise, a supervised client), `docker restart` and
// `docker stop`/`start` keep MAC and address, `docker stop`, `docker rm -f`
// and disconnect release at once; bad network options are refused at
// `docker network create`. The driver name is unique per run (the plugin
// socket directory is the host's). Needs root and the Docker engine.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import type { Attachment, InspectJson } from '../../agent/core/attachment.ts';
import { generateMac } from '../../agent/core/mac.ts';
import { pluginSocketPath } from '../../agent/io/plugin-server.ts';
import { isAlive, LAB_OPTIONS, SLAAC_PREFIX, startTicks, uniqueBridgeName, useAgentLab, WORKER_IP, type AgentLab, type AgentServerOptions } from '../harness/agent.ts';
import { eui64Address } from '../harness/ra-lab.ts';
import { OWNER_LABEL, RUN_LABEL, TEST_IMAGES, TEST_LABEL, testRunId } from '../harness/docker.ts';
import { sweepAround } from '../harness/fixture.ts';
import { pollUntil } from '../harness/poll.ts';
import { ourCommand, runCommand } from '../harness/run-command.ts';
import { processStartTicks } from '../../agent/io/process.ts';

const PREFIX = 'lt-drv';
sweepAround(test, PREFIX);

test.before(() => {
  if (!ourCommand('agent').built) throw new Error('dist/ is older than agent/: run `npx tsc -p tsconfig.json` first');
});

async function docker(args: readonly string[], timeoutMs = 60_000) {
  return await runCommand(['docker', ...args], { timeoutMs });
}

async function dockerOk(args: readonly string[]): Promise<string> {
  const r = await docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

interface DriverLab {
  lab: AgentLab;
  driver: string;
  network: string;
}

/** A lab, its watch serving a driver of a unique name, one Leasehold network; containers and network removed on teardown, pass or fail. */
async function driverLab(t: ExecutionContext, options: AgentServerOptions = {}): Promise<DriverLab> {
  const lab = await useAgentLab(t, PREFIX, { ...options, bridge: uniqueBridgeName('ltdrv') });
  const driver = `lh-t-${randomBytes(4).toString('hex')}`;
  const network = `${driver}-net`;
  const containers: string[] = [];
  t.teardown(async () => {
    const ids = (await dockerOk(['ps', '-aq', '--filter', `label=${RUN_LABEL}=${testRunId()}`, '--filter', `network=${network}`]).catch(() => '')).split('\n').filter(Boolean);
    for (const id of [...containers, ...ids]) await docker(['rm', '-f', id]);
    await docker(['network', 'rm', network]);
  });
  await lab.startWatch(['--worker', `${PREFIX}-${randomBytes(4).toString('hex')}`, '--plugin', driver]);
  await pollUntil('the plugin socket', () => existsSync(pluginSocketPath(driver)), { timeoutMs: 5000 });
  await dockerOk(['network', 'create', '-d', driver, '--ipam-driver', 'null', '-o', `leasehold.bridge=${lab.bridge}`, '-o', `leasehold.bridge-netns=${lab.bridgeNetns}`, '-o', 'leasehold.app=web', network]);
  return { lab, driver, network };
}

async function run(network: string): Promise<string> {
  const labels = ['--label', `${TEST_LABEL}=1`, '--label', `${RUN_LABEL}=${testRunId()}`, '--label', `${OWNER_LABEL}=${process.pid}:${processStartTicks(process.pid)}`];
  return await dockerOk(['run', '-d', '--network', network, ...labels, TEST_IMAGES.busybox, 'sleep', '600']);
}

/** The agent's record of a container once its lease is in (the adoption runs after `docker run` returned). */
async function adopted(lab: AgentLab, id: string): Promise<{ record: Attachment; ip: string }> {
  return await pollUntil(`container ${id.slice(0, 12)} adopted with a lease`, async () => {
    const record = await lab.record(`docker-${id.slice(0, 12)}`);
    if (!record) return false;
    const inside = await docker(['exec', id, 'ip', '-4', '-o', 'addr', 'show', 'dev', record.ifname]);
    const ip = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(inside.stdout)?.[1];
    return ip ? { record, ip } : false;
  }, { timeoutMs: 20_000, intervalMs: 100, describe: () => lab.watches.map((w) => w.tail(20)).join('\n') });
}

test('docker run --network: the container gets the stable MAC, a lease, resolv.conf from DHCP; docker restart and disconnect/connect keep both; docker rm -f releases at once', async (t) => {
  const { lab, network } = await driverLab(t);
  const id = await run(network);
  const { record, ip } = await adopted(lab, id);
  t.is(record.targetId, id);
  t.is(record.mac, generateMac({ workerIpv4: WORKER_IP, scheme: 'stable', targetId: id, attempt: 0 }), 'the stable MAC of the container id');
  t.is(record.app, 'web');
  t.is(record.bridge, lab.bridge);
  const lease = await lab.waitForServerLease(ip, 'bound');
  // What the driver's client sent reached the server: the MAC, option 12 (the short id) and option 61.
  t.like(lease, { hwAddress: record.mac, hostname: id.slice(0, 12), clientId: record.clientIdHex });
  t.is(record.fqdn, `${id.slice(0, 12)}.web`, 'option 81: <host>.<app> (the compose test sees the name in BIND)');
  const mac = (await dockerOk(['exec', id, 'cat', `/sys/class/net/${record.ifname}/address`]));
  t.is(mac, record.mac);
  await pollUntil('resolv.conf from DHCP', async () => (await docker(['exec', id, 'cat', '/etc/resolv.conf'])).stdout.includes(`nameserver ${LAB_OPTIONS.dnsServers[0]}`), { timeoutMs: 5000 });
  const route = await dockerOk(['exec', id, 'ip', 'route', 'show', 'default']);
  t.regex(route, /^default via 198\.18\.0\.1 /, 'the default route from DHCP (Docker set none)');
  // agent inspect sees it as it sees an attached container.
  const inspect = JSON.parse((await lab.run(['inspect', id])).stdout) as { NetworkSettings: { IPAddress: string } };
  t.is(inspect.NetworkSettings.IPAddress, ip);

  await dockerOk(['restart', '-t', '1', id]);
  const again = await adopted(lab, id);
  t.is(again.record.mac, record.mac, 'same MAC after docker restart');
  t.is(again.ip, ip, 'same address after docker restart');

  // disconnect releases at once; connect (the sandbox exists already) adopts again, same MAC and address.
  await dockerOk(['network', 'disconnect', network, id]);
  await lab.waitForServerLease(ip, 'released', 5000);
  await pollUntil('the record gone after disconnect', async () => !(await lab.record(record.key)), { timeoutMs: 5000 });
  await dockerOk(['network', 'connect', network, id]);
  const reconnected = await adopted(lab, id);
  t.is(reconnected.record.mac, record.mac, 'same MAC after disconnect/connect');
  t.is(reconnected.ip, ip, 'same address after disconnect/connect');

  await dockerOk(['rm', '-f', id]);
  await lab.waitForServerLease(ip, 'released', 5000);
  await pollUntil('the record gone', async () => !(await lab.record(record.key)), { timeoutMs: 5000 });
  t.false((await lab.bridgeLinks()).includes(record.hostVeth), 'no veth left on the bridge');
});

test('the client stays supervised after Join (killed, restarted, same address); docker stop releases the lease at once; docker start gives the same MAC and address back', async (t) => {
  const { lab, network } = await driverLab(t);
  const id = await run(network);
  const { record: first, ip } = await adopted(lab, id);
  await lab.waitForServerLease(ip, 'bound');

  process.kill(first.client.pid, 'SIGKILL');
  const record = await pollUntil('the watch to restart the killed client', async () => {
    const r = await lab.record(first.key);
    return r && r.client.restarts === first.client.restarts + 1 && isAlive(r.client.pid) && r;
  }, { timeoutMs: 10_000, describe: () => lab.watches[0]!.tail(20) });
  t.not(record.client.pid, first.client.pid);
  // It asks for the same address (udhcpc -r) and the agent sees it hold it.
  await pollUntil('the restarted client to hold the same address', async () => {
    const n = (JSON.parse((await lab.run(['inspect', id])).stdout) as InspectJson).NetworkSettings;
    return n.DHCP_PID === record.client.pid && n.IPAddress === ip;
  }, { timeoutMs: 10_000 });
  t.like(await lab.waitForServerLease(ip, 'bound'), { hwAddress: first.mac });

  // Docker leaves the network and deletes the endpoint on stop (the sandbox goes with the container's processes).
  await dockerOk(['stop', '-t', '1', id]);
  await lab.waitForServerLease(ip, 'released', 5000);
  await pollUntil('the record gone after docker stop', async () => !(await lab.record(record.key)), { timeoutMs: 5000 });
  t.false((await lab.bridgeLinks()).includes(record.hostVeth), 'no veth left on the bridge');
  await pollUntil('its DHCP client ended', () => !lab.clients().includes(record.client.pid), { timeoutMs: 5000 });

  await dockerOk(['start', id]);
  const again = await adopted(lab, id);
  t.is(again.record.mac, record.mac, 'same MAC after docker stop/start');
  t.is(again.ip, ip, 'same address after docker stop/start');
  t.like(await lab.waitForServerLease(ip, 'bound'), { hwAddress: record.mac, hostname: id.slice(0, 12) });
});

test('a SLAAC network (the default) with router advertisements: the container gets its SLAAC address, the EUI-64 of its MAC, and keeps it once its program runs', async (t) => {
  const { lab, network } = await driverLab(t, { ra: true });
  const id = await run(network);
  const { record } = await adopted(lab, id);
  const expected = eui64Address(SLAAC_PREFIX, record.mac);
  // Docker's sandbox hook turns IPv6 off on the interface, sometimes after the adoption (docker-endpoints.ts): the address must be there after it.
  await pollUntil('the SLAAC address inside the container', async () => {
    const v6 = await docker(['exec', id, 'ip', '-6', '-o', 'addr', 'show', 'dev', record.ifname, 'scope', 'global']);
    return v6.stdout.includes(`inet6 ${expected}/64`);
  }, { timeoutMs: 15_000, describe: () => lab.watches[0]!.tail(20) });
  t.is(await dockerOk(['exec', id, 'cat', `/proc/sys/net/ipv6/conf/${record.ifname}/disable_ipv6`]), '0');
  const n = await pollUntil('agent inspect to report it', async () => {
    const j = (JSON.parse((await lab.run(['inspect', id])).stdout) as InspectJson).NetworkSettings;
    return j.GlobalIPv6Address !== '' && j;
  }, { timeoutMs: 5000 });
  t.is(n.GlobalIPv6Address, expected);
});

test('docker network create refuses bad options with a clear message', async (t) => {
  const { lab, driver } = await driverLab(t);
  const create = async (opts: string[], ipam = ['--ipam-driver', 'null']) => {
    const name = `${driver}-bad-${randomBytes(2).toString('hex')}`;
    const r = await docker(['network', 'create', '-d', driver, ...ipam, ...opts, name]);
    if (r.code === 0) await docker(['network', 'rm', name]);
    return r;
  };
  const cases: [string, Promise<Awaited<ReturnType<typeof docker>>>, RegExp][] = [
    ['unknown option', create(['-o', `leasehold.bridge=${lab.bridge}`, '-o', 'leasehold.brige=x']), /remote: leasehold: unknown option leasehold\.brige \(known: leasehold\.bridge, /],
    ['no bridge option', create([]), /leasehold: option leasehold\.bridge is required/],
    ['bridge missing', create(['-o', 'leasehold.bridge=nobr0', '-o', `leasehold.bridge-netns=${lab.bridgeNetns}`]), /leasehold: option leasehold\.bridge: no bridge nobr0 in netns /],
    ['bridge netns missing', create(['-o', `leasehold.bridge=${lab.bridge}`, '-o', `leasehold.bridge-netns=${PREFIX}-nons`]), /leasehold: option leasehold\.bridge-netns: netns lt-drv-nons does not exist/],
    ['not a bridge', create(['-o', 'leasehold.bridge=lo']), /leasehold: option leasehold\.bridge: lo is not a bridge/],
    ['default IPAM', create(['-o', `leasehold.bridge=${lab.bridge}`], ['--subnet', '198.18.200.0/24']), /leasehold: the network needs --ipam-driver null \(DHCP gives the addresses\); got IPAM address space LocalDefault, pool 198\.18\.200\.0\/24/],
    ['bad app', create(['-o', `leasehold.bridge=${lab.bridge}`, '-o', 'leasehold.app=no_underscores']), /leasehold: option leasehold\.app: app "no_underscores" is not a DNS label/],
  ];
  for (const [what, outcome, message] of cases) {
    const r = await outcome;
    t.not(r.code, 0, what);
    t.regex(r.stderr, message, what);
  }
});

test('the driver killed (SIGKILL) and started again: running containers keep MAC, address, lease and client; docker run works after; a container removed meanwhile is released', async (t) => {
  const { lab, driver, network } = await driverLab(t);
  const kept = await run(network);
  const removed = await run(network);
  const before = await adopted(lab, kept);
  const gone = await adopted(lab, removed);
  const client = before.record.client;
  t.true(client.pid > 0, 'a supervised client');

  await lab.watches[0]!.kill9();
  // The engine cannot reach the driver now: removing a container still works (its Leave fails after Docker's retries).
  await docker(['rm', '-f', removed], 90_000);
  t.is(startTicks(client.pid), client.startTicks, 'the client of the running container survives the driver');

  await lab.startWatch(['--worker', `${PREFIX}-${randomBytes(4).toString('hex')}`, '--plugin', driver]);
  const after = await adopted(lab, kept);
  t.is(after.record.mac, before.record.mac, 'same MAC');
  t.is(after.ip, before.ip, 'same address');
  t.is(after.record.client.pid, client.pid, 'the same supervised client, not a new one');
  t.is(startTicks(client.pid), client.startTicks);
  t.is((await lab.waitForServerLease(before.ip, 'bound')).hwAddress, before.record.mac);

  // The container removed while the driver was down: released and its record gone once the driver is back.
  await lab.waitForServerLease(gone.ip, 'released', 15_000);
  await pollUntil('the removed container\'s record gone', async () => !(await lab.record(gone.record.key)), { timeoutMs: 10_000 });
  t.false((await lab.bridgeLinks()).includes(gone.record.hostVeth), 'its veth is gone from the bridge');

  const fresh = await run(network);
  const third = await adopted(lab, fresh);
  t.not(third.ip, before.ip);
  await lab.waitForServerLease(third.ip, 'bound');
});
