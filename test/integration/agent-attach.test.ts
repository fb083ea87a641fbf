// The agent's attach, inspect and detach with real Docker containers (run
// with --net none) against our DHCP server: what the JSON says, what the
// container sees, and that a detach leaves nothing behind. Needs root and
// `make docker`; the agent runs built when dist/ is fresh, else from source.
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { generateMac, parseMac } from '../../agent/core/mac.ts';
import type { InspectJson } from '../../agent/core/attachment.ts';
import {
  isAlive,
  jsonOf,
  LAB_OPTIONS,
  LEASE_SECONDS,
  netnsList,
  PREFIX_LEN,
  SERVER_IP,
  SLAAC_PREFIX,
  useAgentLab,
  WORKER_IP,
} from '../harness/agent.ts';
import { TEST_IMAGES, useContainers, type NetNoneContainer } from '../harness/docker.ts';
import { sweepAround } from '../harness/fixture.ts';
import { eui64Address } from '../harness/ra-lab.ts';

const PREFIX = 'lt-ag-a';
sweepAround(test, PREFIX);
const containers = useContainers(test);
const SLEEP = ['sleep', '600'];

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function inPool(ip: string): boolean {
  const n = ipToNumber(ip);
  return n >= ipToNumber('198.18.1.0') && n <= ipToNumber('198.18.3.255');
}

/** What a container itself sees: its eth0 addresses, its routes, its resolv.conf. */
async function insideView(c: NetNoneContainer) {
  const run = async (argv: string[]) => {
    const r = await c.exec(argv);
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} in ${c.shortId}: exit ${r.exitCode}: ${r.stderr}`);
    return r.stdout;
  };
  const addr = await run(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  const routes = (await run(['ip', '-4', 'route', 'show'])).split('\n').filter(Boolean);
  const resolvConf = await run(['cat', '/etc/resolv.conf']);
  return { ipv4: [...addr.matchAll(/inet (\S+)/g)].map((m) => m[1]), routes, resolvConf };
}

test('attach gives a container a lease from our server, and the JSON says so', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP, labels: { 'leasehold.app': 'web' } });
  const before = Date.now();
  const json = await lab.attach(c.id);
  const n = json.NetworkSettings;

  t.is(json.Container, c.shortId);
  t.regex(json.Container, /^[0-9a-f]{12}$/);
  t.is(json.Name, c.name);
  t.true(inPool(n.IPAddress), `${n.IPAddress} is in the server's pool`);
  t.is(n.IPPrefixLen, PREFIX_LEN);
  t.is(n.Gateway, LAB_OPTIONS.routers[0]);
  t.deepEqual(n.DNS, LAB_OPTIONS.dnsServers);
  t.is(n.Bridge, 'br0');
  t.is(n.HostVeth, `lh${c.shortId}`);
  t.is(n.Netns, `lhc-${c.shortId}`);
  // The MAC scheme: XX:IP:IP:IP:YY:ZZ, XX unicast and locally administered.
  const mac = parseMac(n.HWAddr);
  t.is(mac[0] & 0x03, 0x02, `${n.HWAddr}: low bits of the first octet are 10`);
  t.deepEqual(mac.slice(1, 4), WORKER_IP.split('.').slice(1).map(Number));
  t.true(n.DHCP_PID > 0 && isAlive(n.DHCP_PID), 'the DHCP client runs');
  t.regex(await readFile(`/proc/${n.DHCP_PID}/cmdline`, 'latin1'), /udhcpc/);
  t.is(n.FQDN, `${c.shortId}.web.${LAB_OPTIONS.domainName}`);
  const expires = Date.parse(n.LeaseExpires);
  t.true(Math.abs(expires - (before + LEASE_SECONDS * 1000)) < 10_000, `LeaseExpires ${n.LeaseExpires} is about now + ${LEASE_SECONDS} s`);
  t.is(n.GlobalIPv6Address, '', 'no RA on this segment');

  // The server agrees: this MAC, this address, the container's host name.
  const lease = await lab.serverLease(n.IPAddress);
  t.like(lease, { state: 'bound', hwAddress: n.HWAddr, hostname: c.shortId });

  // The container's own view.
  const inside = await insideView(c);
  t.deepEqual(inside.ipv4, [`${n.IPAddress}/${PREFIX_LEN}`]);
  const defaults = inside.routes.filter((r) => r.startsWith('default'));
  t.deepEqual(defaults.map((r) => r.split(/\s+/).slice(0, 5).join(' ')), [`default via ${SERVER_IP} dev eth0`], 'exactly one default route');
  t.regex(inside.resolvConf, new RegExp(`^nameserver ${LAB_OPTIONS.dnsServers[0].replaceAll('.', '\\.')}$`, 'm'));
  t.regex(inside.resolvConf, new RegExp(`^search ${LAB_OPTIONS.domainSearch.join(' ')}$`, 'm'));
  const ping = await c.exec(['ping', '-c', '1', '-W', '5', SERVER_IP]);
  t.is(ping.exitCode, 0, `ping ${SERVER_IP}: ${ping.stdout}${ping.stderr}`);
});

test('--app wins over the leasehold.app label, and --wait-ipv6 reports the SLAAC address (EUI-64 of the MAC)', async (t) => {
  const lab = await useAgentLab(t, PREFIX, { ra: true });
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP, labels: { 'leasehold.app': 'web' } });
  const json = await lab.attach(c.name, ['--app', 'shop', '--wait-ipv6', '--timeout', '30']);
  const n = json.NetworkSettings;
  t.is(n.FQDN, `${c.shortId}.shop.${LAB_OPTIONS.domainName}`);
  t.true(inPool(n.IPAddress));
  t.is(n.GlobalIPv6Address, eui64Address(SLAAC_PREFIX, n.HWAddr));
  t.is(n.GlobalIPv6PrefixLen, 64);
  const v6 = await c.exec(['ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global']);
  t.regex(v6.stdout, new RegExp(`inet6 ${n.GlobalIPv6Address}/64`));
});

test('inspect --all lists every attachment; inspect finds one by name and by id prefix; attach again changes nothing', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const a = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const b = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const ja = await lab.attach(a.id);
  const jb = await lab.attach(b.shortId);
  t.not(ja.NetworkSettings.IPAddress, jb.NetworkSettings.IPAddress);
  t.not(ja.NetworkSettings.HWAddr, jb.NetworkSettings.HWAddr);

  const all = await lab.inspectAll();
  t.deepEqual(all.map((j) => j.Container).sort(), [a.shortId, b.shortId].sort());
  const byContainer = new Map(all.map((j) => [j.Container, j]));
  t.deepEqual(byContainer.get(a.shortId), ja);
  t.deepEqual(byContainer.get(b.shortId), jb);

  t.deepEqual(jsonOf<InspectJson>(await lab.run(['inspect', a.name])), ja);
  t.deepEqual(jsonOf<InspectJson>(await lab.run(['inspect', b.id.slice(0, 6)])), jb);
  t.deepEqual(jsonOf<InspectJson>(await lab.run(['inspect', b.id])), jb);

  // attach is idempotent: again, it reports the attachment it has, and makes nothing new.
  const links = await lab.bridgeLinks();
  const again = await lab.attach(a.name);
  t.is(again.NetworkSettings.IPAddress, ja.NetworkSettings.IPAddress);
  t.is(again.NetworkSettings.DHCP_PID, ja.NetworkSettings.DHCP_PID);
  t.deepEqual(await lab.bridgeLinks(), links);

  const missing = await lab.run(['inspect', 'lt-ag-not-there']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^agent: not attached: lt-ag-not-there\n$/);
});

test('detach releases the lease and leaves no veth, netns name, state, client or resolv.conf change', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const resolvBefore = await readFile(c.resolvConfPath, 'utf8');
  const linksBefore = await lab.bridgeLinks();
  const json = await lab.attach(c.id);
  const n = json.NetworkSettings;
  t.true((await lab.bridgeLinks()).includes(n.HostVeth));
  t.true((await netnsList()).includes(n.Netns));
  t.not(await readFile(c.resolvConfPath, 'utf8'), resolvBefore, 'the hook wrote the container\'s resolv.conf');

  const detached = jsonOf<InspectJson>(await lab.run(['detach', c.name]));
  t.is(detached.NetworkSettings.IPAddress, n.IPAddress, 'detach prints the attachment it removed');

  await lab.waitForServerLease(n.IPAddress, 'released');
  t.deepEqual(await lab.bridgeLinks(), linksBefore, 'no veth left on the worker');
  t.false((await netnsList()).includes(n.Netns), 'no lhc- netns name left');
  t.deepEqual(await lab.stateFiles(), [], 'no state files left');
  t.false(isAlive(n.DHCP_PID), 'the DHCP client is gone');
  t.deepEqual(lab.clients(), []);
  t.is(await readFile(c.resolvConfPath, 'utf8'), resolvBefore, 'resolv.conf is as Docker wrote it');
  const inside = await c.exec(['ip', '-o', 'link', 'show']);
  t.deepEqual([...inside.stdout.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]), ['lo'], 'only lo left in the container');

  // A second detach is an error, not a crash.
  const again = await lab.run(['detach', c.name]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^agent: not attached: /);
});

test('stable MAC scheme: detach and attach again give the same MAC and the same address', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const first = await lab.attach(c.id, ['--mac-scheme', 'stable']);
  t.is(first.NetworkSettings.HWAddr, generateMac({ workerIpv4: WORKER_IP, scheme: 'stable', targetId: c.id, attempt: 0 }));
  // The container talks to the worker itself: the worker's neighbour table now knows its MAC.
  const ping = await c.exec(['ping', '-c', '1', '-W', '5', WORKER_IP]);
  t.is(ping.exitCode, 0, `ping ${WORKER_IP}: ${ping.stdout}${ping.stderr}`);
  jsonOf(await lab.run(['detach', c.id]));
  await lab.waitForServerLease(first.NetworkSettings.IPAddress, 'released');

  const second = await lab.attach(c.id, ['--mac-scheme', 'stable']);
  t.is(second.NetworkSettings.HWAddr, first.NetworkSettings.HWAddr);
  t.is(second.NetworkSettings.IPAddress, first.NetworkSettings.IPAddress);
  t.like(await lab.serverLease(second.NetworkSettings.IPAddress), { state: 'bound', hwAddress: first.NetworkSettings.HWAddr });
});
