// lab/roles.sh's process checks, against real processes: `pid_in` (is the
// daemon in this pid file running?) decides whether `lab.sh up` starts a
// daemon again, and `stop_pid` waits for one to end. A daemon SIGKILLed
// after lab.sh exited is an orphan, and the reaper may leave it a zombie
// for seconds (this machine's PID 1 takes about 2 s); `kill -0` succeeds on
// a zombie, so a check built on it kept a killed server from being
// restarted (the e2e suite's server-outage test, when its restart came
// within that window). Each process here is started, and ended, by the
// test itself.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processStartTicks } from '../../agent/io/process.ts';
import { pollUntil } from '../harness/poll.ts';
import { REPO_ROOT, runCommand } from '../harness/run-command.ts';

/** Runs `body` in bash with lab/roles.sh sourced. */
function withRoles(body: string) {
  return runCommand(['bash', '-c', `source lab/roles.sh; ${body}`], { cwd: REPO_ROOT, timeoutMs: 20_000 });
}

function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * A zombie that stays one for a few seconds: a bash whose child exits
 * while bash has exec'd into a `sleep` that never reaps it. Returns the
 * zombie's pid and a function that ends the parent (and so the zombie).
 */
async function zombie(): Promise<{ pid: number; end: () => void }> {
  const parent = spawn('bash', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    parent.once('error', reject);
  });
  await pollUntil(`pid ${pid} to become a zombie`, () => stateOf(pid) === 'Z', { timeoutMs: 5000 });
  return { pid, end: () => parent.kill('SIGKILL') };
}

test('pid_in: a running process is running, a zombie and a missing pid are not', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lt-roles-'));
  const live = spawn('sleep', ['30'], { stdio: 'ignore' });
  const z = await zombie();
  t.teardown(async () => {
    live.kill('SIGKILL');
    z.end();
    await rm(dir, { recursive: true, force: true });
  });
  await writeFile(join(dir, 'live.pid'), `${live.pid}\n`);
  await writeFile(join(dir, 'zombie.pid'), `${z.pid}\n`);
  await writeFile(join(dir, 'empty.pid'), '');

  const alive = await withRoles(`pid_in ${join(dir, 'live.pid')}`);
  t.is(alive.code, 0);
  t.is(alive.stdout.trim(), String(live.pid));

  // What kill -0 alone would get wrong: the zombie is still "there".
  t.is((await runCommand(['kill', '-0', String(z.pid)])).code, 0, 'kill -0 succeeds on a zombie');
  const dead = await withRoles(`pid_in ${join(dir, 'zombie.pid')}`);
  t.not(dead.code, 0, 'a zombie is not a running daemon');
  t.is(dead.stdout, '');

  for (const file of ['empty.pid', 'missing.pid']) {
    const none = await withRoles(`pid_in ${join(dir, file)}`);
    t.not(none.code, 0, file);
    t.is(none.stdout, '', file);
  }
});

test('stop_pid returns at once for a process that has died but is not yet reaped', async (t) => {
  const z = await zombie();
  t.teardown(() => z.end());
  const started = Date.now();
  const r = await withRoles(`stop_pid ${z.pid}; echo done`);
  t.is(r.stdout.trim(), 'done');
  // Not a speed check: the old loop could not see the process had ended,
  // so it always ran into its 5 s give-up and SIGKILLed a dead pid.
  t.true(Date.now() - started < 4000, `took ${Date.now() - started} ms: stop_pid waited for a process that had ended`);
});

test('stop_pid ends a running process with SIGTERM', async (t) => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  const ticks = processStartTicks(child.pid!);
  t.not(ticks, undefined);
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const r = await withRoles(`stop_pid ${child.pid}`);
  t.is(r.code, 0);
  t.is(await exited, 'SIGTERM');
});
