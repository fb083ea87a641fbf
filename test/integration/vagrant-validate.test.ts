// The Vagrant lab (vagrant/Vagrantfile + lab/provision.sh) is never booted
// in CI: these checks are what CI can do without a hypervisor. `vagrant
// validate` loads and checks the Vagrantfile; with no provider installed it
// needs --ignore-provider (plain `vagrant validate` stops at "No usable
// default provider"), so the provider blocks are parsed but not validated.
// The lab's shell scripts must parse, and pass shellcheck where it is
// installed (lab/install-deps.sh installs it).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SYSTEM_PATH } from '../harness/netns.ts';

const run = promisify(execFile);
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPTS = ['lab/provision.sh', 'lab/roles.sh', 'lab/lab.sh'];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  try {
    // The packaged vagrant, shellcheck and bash (lab/programs.txt), whatever PATH ava was started with.
    const env = { ...(opts.env ?? process.env), PATH: SYSTEM_PATH };
    const { stdout, stderr } = await run(argv[0], argv.slice(1), { cwd: opts.cwd ?? REPO_ROOT, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') return { code: 127, stdout: '', stderr: `${argv[0]}: not found` };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

const installed = async (tool: string) => (await sh(['sh', '-c', `command -v ${tool}`])).code === 0;

test('vagrant validate accepts vagrant/Vagrantfile', async (t) => {
  if (!(await installed('vagrant'))) {
    t.fail('vagrant is not installed: run lab/install-deps.sh (Debian package vagrant)');
    return;
  }
  // A throwaway VAGRANT_HOME (boxes, plugins, keys) and .vagrant directory:
  // nothing of the user's, nothing left in the checkout.
  const home = await mkdtemp(join(tmpdir(), 'lt-vagrant-home-'));
  const dot = await mkdtemp(join(tmpdir(), 'lt-vagrant-dot-'));
  t.teardown(() => Promise.all([rm(home, { recursive: true, force: true }), rm(dot, { recursive: true, force: true })]));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VAGRANT_HOME: home,
    VAGRANT_DOTFILE_PATH: dot,
    VAGRANT_CHECKPOINT_DISABLE: '1', // no version check over the network
    VAGRANT_NO_COLOR: '1',
  };
  delete env.VAGRANT_DEFAULT_PROVIDER;
  delete env.VAGRANT_VAGRANTFILE;
  const r = await sh(['vagrant', 'validate', '--ignore-provider'], { cwd: join(REPO_ROOT, 'vagrant'), env });
  t.is(r.code, 0, `vagrant validate failed:\n${r.stdout}${r.stderr}`);
  t.regex(r.stdout, /Vagrantfile validated successfully/);
  // All three machines are defined.
  for (const name of ['appliance', 'worker1', 'worker2']) t.regex(r.stdout, new RegExp(`==> ${name}:`));
});

test('the lab scripts parse (bash -n)', async (t) => {
  for (const script of SCRIPTS) {
    const r = await sh(['bash', '-n', script]);
    t.is(r.code, 0, `bash -n ${script}: ${r.stderr}`);
  }
});

test('the lab scripts pass shellcheck', async (t) => {
  if (!(await installed('shellcheck'))) {
    t.log('shellcheck is not installed: skipped (lab/install-deps.sh installs it)');
    t.pass();
    return;
  }
  // -x: follow the scripts' `source` of lab/roles.sh.
  const strict = await sh(['shellcheck', '-x', 'lab/provision.sh', 'lab/roles.sh', 'lab/lab.sh']);
  t.is(strict.code, 0, strict.stdout + strict.stderr);
});

// Every call below carries --check right after the role: even a parsing
// regression can then at most print a plan, never provision this machine.
test('lab/provision.sh refuses bad arguments with usage and exit 2', async (t) => {
  for (const args of [['nonsense', '--check'], ['worker', '--check'], ['worker', '--check', '--name', 'worker1'], ['appliance', '--check', '--iface']]) {
    const r = await sh(['bash', 'lab/provision.sh', ...args]);
    t.is(r.code, 2, `provision.sh ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    t.regex(r.stderr, /usage: lab\/provision\.sh/);
  }
  const bad = await sh(['bash', 'lab/provision.sh', 'worker', '--check', '--name', 'worker1', '--ip', '198.18.0.x']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /not an IPv4 address/);
});

test('the Vagrantfile calls lab/provision.sh with arguments it accepts', async (t) => {
  const vagrantfile = await readFile(join(REPO_ROOT, 'vagrant/Vagrantfile'), 'utf8');
  const machines = [...vagrantfile.matchAll(/\{ name: "([\w-]+)", mac: "([0-9a-f:]+)", args: "([^"]+)"/g)];
  t.deepEqual(machines.map((m) => m[1]), ['appliance', 'worker1', 'worker2']);
  t.regex(vagrantfile, /inline: "\/leasehold\/lab\/provision\.sh #\{m\[:args\]\} --mac #\{m\[:mac\]\}"/);
  for (const [, name, mac, args] of machines) {
    const [role, ...rest] = args.split(' ');
    const r = await sh(['bash', 'lab/provision.sh', role, '--check', ...rest, '--mac', mac]);
    t.is(r.code, 0, `${name}: provision.sh ${args} --mac ${mac}: ${r.stderr}`);
    t.regex(r.stdout, new RegExp(`would make this machine ${role === 'worker' ? `worker ${name}` : 'the appliance'} .* MAC ${mac}`));
  }
});
