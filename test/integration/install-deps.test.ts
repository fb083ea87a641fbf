// lab/install-deps.sh where apt cannot install a package: it stops before
// installing anything, with one line naming the package. The machine's own
// apt and dpkg state is never used: apt reads a configuration of our own
// (APT_CONFIG: sources, lists, cache, dpkg status, all in a temp dir) and
// dpkg-query a status file of our own (DPKG_ADMINDIR) in which every package
// of the list is installed but the ones a test leaves out. Nothing is
// fetched from the network: the sources are empty, or a local file:
// repository whose package file does not exist. Needs root (apt-get update).
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { runCommand, type CommandResult } from '../harness/run-command.ts';

const SCRIPT = 'lab/install-deps.sh';

async function listedPackages(): Promise<string[]> {
  const r = await runCommand(['bash', SCRIPT, '--list']);
  if (r.code !== 0) throw new Error(`${SCRIPT} --list: exit ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

interface FakeApt {
  dir: string;
  /** install-deps.sh with apt and dpkg pointed at the fake. */
  run(): Promise<CommandResult>;
  /** A local repository offering `pkg` at `version`, whose .deb is missing. */
  offerUndownloadable(pkg: string, version: string): Promise<void>;
}

async function fakeApt(t: { teardown(fn: () => Promise<void>): void }, notInstalled: readonly string[]): Promise<FakeApt> {
  const dir = await mkdtemp(join(tmpdir(), 'lt-apt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const sub of ['sources.list.d', 'apt.conf.d', 'preferences.d', 'lists/partial', 'cache/archives/partial', 'dpkg/updates', 'dpkg/info', 'state', 'log', 'repo']) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await writeFile(join(dir, 'sources.list'), '');
  const installed = (await listedPackages()).filter((p) => !notInstalled.includes(p));
  await writeFile(
    join(dir, 'dpkg', 'status'),
    installed.map((p) => `Package: ${p}\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nMaintainer: test\nDescription: test\n`).join('\n'),
  );
  const conf = {
    'Dir::Etc::sourcelist': 'sources.list',
    'Dir::Etc::sourceparts': 'sources.list.d',
    'Dir::Etc::parts': 'apt.conf.d',
    'Dir::Etc::preferences': 'preferences',
    'Dir::Etc::preferencesparts': 'preferences.d',
    'Dir::State': 'state',
    'Dir::State::Lists': 'lists',
    'Dir::State::status': 'dpkg/status',
    'Dir::Cache': 'cache',
    'Dir::Log': 'log',
  };
  await writeFile(
    join(dir, 'apt.conf'),
    // A temp dir is root's own (0700): apt's _apt sandbox could not read the local repository.
    [...Object.entries(conf).map(([k, v]) => `${k} "${join(dir, v)}";`), 'APT::Sandbox::User "root";', ''].join('\n'),
  );
  return {
    dir,
    run: () => runCommand(['bash', SCRIPT], { env: { APT_CONFIG: join(dir, 'apt.conf'), DPKG_ADMINDIR: join(dir, 'dpkg') }, timeoutMs: 120_000 }),
    async offerUndownloadable(pkg, version) {
      const sha = createHash('sha256').update('missing').digest('hex');
      await writeFile(
        join(dir, 'repo', 'Packages'),
        `Package: ${pkg}\nVersion: ${version}\nArchitecture: all\nMaintainer: test\nFilename: pool/${pkg}_${version}_all.deb\nSize: 7\nSHA256: ${sha}\nDescription: test\n`,
      );
      await writeFile(join(dir, 'sources.list'), `deb [trusted=yes] file:${join(dir, 'repo')} ./\n`);
    },
  };
}

const lines = (r: CommandResult) => `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);

test.before(async (t) => {
  if (process.getuid?.() !== 0) t.fail('needs root (apt-get update)');
});

test('a package apt has no version of: one line naming it, exit 1, nothing installed', async (t) => {
  const status = await stat('/var/lib/dpkg/status');
  const apt = await fakeApt(t, ['nftables']);
  const r = await apt.run();
  t.is(r.code, 1, r.stdout + r.stderr);
  t.deepEqual(lines(r), ["install-deps: cannot install nftables: apt's sources have no version of it (apt-cache policy nftables, after apt-get update)"]);
  t.is((await stat('/var/lib/dpkg/status')).mtimeMs, status.mtimeMs, 'the machine\'s dpkg status is untouched');
});

test('several such packages: still one line, naming each', async (t) => {
  const apt = await fakeApt(t, ['nftables', 'xxd']);
  const r = await apt.run();
  t.is(r.code, 1);
  t.deepEqual(lines(r), ["install-deps: cannot install nftables, xxd: apt's sources have no version of it (apt-cache policy nftables, after apt-get update)"]);
});

test('a package apt knows but cannot download: one line naming it, before anything is installed', async (t) => {
  const apt = await fakeApt(t, ['nftables']);
  await apt.offerUndownloadable('nftables', '9.9');
  const r = await apt.run();
  t.is(r.code, 1, r.stdout + r.stderr);
  const [line, ...rest] = lines(r);
  t.deepEqual(rest, []);
  t.regex(line, /^install-deps: cannot install nftables: Failed to fetch file:\S+\/nftables_9\.9_all\.deb /);
  // The fake status still has nftables uninstalled: dpkg was never run.
  t.false((await readFile(join(apt.dir, 'dpkg', 'status'), 'utf8')).includes('Package: nftables'));
});
