// The Docker harness itself (test/harness/docker.ts): a `--net none`
// container has only `lo` in a netns of its own, exec works, the labels a
// sweep relies on are set, and a sweep removes a crashed run's containers
// but never those of a run still alive. Needs `make docker` first.
import { spawn } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import test from 'ava';
import {
  dockerClient,
  OWNER_LABEL,
  RUN_LABEL,
  startNetNoneContainer,
  sweepTestContainers,
  TEST_IMAGES,
  TEST_LABEL,
  useContainers,
} from '../harness/docker.ts';

const containers = useContainers(test);
const SLEEP = ['sleep', '600'];

/** Interface names in the netns of `pid`, as the host sees them (proc(5), /proc/pid/net/dev). */
async function interfacesOf(pid: number): Promise<string[]> {
  const table = await readFile(`/proc/${pid}/net/dev`, 'utf8');
  return table.split('\n').slice(2).map((line) => line.split(':')[0].trim()).filter(Boolean);
}

async function exists(id: string): Promise<boolean> {
  try {
    await dockerClient().getContainer(id).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

/** A PID that named a process which has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid ?? 0;
}

test('a --net none container has only lo, in a netns of its own', async (t) => {
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  t.true(c.pid > 0);
  t.not(await readlink(`/proc/${c.pid}/ns/net`), await readlink('/proc/self/ns/net'));
  t.deepEqual(await interfacesOf(c.pid), ['lo']);

  // The same seen from inside, through exec.
  const links = await c.exec(['ip', '-o', 'link', 'show']);
  t.is(links.exitCode, 0, links.stderr);
  t.deepEqual([...links.stdout.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]), ['lo']);
});

test('exec returns stdout, stderr and the exit code', async (t) => {
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  t.deepEqual(await c.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']), { exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
  const hostname = await c.exec(['hostname']);
  t.is(hostname.stdout.trim(), c.shortId);
  // runc's "executable file not found": 126 from Docker 20.10, 127 from later engines.
  t.true([126, 127].includes((await c.exec(['does-not-exist'])).exitCode));
  // Docker bind-mounts the file the agent rewrites on the container's resolv.conf.
  t.regex(c.resolvConfPath, /^\/var\/lib\/docker\/containers\/[0-9a-f]{64}\/resolv\.conf$/);
});

test('containers carry the test, run and owner labels', async (t) => {
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP, labels: { 'leasehold.app': 'web' } });
  const info = await dockerClient().getContainer(c.id).inspect();
  t.is(info.HostConfig.NetworkMode, 'none');
  t.like(info.Config.Labels, {
    'leasehold.app': 'web',
    [TEST_LABEL]: 'true',
    [RUN_LABEL]: containers.runId,
  });
  t.regex(info.Config.Labels[OWNER_LABEL], new RegExp(`^${process.pid}:\\d+$`));
  t.is(c.name, info.Name.slice(1));
  t.regex(c.name, /^lt-ct-[0-9a-f]{6}$/);
});

test('the httpd image serves its welcome page', async (t) => {
  const c = await containers.start(t, { image: TEST_IMAGES.httpd });
  let page = { exitCode: -1, stdout: '', stderr: '' };
  // Polled: httpd binds a moment after the container starts.
  for (let i = 0; i < 50 && page.exitCode !== 0; i++) {
    page = await c.exec(['wget', '-qO-', 'http://127.0.0.1/']);
    if (page.exitCode !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.is(page.exitCode, 0, page.stderr);
  t.regex(page.stdout, /Welcome to Leasehold/);
  t.true(page.stdout.includes(c.shortId));
});

test('a sweep by run id removes that run, and stop() after it is harmless', async (t) => {
  const runId = `${containers.runId}-sweep`;
  const c = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP, runId });
  const bystander = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  t.deepEqual(await sweepTestContainers(runId), [c.id]);
  t.false(await exists(c.id));
  t.true(await exists(bystander.id));
  await c.stop();
});

test('a sweep without run id removes a dead run\'s containers, not a live one\'s', async (t) => {
  const live = await containers.start(t, { image: TEST_IMAGES.busybox, command: SLEEP });
  // What a crashed run leaves: its owner process is gone.
  const created = await dockerClient().createContainer({
    Image: TEST_IMAGES.busybox,
    Cmd: SLEEP,
    HostConfig: { NetworkMode: 'none' },
    Labels: { [TEST_LABEL]: 'true', [RUN_LABEL]: `${containers.runId}-crashed`, [OWNER_LABEL]: `${await deadPid()}:0` },
  });
  // Removed here if an assertion fails before the sweep does it.
  t.teardown(() => created.remove({ force: true }).catch(() => undefined));
  await created.start();

  const swept = await sweepTestContainers();
  t.true(swept.includes(created.id));
  t.false(swept.includes(live.id));
  t.false(await exists(created.id));
  t.true(await exists(live.id));
});

test('a container that exits at once is an error, and is removed', async (t) => {
  const before = await dockerClient().listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${containers.runId}-exits`] } });
  t.is(before.length, 0);
  await t.throwsAsync(startNetNoneContainer({ image: TEST_IMAGES.busybox, command: ['true'], runId: `${containers.runId}-exits` }), {
    message: /exited at once/,
  });
  const after = await dockerClient().listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${containers.runId}-exits`] } });
  t.is(after.length, 0);
});
