// The agent's attach, detach and release on fakes of its edges
// (helpers/agent-fakes.ts), no root: a failure at each step of an attach
// undoes exactly the steps before it, last first; what an attach finds
// already made as wanted counts as made (and is not undone), what is there
// but not as wanted is the error it always was, with nothing touched; a
// release finds what is gone already done.
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { LeaseholdError } from '../../lib/core/errors.ts';
import { AttachError } from '../../agent/app/agent.ts';
import { followsScheme, generateMac } from '../../agent/core/mac.ts';
import type { AttachRequest } from '../../agent/core/requests.ts';
import { BRIDGE, BRIDGE_NS, createWorld, WORKER_IP, type World } from './helpers/agent-fakes.ts';

const ID = '4b94d0da2047' + 'c'.repeat(52);
const SHORT = ID.slice(0, 12);
const NETNS = `lhc-${SHORT}`;
const VETH = `lh${SHORT}`;
const KEY = `docker-${SHORT}`;
const PID = 4242;
const ORIGINAL_RESOLV = '# Docker\'s\nnameserver 10.0.0.1\n';
/** A netns name made or removed. */
const NETNS_CHANGE = /^(✗ )?(name|delete) netns /;
const SLAAC_SYSCTLS = `sysctls ${NETNS} disable_ipv6=0,accept_ra=1,autoconf=1,addr_gen_mode=0,use_tempaddr=0`;

interface Container {
  nsId: number;
  resolvConf: string;
}

async function addContainer(w: World): Promise<Container> {
  const nsId = w.network.addProcess(PID);
  const resolvConf = join(w.dir, 'resolv.conf');
  await writeFile(resolvConf, ORIGINAL_RESOLV);
  w.engine.add({ id: ID, name: 'web1', pid: PID, resolvConfPath: resolvConf });
  return { nsId, resolvConf };
}

const request = (over: Partial<AttachRequest> = {}): AttachRequest => ({
  container: ID,
  bridge: BRIDGE,
  bridgeNetns: BRIDGE_NS,
  ifname: 'eth0',
  macScheme: 'random',
  ipv6: 'slaac',
  waitIpv6: false,
  timeoutMs: 200,
  ...over,
});

async function stateFiles(w: World): Promise<string[]> {
  return (await readdir(join(w.runDir, 'attachments'))).sort();
}

/** Nothing of the attach is left: no netns name, no veth on either side, no state, no client, resolv.conf as it was. */
async function assertUntouched(t: ExecutionContext, w: World, c: Container): Promise<void> {
  t.false(w.network.names.has(NETNS), 'no netns name');
  t.deepEqual(w.network.linkNamesIn(w.network.nsId(BRIDGE_NS)), [BRIDGE, 'lo'], 'no veth on the bridge');
  t.deepEqual(w.network.linkNamesIn(c.nsId), ['lo'], 'no interface in the container');
  t.deepEqual(await stateFiles(w), [], 'no state');
  t.deepEqual([...w.clients.running], [], 'no client');
  t.is(await readFile(c.resolvConf, 'utf8'), ORIGINAL_RESOLV, 'resolv.conf as Docker wrote it');
  t.false(w.logLines.some((l) => l.includes('undo-failed')), 'every undo worked');
}

// What each step of a container attach does, and what undoes it.
const CLIENT_PID = 5000;
const STEPS = [
  { step: 'netns name', does: [`name netns ${NETNS}`], undoes: [`delete netns ${NETNS}`] },
  { step: 'veth', does: [`create veth ${VETH}`], undoes: [`delete link ${VETH}`] },
  { step: 'interface sysctls', does: [SLAAC_SYSCTLS, `set up ${NETNS} lo`], undoes: [] },
  { step: 'state record', does: [`write record ${KEY}`], undoes: [`remove record ${KEY}`] },
  { step: 'resolv.conf', does: [`back up resolv.conf ${KEY}`], undoes: [`restore resolv.conf ${KEY}`] },
  { step: 'DHCP client', does: [`start client ${KEY}`, `write record ${KEY}`], undoes: [`stop client ${CLIENT_PID}`] },
];
const before = (i: number) => STEPS.slice(0, i);
const undoneAfter = (i: number) => before(i).reverse().flatMap((s) => s.undoes);

test('a container attach: the steps in order, then the lease; the record says what was made', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  const json = await w.agent.attach(request());
  t.deepEqual(w.journal.lines, STEPS.flatMap((s) => s.does));
  t.is(json.NetworkSettings.IPAddress, '198.18.1.7');
  t.is(json.NetworkSettings.DHCP_PID, CLIENT_PID);
  t.true(followsScheme(json.NetworkSettings.HWAddr, WORKER_IP));
  t.is(w.network.names.get(NETNS), c.nsId);
  t.deepEqual(w.network.linkNamesIn(c.nsId), ['eth0', 'lo']);
  const record = JSON.parse(await readFile(join(w.runDir, 'attachments', `${KEY}.json`), 'utf8'));
  t.like(record, { key: KEY, netns: NETNS, ownsNetns: true, hostVeth: VETH, mac: json.NetworkSettings.HWAddr, client: { pid: CLIENT_PID }, createdAt: '2023-11-14T22:13:20.000Z' });
});

for (const [i, { step }] of STEPS.entries()) {
  const failing = step === 'DHCP client' ? 'start client' : STEPS[i].does[0].split(' ').slice(0, 2).join(' ');
  test(`a failure at step ${i + 1} (${step}) undoes exactly steps 1–${i}, last first, and reports one error`, async (t) => {
    const w = await createWorld(t);
    const c = await addContainer(w);
    w.journal.failNext(failing);
    const err = await t.throwsAsync(w.agent.attach(request()), { instanceOf: AttachError });
    t.is(err!.code, 'E_ATTACH');
    t.is(err!.message, `attach web1: ${failing}: injected failure`);
    const failed = STEPS[i].does.map((line, k) => (k === 0 ? `✗ ${line}` : line)).filter((line) => !(step === 'DHCP client' && line.startsWith('write')));
    t.deepEqual(w.journal.lines, [...before(i).flatMap((s) => s.does), ...failed, ...undoneAfter(i)]);
    await assertUntouched(t, w, c);
  });
}

test('a failure recording the started client stops that client, then undoes the steps before', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  w.journal.failNext('write record', { skip: 1 });
  await t.throwsAsync(w.agent.attach(request()), { instanceOf: AttachError, message: /write record: injected failure/ });
  t.deepEqual(w.journal.lines, [
    ...before(5).flatMap((s) => s.does),
    `start client ${KEY}`, `✗ write record ${KEY}`, `stop client ${CLIENT_PID}`,
    ...undoneAfter(5),
  ]);
  await assertUntouched(t, w, c);
});

test('no lease within the timeout: every step is undone, the client first', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  w.clients.behaviour = 'no-lease';
  await t.throwsAsync(w.agent.attach(request({ timeoutMs: 3000 })), { instanceOf: AttachError, message: 'no DHCP lease for web1 within 3 s (is a DHCP server on br0?)' });
  t.deepEqual(w.journal.lines, [...STEPS.flatMap((s) => s.does), ...undoneAfter(STEPS.length)]);
  await assertUntouched(t, w, c);
});

test('a client that exits before its lease: the error says so, every step is undone', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  w.clients.behaviour = 'exits';
  await t.throwsAsync(w.agent.attach(request()), { instanceOf: AttachError, message: 'the DHCP client of web1 exited: no output' });
  await assertUntouched(t, w, c);
});

test('an undo that fails is logged and the others still run', async (t) => {
  const w = await createWorld(t);
  await addContainer(w);
  w.clients.behaviour = 'no-lease';
  w.journal.failNext('delete link');
  await t.throwsAsync(w.agent.attach(request()), { message: /no DHCP lease/ });
  t.deepEqual(w.journal.lines.slice(-5), [`stop client ${CLIENT_PID}`, `restore resolv.conf ${KEY}`, `remove record ${KEY}`, `✗ delete link ${VETH}`, `delete netns ${NETNS}`]);
  t.true(w.logLines.some((l) => /"event":"undo-failed".*"step":"veth".*injected failure/.test(l)));
});

test('SLAAC off: the one sysctl that turns IPv6 off', async (t) => {
  const w = await createWorld(t);
  await addContainer(w);
  await w.agent.attach(request({ ipv6: 'off' }));
  t.true(w.journal.lines.includes(`sysctls ${NETNS} disable_ipv6=1`));
});

// ---------------------------------------------------------------------------
// Already there: as wanted counts as made; not as wanted is an error, nothing touched.

test('a netns name already naming the container\'s netns is kept, not made again, and not removed by a failed attach', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  w.network.names.set(NETNS, c.nsId);
  w.clients.behaviour = 'no-lease';
  await t.throwsAsync(w.agent.attach(request()), { message: /no DHCP lease/ });
  t.false(w.journal.lines.some((l) => NETNS_CHANGE.test(l)), w.journal.lines.join('\n'));
  t.is(w.network.names.get(NETNS), c.nsId, 'the name this attach did not make is still there');
});

test('a stale netns name (another netns, left by a crashed agent) is replaced, and that is undone', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  w.network.names.set(NETNS, w.network.addNamespace());
  await w.agent.attach(request());
  t.deepEqual(w.journal.lines.slice(0, 2), [`delete netns ${NETNS}`, `name netns ${NETNS}`]);
  t.is(w.network.names.get(NETNS), c.nsId);
});

test('a veth pair an earlier attach of this target made (it stopped before its record) is taken as it is: not made again, not removed on failure', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  w.network.names.set(NETNS, c.nsId);
  const mac = generateMac({ workerIpv4: WORKER_IP, scheme: 'random', targetId: ID, attempt: 0, randomBytes: Buffer.from([1, 2, 3]) });
  w.network.addVethPair(BRIDGE_NS, VETH, BRIDGE, c.nsId, 'eth0', mac);
  const json = await w.agent.attach(request());
  t.is(json.NetworkSettings.HWAddr, mac, 'its MAC, not a new one');
  t.deepEqual(w.journal.lines.filter((l) => /veth|link/.test(l) || NETNS_CHANGE.test(l)), [], 'no veth or netns change');
  t.true(w.journal.lines.includes(SLAAC_SYSCTLS), 'its settings are made sure of all the same');

  await w.agent.detach({ container: ID });
  t.false(w.network.linkNamesIn(c.nsId).includes('eth0'), 'and a detach removes it like any other');

  // The same again, failing: what the attach did not make stays.
  w.network.names.set(NETNS, c.nsId);
  w.network.addVethPair(BRIDGE_NS, VETH, BRIDGE, c.nsId, 'eth0', mac);
  w.clients.behaviour = 'no-lease';
  await t.throwsAsync(w.agent.attach(request()), { message: /no DHCP lease/ });
  t.deepEqual(w.network.linkNamesIn(c.nsId), ['eth0', 'lo']);
  t.true(w.network.names.has(NETNS));
});

test('--mac and the stable scheme: an existing pair is taken only with the MAC they give', async (t) => {
  for (const [over, fits] of [
    [{ mac: '02:00:00:00:00:07' }, '02:00:00:00:00:07'],
    [{ macScheme: 'stable' as const }, generateMac({ workerIpv4: WORKER_IP, scheme: 'stable', targetId: ID, attempt: 0 })],
  ] as const) {
    for (const found of [fits, '02:00:00:00:00:99']) {
      const w = await createWorld(t);
      const c = await addContainer(w);
      w.network.names.set(NETNS, c.nsId);
      w.network.addVethPair(BRIDGE_NS, VETH, BRIDGE, c.nsId, 'eth0', found);
      const attempt = w.agent.attach(request(over));
      if (found === fits) t.is((await attempt).NetworkSettings.HWAddr, fits);
      else await t.throwsAsync(attempt, { instanceOf: AttachError, message: 'eth0 already exists in the container' });
    }
  }
});

for (const [what, setUp] of [
  ['an eth0 in the container that is no veth of ours (another agent\'s, say)', (w: World, c: Container) => w.network.addVethPair(BRIDGE_NS, 'lhother', BRIDGE, c.nsId, 'eth0', '02:12:00:0b:00:01')],
  ['our veth pair, but its eth0 has an address (a client runs on it)', (w: World, c: Container) => w.network.addVethPair(BRIDGE_NS, VETH, BRIDGE, c.nsId, 'eth0', '02:12:00:0b:00:01', ['198.18.1.9'])],
  ['our veth pair, but the bridge has seen its MAC', (w: World, c: Container) => {
    w.network.addVethPair(BRIDGE_NS, VETH, BRIDGE, c.nsId, 'eth0', '02:12:00:0b:00:01');
    w.network.macsSeen.add('02:12:00:0b:00:01');
  }],
  ['our veth pair on another bridge', (w: World, c: Container) => {
    w.network.addBridge(BRIDGE_NS, 'br1');
    w.network.addVethPair(BRIDGE_NS, VETH, 'br1', c.nsId, 'eth0', '02:12:00:0b:00:01');
  }],
  ['our veth pair with a MAC of another worker', (w: World, c: Container) => w.network.addVethPair(BRIDGE_NS, VETH, BRIDGE, c.nsId, 'eth0', '02:12:00:0c:00:01')],
] as const) {
  test(`not as wanted, an error and nothing touched: ${what}`, async (t) => {
    const w = await createWorld(t);
    const c = await addContainer(w);
    w.network.names.set(NETNS, c.nsId);
    setUp(w, c);
    const links = { bridge: w.network.linkNamesIn(w.network.nsId(BRIDGE_NS)), container: w.network.linkNamesIn(c.nsId) };
    await t.throwsAsync(w.agent.attach(request()), { instanceOf: AttachError, message: 'eth0 already exists in the container' });
    t.deepEqual(w.journal.lines, [], 'no change at all');
    t.deepEqual({ bridge: w.network.linkNamesIn(w.network.nsId(BRIDGE_NS)), container: w.network.linkNamesIn(c.nsId) }, links);
    t.is(w.network.names.get(NETNS), c.nsId, 'the netns name (that attachment\'s) is left alone');
  });
}

test('an eth0 in the container and no netns name of ours: refused before the name is touched', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  w.network.addVethPair(BRIDGE_NS, VETH, BRIDGE, c.nsId, 'eth0', '02:12:00:0b:00:01');
  await t.throwsAsync(w.agent.attach(request()), { message: 'eth0 already exists in the container' });
  t.deepEqual(w.journal.lines, []);
  t.false(w.network.names.has(NETNS));
});

test('a host veth of our name whose peer is elsewhere: the error of old, and the netns name made for it undone', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  w.network.addVethPair(BRIDGE_NS, VETH, BRIDGE, w.network.addNamespace(), 'eth0', '02:12:00:0b:00:01');
  await t.throwsAsync(w.agent.attach(request()), { instanceOf: AttachError, message: `link ${VETH} already exists (left by another attach of web1?); run agent gc` });
  t.deepEqual(w.journal.lines, [`name netns ${NETNS}`, `create veth ${VETH}`, `delete netns ${NETNS}`]);
  t.true(w.network.linkNamesIn(w.network.nsId(BRIDGE_NS)).includes(VETH), 'the link this attach did not make stays');
  t.deepEqual(w.network.linkNamesIn(c.nsId), ['lo']);
});

test('a netns target with an eth0 that is not ours: refused, nothing touched', async (t) => {
  const w = await createWorld(t);
  const nsId = w.network.addNamespace('lt-target');
  w.network.addVethPair(undefined, 'other', undefined, nsId, 'eth0', '02:00:00:00:00:01');
  await t.throwsAsync(w.agent.attach(request({ container: undefined, netns: 'lt-target' })), { instanceOf: AttachError, message: 'eth0 already exists in netns lt-target' });
  t.deepEqual(w.journal.lines, []);
});

test('a netns target: no netns name made or removed (it is not ours), its resolv.conf kept and put back', async (t) => {
  const w = await createWorld(t);
  const nsId = w.network.addNamespace('lt-target');
  const resolvConf = join(w.dir, 'target-resolv.conf');
  await writeFile(resolvConf, ORIGINAL_RESOLV);
  w.clients.behaviour = 'no-lease';
  await t.throwsAsync(w.agent.attach(request({ container: undefined, netns: 'lt-target', resolvConf })), { message: /no DHCP lease for lt-target/ });
  t.false(w.journal.lines.some((l) => NETNS_CHANGE.test(l)), w.journal.lines.join('\n'));
  t.true(w.journal.lines.includes('restore resolv.conf netns-lt-target'));
  t.true(w.network.names.has('lt-target'));
  t.deepEqual(w.network.linkNamesIn(nsId), ['lo']);
});

for (const [what, setUp, message] of [
  ['a bridge netns that does not exist', (): Partial<AttachRequest> => ({ bridgeNetns: 'lt-none' }), 'bridge netns lt-none does not exist'],
  ['no such bridge', (): Partial<AttachRequest> => ({ bridge: 'br9' }), `no bridge br9 in netns ${BRIDGE_NS}`],
  ['a bad app label', (): Partial<AttachRequest> => ({ app: '-x' }), /not a DNS label/],
  ['a multicast --mac', (): Partial<AttachRequest> => ({ mac: '03:00:00:00:00:01' }), /^--mac: .*multicast/],
  ['a bad --worker-ip', (): Partial<AttachRequest> => ({ workerIp: 'x' }), 'attach web1: not an IPv4 address: "x"'],
] as const) {
  test(`refused before any change, the netns name made alongside undone: ${what}`, async (t) => {
    const w = await createWorld(t);
    const c = await addContainer(w);
    const err = await t.throwsAsync(w.agent.attach(request(setUp())), { message });
    t.true(err instanceof LeaseholdError, `${err?.name}`);
    t.deepEqual(w.journal.lines.filter((l) => !NETNS_CHANGE.test(l)), []);
    await assertUntouched(t, w, c);
  });
}

test('a container not run with --net none, or not running: refused, nothing touched', async (t) => {
  const w = await createWorld(t);
  w.network.addProcess(PID);
  w.engine.add({ id: ID, name: 'web1', pid: PID, networkMode: 'bridge' });
  await t.throwsAsync(w.agent.attach(request()), { message: /has network mode "bridge"; run it with --net none/ });
  w.engine.containers[0].networkMode = 'none';
  w.engine.containers[0].running = false;
  await t.throwsAsync(w.agent.attach(request()), { message: 'container web1 is not running' });
  t.deepEqual(w.journal.lines, []);
});

test('attach again: the attachment it has, nothing new; a dead client is restarted with its address', async (t) => {
  const w = await createWorld(t);
  await addContainer(w);
  const first = await w.agent.attach(request());
  const made = w.journal.lines.length;
  t.deepEqual(await w.agent.attach(request()), first);
  t.is(w.journal.lines.length, made, 'no change');
  w.clients.kill(first.NetworkSettings.DHCP_PID);
  const again = await w.agent.attach(request());
  t.deepEqual(w.journal.lines.slice(made), [`start client ${KEY}`, `write record ${KEY}`]);
  t.is(w.clients.started.at(-1)!.requestIp, first.NetworkSettings.IPAddress);
  t.not(again.NetworkSettings.DHCP_PID, first.NetworkSettings.DHCP_PID);
});

// ---------------------------------------------------------------------------
// Release

test('detach: client first (its DHCPRELEASE), then veth, neighbours, netns name, resolv.conf, record; the release is kept for repeating', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  const json = await w.agent.attach(request());
  const made = w.journal.lines.length;
  const detached = await w.agent.detach({ container: 'web1' });
  t.is(detached.NetworkSettings.IPAddress, json.NetworkSettings.IPAddress);
  t.deepEqual(w.journal.lines.slice(made), [
    `stop client ${CLIENT_PID}`,
    `write pending release ${KEY}`,
    `delete link ${VETH}`,
    `forget neighbours ${json.NetworkSettings.HWAddr}`,
    `delete netns ${NETNS}`,
    `restore resolv.conf ${KEY}`,
    `remove record ${KEY}`,
  ]);
  t.deepEqual(await stateFiles(w), []);
  const pending = JSON.parse(await readFile(join(w.runDir, 'releases', `${KEY}.json`), 'utf8'));
  t.like(pending, { key: KEY, ip: '198.18.1.7', serverId: '198.18.0.1', attempts: 1, nextAtMs: w.clock.now() + 2000 });
  t.is(await readFile(c.resolvConf, 'utf8'), ORIGINAL_RESOLV);
  await t.throwsAsync(w.agent.detach({ container: 'web1' }), { instanceOf: AttachError, message: 'not attached: web1' });
});

test('a release finds what is gone already done: veth, netns name and client gone before it', async (t) => {
  const w = await createWorld(t);
  const c = await addContainer(w);
  const json = await w.agent.attach(request());
  await w.network.deleteLink(BRIDGE_NS, VETH);
  await w.network.deleteNetns(NETNS);
  w.clients.kill(json.NetworkSettings.DHCP_PID);
  t.true(await w.agent.releaseContainer(ID, 'container die'));
  t.deepEqual(await stateFiles(w), []);
  t.deepEqual(w.network.linkNamesIn(c.nsId), ['lo']);
  // A client that was not running sent nothing: the repeats start now.
  const pending = JSON.parse(await readFile(join(w.runDir, 'releases', `${KEY}.json`), 'utf8'));
  t.like(pending, { attempts: 0, nextAtMs: w.clock.now() });
  t.false(await w.agent.releaseContainer(ID, 'container destroy'), 'a second release has nothing to do');
});

test('a container event after the run dir went away: nothing to release, no error, nothing made again', async (t) => {
  const w = await createWorld(t);
  await addContainer(w);
  await w.agent.attach(request());
  await rm(w.runDir, { recursive: true, force: true });
  t.false(await w.agent.releaseContainer(ID, 'container die'));
  t.false(existsSync(w.runDir), 'the run dir is not made again by a release');
});

test('a new attach of a released target cancels the release still being repeated', async (t) => {
  const w = await createWorld(t);
  await addContainer(w);
  await w.agent.attach(request());
  await w.agent.detach({ container: ID });
  t.true(existsSync(join(w.runDir, 'releases', `${KEY}.json`)));
  await w.agent.attach(request());
  t.false(existsSync(join(w.runDir, 'releases', `${KEY}.json`)));
});
