// Bad input to the agent: each failed attach exits non-zero with one clear
// line and leaves nothing behind — no link in the bridge namespace, no
// `lhc-` netns name, no state file, no DHCP client, resolv.conf untouched.
// Bad command lines exit 2 with the usage. Needs root and `make docker`.
import { readFile } from 'node:fs/promises';
import test from 'ava';
import {
  netnsList,
  runAgent,
  startSharedNetnsContainer,
  useAgentLab,
  type AgentLab,
  type AgentResult,
} from '../harness/agent.ts';
import { TEST_IMAGES, useContainers, type NetNoneContainer } from '../harness/docker.ts';
import { sweepAround } from '../harness/fixture.ts';

const PREFIX = 'lt-ag-e';
sweepAround(test, PREFIX);
const containers = useContainers(test);
const SLEEP = ['sleep', '600'];

interface Snapshot {
  links: string[];
  lhcNetns: string[];
  stateFiles: string[];
  clients: number[];
  resolvConf?: string;
}

async function snapshot(lab: AgentLab, c?: NetNoneContainer): Promise<Snapshot> {
  return {
    links: await lab.bridgeLinks(),
    lhcNetns: (await netnsList()).filter((n) => n === `lhc-${c?.shortId}`),
    stateFiles: await lab.stateFiles(),
    clients: lab.clients(),
    resolvConf: c && (await readFile(c.resolvConfPath, 'utf8')),
  };
}

/** The failed command exited 1 with exactly one `agent: …` line matching `message`, and changed nothing. */
async function failsCleanly(t: Parameters<typeof useAgentLab>[0], lab: AgentLab, result: AgentResult, message: RegExp, before: Snapshot, c?: NetNoneContainer) {
  t.is(result.code, 1, `exit status (stderr: ${result.stderr})`);
  t.is(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, `one line: ${result.stderr}`);
  t.regex(lines[0], /^agent: /);
  t.regex(lines[0], message);
  t.deepEqual(await snapshot(lab, c), before);
}

test('an unknown container', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const before = await snapshot(lab);
  const r = await lab.run(lab.attachArgs(['lt-ag-no-such-container']));
  await failsCleanly(t, lab, r, /no such container: lt-ag-no-such-container/, before);
});

test('a container not run with --net none (network mode container:<id>)', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const host = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const shared = await startSharedNetnsContainer(TEST_IMAGES.busybox, host.id);
  t.teardown(() => shared.remove());
  lab.track(shared.id);
  const before = await snapshot(lab);
  const r = await lab.run(lab.attachArgs([shared.name]));
  await failsCleanly(t, lab, r, new RegExp(`container ${shared.name} has network mode "container:${host.id}"; run it with --net none`), before);
  t.false((await netnsList()).includes(`lhc-${shared.id.slice(0, 12)}`));
});

test('a bridge that does not exist', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  lab.track(c.id);
  const before = await snapshot(lab, c);
  const r = await lab.run(['attach', c.id, '--bridge', 'ltagnobr', '--bridge-netns', lab.bridgeNetns]);
  await failsCleanly(t, lab, r, new RegExp(`no bridge ltagnobr in netns ${lab.bridgeNetns}`), before, c);
});

test('a link that is not a bridge', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  lab.track(c.id);
  const before = await snapshot(lab, c);
  // v-srv: the server's veth, a port of the bridge.
  const r = await lab.run(['attach', c.id, '--bridge', 'v-srv', '--bridge-netns', lab.bridgeNetns]);
  await failsCleanly(t, lab, r, /v-srv is not a bridge/, before, c);
});

test('a bridge netns that does not exist', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  lab.track(c.id);
  const before = await snapshot(lab, c);
  const r = await lab.run(['attach', c.id, '--bridge', lab.bridge, '--bridge-netns', 'lt-ag-e-nope']);
  await failsCleanly(t, lab, r, /bridge netns lt-ag-e-nope does not exist/, before, c);
});

test('no DHCP server answers: the attach times out and undoes everything', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  await lab.server.stop();
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  lab.track(c.id);
  const before = await snapshot(lab, c);
  const r = await lab.run(lab.attachArgs([c.id], ['--timeout', '3']));
  await failsCleanly(t, lab, r, new RegExp(`no DHCP lease for ${c.name} within 3 s`), before, c);
  const links = await c.exec(['ip', '-o', 'link', 'show']);
  t.deepEqual([...links.stdout.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]), ['lo'], 'no interface left in the container');
});

test('a netns target that does not exist', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const before = await snapshot(lab);
  const r = await lab.run(lab.attachArgs(['--netns', 'lt-ag-e-none']));
  await failsCleanly(t, lab, r, /netns lt-ag-e-none does not exist/, before);
});

test('a MAC given with --mac that is multicast', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  lab.track(c.id);
  const before = await snapshot(lab, c);
  const r = await lab.run(lab.attachArgs([c.id], ['--mac', '03:00:00:00:00:01']));
  await failsCleanly(t, lab, r, /--mac: .*multicast/, before, c);
});

// Bad command lines never reach Docker or iproute2.
for (const [what, args, message] of [
  ['neither a container nor --netns', ['attach'], /give a container or --netns NAME/],
  ['both a container and --netns', ['attach', 'x', '--netns', 'y'], /give a container or --netns NAME/],
  ['an unknown option', ['attach', 'x', '--frobnicate'], /Unknown argument: frobnicate/],
  ['--ipv6 maybe', ['attach', 'x', '--ipv6', 'maybe'], /Invalid values:[\s\S]*ipv6[\s\S]*maybe/],
  ['--mac-scheme sequential', ['attach', 'x', '--mac-scheme', 'sequential'], /Invalid values:[\s\S]*mac-scheme/],
  ['--timeout 0', ['attach', 'x', '--timeout', '0'], /--timeout must be a positive number/],
  ['no command', [], /give a command/],
  ['an unknown command', ['frob'], /Unknown argument: frob/],
  ['inspect --all with a container', ['inspect', 'x', '--all'], /--all takes no container/],
] as const) {
  test(`usage: ${what} exits 2 with the usage`, async (t) => {
    const r = await runAgent(['--run-dir', '/nonexistent/lt-ag-e', ...args]);
    t.is(r.code, 2, r.stderr);
    t.is(r.stdout, '');
    t.regex(r.stderr, /agent <command> \[options\]|Options:/);
    t.regex(r.stderr, message);
  });
}

test('a container another agent (another run dir) has attached is refused, and that attachment is left alone', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  const first = await lab.attach(c.id);
  const before = await snapshot(lab, c);
  // Inside the lab's run dir, so the lab's teardown finds its clients too.
  const r = await runAgent(['--run-dir', `${lab.runDir}/other`, ...lab.attachArgs([c.id])]);
  await failsCleanly(t, lab, r, /eth0 already exists in the container/, before, c);
  t.true((await netnsList()).includes(first.NetworkSettings.Netns), 'the first attachment keeps its netns name');
  t.deepEqual(await lab.inspectAll(), [first]);
  const ping = await c.exec(['ping', '-c', '1', '-W', '5', '198.18.0.1']);
  t.is(ping.exitCode, 0, 'the container still reaches the gateway');
});

test('a Docker engine that cannot be reached', async (t) => {
  const lab = await useAgentLab(t, PREFIX);
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  lab.track(c.id);
  const before = await snapshot(lab, c);
  const r = await lab.run(['--docker-socket', `${lab.runDir}/no-docker.sock`, ...lab.attachArgs([c.id])]);
  await failsCleanly(t, lab, r, /cannot reach the Docker engine .*is dockerd running\?/, before, c);
});
