// Every program the project runs comes from a Debian package that
// lab/install-deps.sh installs. lab/programs.txt lists program → package;
// this test holds three things to it:
//  - install-deps.sh installs the package of every program it lists
//    (its --list, as it builds its apt-get line);
//  - the code runs no program the table does not list: a scan of the
//    TypeScript (argv handed to child_process and to the helpers that hand
//    argv on), the shell scripts, the hooks and the Makefile's recipes;
//  - on this machine, each program of a package that is installed is found
//    on the agent's SYSTEM_PATH and comes from that package (dpkg -S), not
//    from something installed by hand. `make test` and `make test-unit`
//    run install-deps.sh first, so there every package is checked; a bare
//    `npx ava test/unit` on a machine without them checks those installed
//    and logs the rest.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { SYSTEM_PATH } from '../../agent/io/exec.ts';
import { parseProgramTable, readProgramTable, resolveProgram, type ProgramRow } from '../harness/program-table.ts';
import { repositorySources, scanSources, unlistedPrograms, unusedRows } from './helpers/repo-programs.ts';
import type { ProgramUse } from './helpers/shell-programs.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const rows = readProgramTable(ROOT);
const sources = repositorySources(ROOT);
let scanned: ProgramUse[] | undefined;
const uses = () => (scanned ??= scanSources(sources));

/** Run in a container on purpose though no image has it (the docker-harness test of a missing program). */
const DELIBERATELY_MISSING = new Set(['does-not-exist']);

function installDepsList(env: Record<string, string> = {}): string[] {
  const r = spawnSync('bash', ['lab/install-deps.sh', '--list'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: SYSTEM_PATH, ...env } });
  if (r.status !== 0) throw new Error(`lab/install-deps.sh --list: exit ${r.status}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

test('install-deps.sh installs the package of every listed program', (t) => {
  const all = new Set(installDepsList());
  const labOnly = new Set(installDepsList({ LEASEHOLD_PACKAGES: 'lab' }));
  const problems: string[] = [];
  for (const r of rows) {
    if (r.scope !== 'given' && !all.has(r.package)) problems.push(`${r.program}: lab/install-deps.sh does not install its package ${r.package}`);
    if (r.scope === 'lab' && !labOnly.has(r.package)) problems.push(`${r.program}: LEASEHOLD_PACKAGES=lab (a VM) does not install its package ${r.package}`);
  }
  // And nothing else: each package installed is some program's.
  for (const p of all) if (!rows.some((r) => r.package === p && r.scope !== 'given')) problems.push(`lab/install-deps.sh installs ${p}, which no program in lab/programs.txt needs`);
  t.deepEqual(problems, []);
  t.true(all.has('nftables'));
  t.false(labOnly.has('nftables'), 'a test-only package is left out on a VM');
});

test('install-deps.sh --list: sorted, each package once; a bad LEASEHOLD_PACKAGES is a usage error', (t) => {
  const all = installDepsList();
  t.deepEqual([...all].sort(), all);
  t.is(new Set(all).size, all.length);
  const bad = spawnSync('bash', ['lab/install-deps.sh', '--list'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, LEASEHOLD_PACKAGES: 'everything' } });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /LEASEHOLD_PACKAGES is all or lab, not 'everything'/);
});

test('lab/programs.txt: a malformed row is an error naming its line', (t) => {
  t.throws(() => parseProgramTable('ip iproute2 lab agent\nnft nftables sometimes tests\n'), {
    message: /^lab\/programs\.txt:2: want "program package scope who-runs-it" with scope lab, test, given, got "nft nftables sometimes tests"$/,
  });
  t.throws(() => parseProgramTable('ip iproute2 lab agent\nip iproute2 test tests\n'), { message: 'lab/programs.txt:2: ip is listed twice' });
  t.throws(() => parseProgramTable('ip iproute2 lab\n'), { message: /lab\/programs\.txt:1: want/ });
});

test('lab/programs.txt: a program outside PATH has its directory, the highest version found wins', (t) => {
  const [row] = parseProgramTable('/usr/lib/postgresql/*/bin/initdb postgresql test harness\n');
  t.deepEqual(row, { program: 'initdb', directory: '/usr/lib/postgresql/*/bin', package: 'postgresql', scope: 'test', who: 'harness', line: 1 });
  t.throws(() => parseProgramTable('usr/lib/x/bin/y pkg test harness\n'), { message: /lab\/programs\.txt:1: usr\/lib\/x\/bin\/y: a directory is absolute, with at most one \* for the version/ });
  t.throws(() => parseProgramTable('/usr/lib/*/x/*/y pkg test harness\n'), { message: /with at most one \* for the version/ });
  const root = mkdtempSync(join(tmpdir(), 'lt-progs-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const version of ['9.6', '15', '16']) mkdirSync(join(root, version, 'bin'), { recursive: true });
  for (const version of ['9.6', '15']) {
    writeFileSync(join(root, version, 'bin', 'prog'), '#!/bin/sh\n');
    chmodSync(join(root, version, 'bin', 'prog'), 0o755);
  }
  const at = (dir: string) => ({ ...row, program: 'prog', directory: dir });
  t.is(resolveProgram(at(`${root}/*/bin`)), join(root, '15', 'bin', 'prog'), '16 has no prog; 15 beats 9.6');
  t.is(resolveProgram(at(`${root}/missing/*/bin`)), undefined);
  t.is(resolveProgram({ ...row, directory: undefined }), undefined, 'no directory: SYSTEM_PATH');
  t.is(resolveProgram(at(join(root, '15', 'bin'))), join(root, '15', 'bin', 'prog'), 'a directory without *: that one');
  t.is(resolveProgram(at(join(root, '16', 'bin'))), undefined, 'a directory without * that lacks it');
});

test('the code runs no program that lab/programs.txt does not list', (t) => {
  t.deepEqual(unlistedPrograms(uses(), rows), []);
});

test('every row of lab/programs.txt is still run by something', (t) => {
  t.deepEqual(unusedRows(uses(), rows), []);
});

test('the scan sees the ways the code starts programs', (t) => {
  const seen = (program: string, file: string) => uses().some((u) => u.program === program && u.file === file && u.side === 'host');
  t.true(seen('nft', 'test/integration/dhcp4-rebind.test.ts'), 'segment.exec(netns, argv)');
  t.true(seen('busybox', 'agent/io/dhcp-client.ts'), 'an argv built by a function, spawned by argv[0]');
  t.true(seen('sysctl', 'agent/io/iproute.ts'), 'through nsenter');
  t.true(seen('bridge', 'agent/io/iproute.ts'), 'run([...])');
  t.true(seen('taskset', 'test/bench/dora.ts'), 'an optional wrapper in a spread');
  t.true(seen('perfdhcp', 'test/bench/dora.ts'), 'after the optional wrapper');
  t.true(seen('kea-dhcp4', 'test/harness/kea-server.ts'), 'spawnIn');
  t.true(seen('kea-dhcp-ddns', 'test/harness/kea-server.ts'), 'a local helper whose parameter is the program, placed in an argv');
  t.true(seen('python3', 'test/fixtures/ra/rs-probe.ts'), 'execFileSync');
  t.true(seen('vagrant', 'test/integration/vagrant-validate.test.ts'), "a file's own wrapper of promisify(execFile)");
  t.true(seen('kea-dhcp4', 'lab/capture-dhcp4-fixtures.sh'), 'VAR=x ip netns exec NS prog &');
  t.true(seen('named', 'lab/roles.sh'), "a script's own wrapper function (nsrun NS cmd)");
  t.true(seen('node', 'lab/roles.sh'), 'daemon NAME NS cmd…');
  t.true(seen('containerd', 'lab/docker-engine.sh'), 'launch NAME cmd…');
  t.true(seen('npm', 'Makefile'), 'a $$(…) in a recipe');
  t.true(seen('xxd', 'lab/capture-dhcp4-fixtures.sh'));
  t.true(seen('sleep', 'test/integration/lab-roles.test.ts'), "bash -c '…'");
  t.true(seen('initdb', 'test/harness/postgres.ts'), "packagedProgram('initdb'): outside PATH, in its package's directory");
  t.true(seen('postgres', 'test/harness/postgres.ts'), 'behind setpriv, a wrapper');
  t.true(seen('setpriv', 'test/harness/postgres.ts'));
  const inContainer = (program: string) => uses().some((u) => u.program === program && u.side === 'container');
  t.true(inContainer('wget'), 'container.exec(argv), docker exec NAME cmd');
  t.true(inContainer('httpd'), 'the images’ own scripts');
  t.false(uses().some((u) => u.side === 'host' && ['wget', 'nslookup', 'deconfig', 'bound', 'inspect'].includes(u.program)), 'no container command, case pattern or CLI argument taken for a host program');
});

test('a program added to the code without a row makes the check fail, naming it', (t) => {
  const added = {
    file: 'agent/io/new-feature.ts',
    text: "import { run } from './exec.ts';\nexport async function f(ns: string) {\n  await run(['nsenter', `--net=/run/netns/${ns}`, 'frobnicate', '-x']);\n}\n",
  };
  const script = { file: 'lab/new.sh', text: '#!/bin/sh\nin_ns() { ip netns exec "$1" "$@"; }\nif true; then\n  timeout 5 wibble --now | sort\nfi\n' };
  const found = scanSources({ ts: [...sources.ts, added], shell: [...sources.shell, script], makefile: sources.makefile });
  t.deepEqual(unlistedPrograms(found, rows), [
    'agent/io/new-feature.ts:3 runs "frobnicate", which lab/programs.txt does not list: add "frobnicate <Debian package> <lab|test> <who runs it>" (dpkg -S "$(command -v frobnicate)")',
    'lab/new.sh:4 runs "wibble", which lab/programs.txt does not list: add "wibble <Debian package> <lab|test> <who runs it>" (dpkg -S "$(command -v wibble)")',
  ]);
});

// ---------------------------------------------------------------------------
// This machine: where each listed program comes from.

interface Dpkg {
  /** Installed packages and what each depends on directly. */
  installed: Map<string, Set<string>>;
  /** path → owning packages. */
  owners: (paths: readonly string[]) => Map<string, string[]>;
}

function dpkg(): Dpkg | undefined {
  const packages = [...new Set(rows.map((r) => r.package))];
  const q = spawnSync('dpkg-query', ['-W', '-f=${Package}\t${db:Status-Abbrev}\t${Depends}, ${Pre-Depends}\n', ...packages], { encoding: 'utf8', env: { ...process.env, PATH: SYSTEM_PATH } });
  if (q.error) return undefined;
  const installed = new Map<string, Set<string>>();
  for (const line of q.stdout.split('\n').filter(Boolean)) {
    const [name, status, deps] = line.split('\t');
    if (!status.startsWith('ii')) continue;
    installed.set(name, new Set(deps.split(/[,|]/).map((d) => d.trim().split(/[\s:(]/)[0]).filter(Boolean)));
  }
  return {
    installed,
    owners(paths) {
      const s = spawnSync('dpkg-query', ['-S', ...paths], { encoding: 'utf8', env: { ...process.env, PATH: SYSTEM_PATH } });
      const owners = new Map<string, string[]>();
      for (const line of s.stdout.split('\n')) {
        const m = /^([^:/][^:]*): (\/.*)$/.exec(line);
        if (m && !line.startsWith('diversion')) owners.set(m[2], m[1].split(', '));
      }
      return owners;
    },
  };
}

/** The first file named `program` in SYSTEM_PATH's directories. */
function onSystemPath(program: string): string | undefined {
  for (const dir of SYSTEM_PATH.split(':')) {
    const path = join(dir, program);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The path and every symlink target after it (alternatives, /usr/bin/python3 → python3.11). */
function symlinkChain(path: string): string[] {
  const chain = [path];
  for (let k = 0; k < 8 && lstatSync(chain.at(-1)!).isSymbolicLink(); k++) chain.push(resolve(dirname(chain.at(-1)!), readlinkSync(chain.at(-1)!)));
  return chain;
}

/** Merged /usr: dpkg knows /bin/cat where PATH finds /usr/bin/cat. */
const spellings = (path: string) => [path, path.startsWith('/usr/') ? path.slice(4) : `/usr${path}`];

test('each listed program comes, on SYSTEM_PATH, from its package', (t) => {
  const db = dpkg();
  if (!db) {
    t.log('no dpkg-query here: not a Debian machine, nothing to check');
    t.pass();
    return;
  }
  const chains = new Map<ProgramRow, string[]>();
  const skipped: string[] = [];
  const problems: string[] = [];
  for (const r of rows) {
    if (!db.installed.has(r.package)) {
      skipped.push(`${r.program} (${r.package}, ${r.scope === 'given' ? 'scope given: present only where it is used' : 'make test-unit installs it first'})`);
      continue;
    }
    // A row with a directory is found there (never on PATH: /usr/local/bin may hold hand-made links of the same name).
    const path = r.directory !== undefined ? resolveProgram(r) : onSystemPath(r.program);
    const where = r.directory ?? `SYSTEM_PATH (${SYSTEM_PATH})`;
    if (!path) problems.push(`${r.program}: package ${r.package} is installed but no ${r.program} is in ${where} (lab/programs.txt:${r.line})`);
    else chains.set(r, symlinkChain(path));
  }
  const owners = db.owners([...chains.values()].flat().flatMap(spellings));
  for (const [r, chain] of chains) {
    // The package itself, or one it depends on (python3 → python3-minimal owns /usr/bin/python3).
    const accepted = new Set([r.package, ...(db.installed.get(r.package) ?? [])]);
    const found = chain.flatMap((p) => spellings(p).flatMap((s) => owners.get(s) ?? []));
    if (!found.some((p) => accepted.has(p))) {
      problems.push(`${r.program}: ${chain.join(' → ')} comes from ${found.length ? found.join(', ') : 'no package (installed by hand?)'}, not from ${r.package} (lab/programs.txt:${r.line})`);
    }
  }
  if (skipped.length) t.log(`not installed here, not checked: ${skipped.join('; ')}`);
  t.deepEqual(problems, []);
});

test('busybox has every applet the code runs through it, and the images every command run in a container', (t) => {
  const busybox = onSystemPath('busybox');
  if (!busybox) {
    t.log('no busybox here (package busybox-static): nothing to check');
    t.pass();
    return;
  }
  const applets = new Set(spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean));
  // The lab's images are this very busybox (lab/images/build.sh copies it in) and its applets.
  const missing = uses()
    .flatMap((u) => (u.side === 'host' && u.applet ? [{ ...u, program: u.applet }] : u.side === 'container' ? [u] : []))
    .filter((u) => !applets.has(u.program) && !DELIBERATELY_MISSING.has(u.program))
    .map((u) => `${u.file}:${u.line}: ${u.program} is not a busybox applet`);
  t.deepEqual([...new Set(missing)], []);
});

test('the lab scripts search the same PATH as the agent: the packaged programs only', (t) => {
  t.is(SYSTEM_PATH, '/usr/sbin:/usr/bin:/sbin:/bin');
  const paths = sources.shell.flatMap((s) => [...s.text.matchAll(/^\s*(?:export\s+)?PATH=(\S+)/gm)].map((m) => `${s.file}: ${m[1]}`));
  t.true(paths.length >= 4, paths.join('\n'));
  t.deepEqual(paths.filter((p) => !p.endsWith(`: ${SYSTEM_PATH}`)), []);
});
