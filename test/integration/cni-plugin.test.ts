// The `leasehold` CNI plugin (bin/leasehold-cni) driven as a runtime drives
// it (test/harness/cni-runtime.ts: CNI_* environment, config on stdin),
// against a real `agent watch`, our DHCP server on a harness segment and
// udhcpc: plain named network namespaces play the containers
// (CNI_NETNS=/run/netns/<name>, and /proc/<pid>/ns/net). Needs root; no
// Docker containers.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import { controlSocketPath } from '../../agent/core/control-protocol.ts';
import { followsScheme } from '../../agent/core/mac.ts';
import { LATEST_VERSION, SUPPORTED_VERSIONS } from '../../agent/cni/cni-protocol.ts';
import { containerNetnsName, cniTargetId } from '../../agent/core/target.ts';
import { isAlive, LAB_OPTIONS, netnsList, PREFIX_LEN, SERVER_IP, uniqueBridgeName, useAgentLab, WORKER_IP, type AgentLab } from '../harness/agent.ts';
import { CniRuntime, type CniConflist } from '../harness/cni-runtime.ts';
import { sweepAround } from '../harness/fixture.ts';
import { ipBatch, SYSTEM_PATH } from '../harness/netns.ts';
import { pollUntil } from '../harness/poll.ts';
import { ourCommand, runCommand } from '../harness/run-command.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';

const PREFIX = 'lt-cni';
sweepAround(test, PREFIX);

// bin/leasehold-cni runs dist/: a stale build would test yesterday's plugin.
test.before(() => {
  if (!ourCommand('agent').built) throw new Error('dist/ is older than agent/: run `npx tsc -p tsconfig.json` first (bin/leasehold-cni runs the build)');
});

/** Named namespaces `lt-cni-<name>` as the runtime's container netns; removed after the lab's teardown (registered first, runs last). */
async function containerNetns(t: ExecutionContext, names: readonly string[]): Promise<string[]> {
  const full = names.map((n) => `${PREFIX}-${n}`);
  t.teardown(() => ipBatch(undefined, full.map((n) => `netns del ${n}`), true).catch(() => undefined));
  await ipBatch(undefined, full.map((n) => `netns add ${n}`), true);
  return full;
}

interface CniLab {
  lab: AgentLab;
  watch: TrackedProcess;
  runtime: CniRuntime;
  conflist: CniConflist;
}

async function cniLab(t: ExecutionContext, cniVersion = LATEST_VERSION, extra: Record<string, unknown> = {}): Promise<CniLab> {
  const lab = await useAgentLab(t, PREFIX, { bridge: uniqueBridgeName('ltcni') });
  const watch = await startWatch(lab);
  const conflist: CniConflist = {
    cniVersion,
    name: `lhnet-${randomBytes(3).toString('hex')}`,
    plugins: [{ type: 'leasehold', bridge: lab.bridge, bridgeNetns: lab.bridgeNetns, app: 'web', agentRunDir: lab.runDir, timeoutSeconds: 20, ...extra }],
  };
  return { lab, watch, runtime: new CniRuntime(conflist), conflist };
}

/** An `agent watch` on the lab's run dir, with a --worker nobody labels containers with; up once its control socket is. */
async function startWatch(lab: AgentLab): Promise<TrackedProcess> {
  const watch = await lab.startWatch(['--worker', `${PREFIX}-${randomBytes(4).toString('hex')}`]);
  await pollUntil('the control socket', () => existsSync(controlSocketPath(lab.runDir)), { timeoutMs: 5000, describe: () => watch.tail() });
  return watch;
}

async function ipIn(netns: string, ...args: string[]): Promise<string> {
  return (await ipBatchOut(netns, args)).trim();
}

function ipBatchOut(netns: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['-n', netns, ...args], { env: { ...process.env, PATH: SYSTEM_PATH } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`ip -n ${netns} ${args.join(' ')} exited ${code}`))));
  });
}

async function ipv4Of(netns: string, ifname: string): Promise<string[]> {
  const links = JSON.parse(await ipIn(netns, '-j', 'addr', 'show', 'dev', ifname)) as { addr_info: { family: string; local: string; prefixlen: number }[] }[];
  return links[0]!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

test('ADD gives the netns a DHCP address with the spec result; CHECK passes; an agent restart keeps the lease; DEL releases it at once, twice', async (t) => {
  const { lab, watch, runtime, conflist } = await cniLab(t);
  const [netns] = await containerNetns(t, ['c1']);
  const sandbox = `/run/netns/${netns}`;
  const containerId = `c1${randomBytes(8).toString('hex')}`;

  t.is((await runtime.status()).code, 0, 'STATUS: the agent serves ADD');
  const added = await runtime.add(containerId, sandbox);
  t.is(added.code, 0, added.stdout + added.stderr);
  const result = added.json as {
    cniVersion: string;
    interfaces: { name: string; mac?: string; sandbox?: string }[];
    ips: { address: string; gateway?: string; interface?: number; version?: string }[];
    routes: { dst: string; gw?: string }[];
    dns: { nameservers?: string[]; domain?: string; search?: string[] };
  };
  t.deepEqual(Object.keys(result).sort(), ['cniVersion', 'dns', 'interfaces', 'ips', 'routes']);
  t.is(result.cniVersion, '1.1.0');
  t.is(result.interfaces.length, 2);
  const [host, container] = result.interfaces;
  t.regex(host!.name, /^lh[0-9a-f]{12}$/);
  t.regex(host!.mac!, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  t.deepEqual(container, { name: 'eth0', mac: container!.mac, sandbox });
  t.true(followsScheme(container!.mac!, WORKER_IP), `MAC ${container!.mac} follows the worker's scheme`);
  t.is(result.ips.length, 1);
  const ip = result.ips[0]!;
  t.deepEqual(ip, { address: ip.address, gateway: SERVER_IP, interface: 1 }, '1.x: no "version" field');
  t.regex(ip.address, new RegExp(`^198\\.18\\.\\d+\\.\\d+/${PREFIX_LEN}$`));
  t.deepEqual(result.routes, [{ dst: '0.0.0.0/0', gw: SERVER_IP }]);
  t.deepEqual(result.dns, { nameservers: LAB_OPTIONS.dnsServers, domain: LAB_OPTIONS.domainName, search: LAB_OPTIONS.domainSearch });

  // Really there: the address on eth0 in the runtime's netns, the lease bound at the server to that MAC.
  t.deepEqual(await ipv4Of(netns!, 'eth0'), [ip.address]);
  const address = ip.address.split('/')[0]!;
  const lease = await lab.waitForServerLease(address, 'bound');
  t.is(lease.hwAddress, container!.mac!);
  t.true((await lab.bridgeLinks()).includes(host!.name));
  const key = cniTargetId(conflist.name, containerId, 'eth0');
  const named = containerNetnsName({ kind: 'cni', id: key });
  t.true((await netnsList()).includes(named), `the agent named the netns ${named}`);

  t.is((await runtime.check(containerId, sandbox)).code, 0, 'CHECK after ADD');

  // The agent goes away: STATUS says 50, the DHCP client (supervised, not the agent's child) keeps the lease.
  const record = (await lab.records()).find((r) => r.kind === 'cni')!;
  await watch.stop(5000);
  const down = await runtime.status();
  t.is(down.code, 1);
  t.is(down.json?.code, 50);
  t.regex(String(down.json?.msg), /leasehold agent is not running/);
  const addDown = await runtime.add(`x${containerId}`, sandbox, 'eth1');
  t.is(addDown.json?.code, 11, 'ADD without the agent: try again later');
  t.true(isAlive(record.client.pid), 'the DHCP client outlives the agent');

  // A new agent on the same run dir: nothing changed.
  await startWatch(lab);
  t.is((await runtime.status()).code, 0);
  t.is((await runtime.check(containerId, sandbox)).code, 0, 'CHECK after the agent restart');
  t.deepEqual(await ipv4Of(netns!, 'eth0'), [ip.address], 'same address after the agent restart');
  t.is((await lab.serverLease(address))?.state, 'bound');
  t.is((await lab.records()).find((r) => r.kind === 'cni')?.client.pid, record.client.pid, 'same client: no new DHCP exchange');

  // CHECK sees what was broken behind its back.
  await ipIn(netns!, 'addr', 'del', ip.address, 'dev', 'eth0');
  const broken = await runtime.check(containerId, sandbox);
  t.is(broken.code, 1);
  t.is(broken.json?.code, 100);
  t.regex(String(broken.json?.msg), new RegExp(`eth0 has no address ${ip.address.replace(/\./g, '\\.')}`));

  const del = await runtime.del(containerId, sandbox);
  t.is(del.code, 0, del.stdout + del.stderr);
  t.is(del.stdout, '', 'DEL prints nothing on success');
  await lab.waitForServerLease(address, 'released', 3000);
  t.false((await netnsList()).includes(named), 'the lhn- name is gone');
  t.true((await netnsList()).includes(netns!), "the runtime's netns is the runtime's: left");
  t.false((await lab.bridgeLinks()).includes(host!.name), 'no veth left on the bridge');
  t.deepEqual((await lab.records()).filter((r) => r.kind === 'cni'), []);
  t.false(isAlive(record.client.pid), 'the DHCP client is gone');

  const again = await runtime.del(containerId, sandbox);
  t.is(again.code, 0, 'DEL again succeeds');
  const noNetns = await runtime.del(containerId, undefined);
  t.is(noNetns.code, 0, 'DEL without CNI_NETNS succeeds');
});

test('the same container and interface get the same MAC and address back; a /proc/<pid>/ns/net path works; results at 0.4.0 tag the address version', async (t) => {
  const { lab, runtime } = await cniLab(t, '0.4.0');
  const [netns] = await containerNetns(t, ['c2']);
  // A process in the netns, as a runtime's sandbox holds it.
  const holder = spawn('ip', ['netns', 'exec', netns!, 'sleep', '600'], { stdio: 'ignore', env: { ...process.env, PATH: SYSTEM_PATH } });
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  await pollUntil('the sleeper in the netns', async () => existsSync(`/proc/${holder.pid}/ns/net`) && (await netnsInodeOf(holder.pid!)) === (await netnsInodeOfName(netns!)), { timeoutMs: 5000 });
  const sandbox = `/proc/${holder.pid}/ns/net`;
  const containerId = `c2${randomBytes(8).toString('hex')}`;

  const first = await runtime.add(containerId, sandbox);
  t.is(first.code, 0, first.stdout + first.stderr);
  const r1 = first.json as { cniVersion: string; ips: { version?: string; address: string }[]; interfaces: { mac?: string }[] };
  t.is(r1.cniVersion, '0.4.0');
  t.is(r1.ips[0]!.version, '4');
  t.is((await runtime.del(containerId, sandbox)).code, 0);
  await lab.waitForServerLease(r1.ips[0]!.address.split('/')[0]!, 'released', 3000);

  const second = await runtime.add(containerId, sandbox);
  t.is(second.code, 0, second.stdout + second.stderr);
  const r2 = second.json as typeof r1;
  t.is(r2.interfaces[1]!.mac, r1.interfaces[1]!.mac, 'stable MAC');
  t.is(r2.ips[0]!.address, r1.ips[0]!.address, 'same address');
  t.is((await runtime.del(containerId, sandbox)).code, 0);
});

async function netnsInodeOf(pid: number): Promise<number | undefined> {
  const { stat } = await import('node:fs/promises');
  return (await stat(`/proc/${pid}/ns/net`).catch(() => undefined))?.ino;
}

async function netnsInodeOfName(name: string): Promise<number | undefined> {
  const { stat } = await import('node:fs/promises');
  return (await stat(`/run/netns/${name}`).catch(() => undefined))?.ino;
}

test('GC releases what cni.dev/valid-attachments does not list and keeps the rest; GC below 1.1.0 is refused', async (t) => {
  const { lab, runtime, conflist } = await cniLab(t);
  const [n1, n2] = await containerNetns(t, ['g1', 'g2']);
  const keep = `g1${randomBytes(8).toString('hex')}`;
  const drop = `g2${randomBytes(8).toString('hex')}`;
  const a1 = await runtime.add(keep, `/run/netns/${n1}`);
  const a2 = await runtime.add(drop, `/run/netns/${n2}`);
  t.is(a1.code, 0, a1.stdout);
  t.is(a2.code, 0, a2.stdout);
  const ipOf = (o: typeof a1) => ((o.json as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!);

  const gc = await runtime.gc([{ containerID: keep, ifname: 'eth0' }]);
  t.is(gc.code, 0, gc.stdout + gc.stderr);
  t.is(gc.stdout, '');
  await lab.waitForServerLease(ipOf(a2), 'released', 3000);
  t.is((await lab.serverLease(ipOf(a1)))?.state, 'bound', 'the listed attachment keeps its lease');
  t.deepEqual(await ipv4Of(n1!, 'eth0'), [`${ipOf(a1)}/${PREFIX_LEN}`]);
  t.deepEqual((await lab.records()).filter((r) => r.kind === 'cni').map((r) => r.targetId), [cniTargetId(conflist.name, keep, 'eth0')]);

  const old = new CniRuntime({ ...conflist, cniVersion: '1.0.0' });
  const refused = await old.gc([]);
  t.is(refused.json?.code, 1);
  t.regex(String(refused.json?.msg), /config version 1\.0\.0 does not allow GC/);
  t.is((await lab.records()).filter((r) => r.kind === 'cni').length, 1, 'nothing released by the refused GC');

  t.is((await runtime.gc([])).code, 0, 'GC with nothing valid');
  await lab.waitForServerLease(ipOf(a1), 'released', 3000);
});

test('bad input: the spec error object with a clear msg, and nothing made', async (t) => {
  const { lab, runtime, conflist } = await cniLab(t);
  const [netns] = await containerNetns(t, ['b1']);
  const sandbox = `/run/netns/${netns}`;
  const namesBefore = await netnsList();
  const linksBefore = await lab.bridgeLinks();
  const plugin = conflist.plugins[0]!;
  const run = (cfg: Record<string, unknown>, env: Record<string, string>, command = 'ADD') =>
    runtime.exec(command, cfg, { CNI_CONTAINERID: 'b1abc', CNI_IFNAME: 'eth0', CNI_NETNS: sandbox, ...env }, {});

  const cases: [string, Promise<Awaited<ReturnType<typeof run>>>, number, RegExp][] = [
    ['missing bridge', run({ ...plugin, bridge: undefined }, {}), 7, /^bridge: missing/],
    ['unknown key', run({ ...plugin, brigde: 'br0' }, {}), 2, /^brigde: not a leasehold plugin key \(value "br0"/],
    ['ipam given', run({ ...plugin, ipam: { type: 'dhcp' } }, {}), 2, /^ipam: leasehold gets its address by DHCP itself/],
    ['netns missing', run(plugin, { CNI_NETNS: `/run/netns/${PREFIX}-not-there` }), 3, /^CNI_NETNS \/run\/netns\/lt-cni-not-there does not exist$/],
    ['no such bridge', run({ ...plugin, bridge: 'nobr0' }, {}), 7, /^no bridge nobr0 in netns /],
    ['bridge netns missing', run({ ...plugin, bridgeNetns: `${PREFIX}-nons` }, {}), 7, /^bridge netns lt-cni-nons does not exist$/],
    ['ifname missing', run(plugin, { CNI_IFNAME: '' }), 4, /^ADD needs CNI_IFNAME: not set$/],
    ['bad command', run(plugin, {}, 'FROB'), 4, /^CNI_COMMAND "FROB" is not one of/],
    ['bad version', runtime.exec('ADD', { ...plugin, cniVersion: '9.9.9' }, { CNI_CONTAINERID: 'b1abc', CNI_IFNAME: 'eth0', CNI_NETNS: sandbox }, {}, JSON.stringify({ ...plugin, name: conflist.name, cniVersion: '9.9.9' })), 1, /^cniVersion 9\.9\.9 is not supported/],
    ['not JSON', runtime.exec('ADD', plugin, { CNI_CONTAINERID: 'b1abc', CNI_IFNAME: 'eth0', CNI_NETNS: sandbox }, {}, '{nope'), 6, /^the network configuration on stdin is not JSON/],
  ];
  for (const [what, outcome, code, msg] of cases) {
    const o = await outcome;
    t.is(o.code, 1, `${what}: exit 1`);
    t.is(o.json?.code, code, `${what}: code (${o.stdout.trim()})`);
    t.regex(String(o.json?.msg), msg, what);
    t.is(typeof o.json?.cniVersion, 'string', `${what}: cniVersion in the error object`);
  }
  t.deepEqual(await netnsList(), namesBefore, 'no netns name made');
  t.deepEqual(await lab.bridgeLinks(), linksBefore, 'no link made');
  t.deepEqual(await lab.records(), [], 'no record made');

  const version = await runtime.exec('VERSION', plugin, {}, {});
  t.is(version.code, 0);
  t.deepEqual(version.json, { cniVersion: LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] });
});

test('a 1.0.0 chain leasehold → tuning (Debian containernetworking-plugins): ADD hands our result on as prevResult, tuning sets MTU and a sysctl in the container netns, CHECK and DEL run through both; K8S_POD_NAME/NAMESPACE name the lease', async (t) => {
  // No `app` in the config: the pod's namespace is the app.
  const { lab, conflist } = await cniLab(t, '1.0.0', { app: undefined });
  const chain: CniConflist = { ...conflist, plugins: [...conflist.plugins, { type: 'tuning', mtu: 1400, sysctl: { 'net.ipv4.conf.eth0.arp_notify': '1' } }] };
  const runtime = new CniRuntime(chain);
  const [netns] = await containerNetns(t, ['k1']);
  const sandbox = `/run/netns/${netns}`;
  const containerId = `k1${randomBytes(8).toString('hex')}`;
  // As containerd's CRI plugin passes them (IgnoreUnknown: the reference plugins refuse unknown args otherwise).
  const podArgs = { CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=${containerId}` };

  const added = await runtime.add(containerId, sandbox, 'eth0', podArgs);
  t.is(added.code, 0, added.stdout + added.stderr);
  const result = added.json as { cniVersion: string; interfaces: { name: string; mac?: string; sandbox?: string }[]; ips: { address: string; version?: string; interface?: number }[] };
  t.is(result.cniVersion, '1.0.0', "tuning's output, our result passed through it");
  t.is(result.interfaces[1]?.name, 'eth0');
  t.is(result.interfaces[1]?.sandbox, sandbox);
  t.is(result.ips[0]?.version, undefined, '1.0.0: no "version" field');
  t.is(result.ips[0]?.interface, 1);
  const address = result.ips[0]!.address;
  t.deepEqual(await ipv4Of(netns!, 'eth0'), [address]);

  // tuning's work, in the container's netns only.
  const link = JSON.parse(await ipIn(netns!, '-j', 'link', 'show', 'dev', 'eth0')) as { mtu: number; address: string }[];
  t.is(link[0]!.mtu, 1400);
  t.is(link[0]!.address, result.interfaces[1]!.mac!, 'tuning left our MAC alone');
  t.is(await sysctlIn(netns!, 'net.ipv4.conf.eth0.arp_notify'), '1');

  // The pod's identity: hostname web-0 at the server, FQDN under its namespace.
  const record = (await lab.records()).find((r) => r.kind === 'cni')!;
  t.is(record.hostname, 'web-0');
  t.is(record.fqdn, 'web-0.shop');
  const lease = await lab.waitForServerLease(address.split('/')[0]!, 'bound');
  t.is(lease.hostname, 'web-0');

  t.is((await runtime.check(containerId, sandbox)).code, 0, 'CHECK through the chain');
  await ipIn(netns!, 'link', 'set', 'dev', 'eth0', 'mtu', '1500');
  const drifted = await runtime.check(containerId, sandbox);
  t.is(drifted.code, 1, "tuning's CHECK sees its MTU undone");

  const del = await runtime.del(containerId, sandbox);
  t.is(del.code, 0, del.stdout + del.stderr);
  await lab.waitForServerLease(address.split('/')[0]!, 'released', 3000);
  t.deepEqual((await lab.records()).filter((r) => r.kind === 'cni'), []);
  t.is((await runtime.del(containerId, sandbox)).code, 0, 'DEL again through the chain');
});

test('a K8S_POD_NAME with dots (a legal Kubernetes name, not one DNS label): the pod is attached and published under its sandbox id, stderr says why; a bad namespace is refused before anything is made', async (t) => {
  const { lab, runtime } = await cniLab(t, undefined, { app: undefined });
  const [netns, refusedNetns] = await containerNetns(t, ['k2', 'k3']);
  const sandbox = `/run/netns/${netns}`;
  const containerId = `k2${randomBytes(8).toString('hex')}`;

  const added = await runtime.add(containerId, sandbox, 'eth0', { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web.v1' });
  t.is(added.code, 0, added.stdout + added.stderr);
  t.regex(added.stderr, /leasehold: CNI_ARGS K8S_POD_NAME "web\.v1" is not one DNS label: the pod is published under its sandbox id/);
  const record = (await lab.records()).find((r) => r.kind === 'cni')!;
  t.regex(String(record.hostname), /^[a-z0-9][a-z0-9-]{0,62}$/, 'one label');
  t.false(String(record.hostname).startsWith('web'), 'not a label made from the dotted pod name');
  t.is(record.fqdn, `${record.hostname}.shop`, 'still under its namespace');
  const address = (added.json as { ips: { address: string }[] }).ips[0]!.address;
  t.is((await lab.waitForServerLease(address.split('/')[0]!, 'bound')).hostname, record.hostname);
  t.is((await runtime.del(containerId, sandbox)).code, 0);
  await lab.waitForServerLease(address.split('/')[0]!, 'released', 3000);

  const linksBefore = await lab.bridgeLinks();
  const refused = await runtime.add('k3abc', `/run/netns/${refusedNetns}`, 'eth0', { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=kube_system;K8S_POD_NAME=web-0' });
  t.is(refused.code, 1);
  t.is(refused.json?.code, 4);
  t.regex(String(refused.json?.msg), /^CNI_ARGS K8S_POD_NAMESPACE "kube_system": not a DNS label/);
  t.deepEqual(await lab.bridgeLinks(), linksBefore);
  t.deepEqual(await lab.records(), []);
});

async function sysctlIn(netns: string, key: string): Promise<string> {
  const r = await runCommand(['ip', 'netns', 'exec', netns, 'sysctl', '-n', key]);
  if (r.code !== 0) throw new Error(`sysctl -n ${key} in ${netns}: exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}
