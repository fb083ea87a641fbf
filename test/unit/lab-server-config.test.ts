import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import {
  applyConfigEdits,
  LAB_SERVER_PARAMS,
  LabConfigError,
  labServerConfig,
  serverConfigMain,
  type RawConfig,
} from '../../lab/server-config.ts';
import { loadConfigFile } from '../../server/config/load.ts';
import { validateConfig } from '../../server/config/validate.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE = join(ROOT, 'config', 'leasehold.example.yaml');

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'lt-labcfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The script's exit code and what it wrote to stderr. */
function runScript(argv: string[]): { code: number; stderr: string } {
  const lines: string[] = [];
  const code = serverConfigMain(argv, (line) => lines.push(line));
  return { code, stderr: lines.join('\n') };
}

test('the lab config validates, and says what the documented example says', (t) => {
  // The example is the operators' reference and claims to be "the one the
  // lab runs": once both are validated (defaults applied, forms normalised)
  // they must be the same configuration.
  t.deepEqual(validateConfig(labServerConfig(LAB_SERVER_PARAMS)), loadConfigFile(EXAMPLE));
});

test('the example may be reformatted: the lab does not read its text', (t) => {
  const dir = tempDir(t);
  // Re-serialised: comments, anchors, flow style and key layout all gone.
  const reformatted = join(dir, 'example.yaml');
  writeFileSync(reformatted, toYaml(parseYaml(readFileSync(EXAMPLE, 'utf8')), { indent: 4, aliasDuplicateObjects: false }));
  t.deepEqual(loadConfigFile(reformatted), loadConfigFile(EXAMPLE));
  t.deepEqual(validateConfig(labServerConfig(LAB_SERVER_PARAMS)), loadConfigFile(reformatted));
  // Nor do the scripts that bring the lab up, nor the e2e harness: none of
  // their commands names the example (a comment may).
  const users = [
    ...readdirSync(join(ROOT, 'lab')).filter((f) => f.endsWith('.sh')).map((f) => join('lab', f)),
    join('test', 'harness', 'lab.ts'),
  ];
  for (const file of users) {
    const code = readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(#|\/\/|\*|\/\*)/.test(line));
    t.false(code.some((line) => line.includes('leasehold.example')), `${file} reads config/leasehold.example.yaml`);
  }
});

test('the script writes YAML the server loads, with the machine\'s link, addresses and key', (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'leasehold.yaml');
  const r = runScript([
    '--interface', 'enp0s8', '--address', '198.18.0.5/16', '--address6', 'fd00:198:18::5/64',
    '--dns', '198.18.0.6', '--dns6', 'fd00:198:18::6', '--key-name', 'k1', '--key-file', join(dir, 'ddns.key'),
    '--token-file', join(dir, 'control.token'), out,
  ]);
  t.is(r.code, 0, r.stderr);
  const config = loadConfigFile(out);
  t.deepEqual(config.interfaces, [{ name: 'enp0s8', address: '198.18.0.5' }]);
  t.like(config.subnets[0], { subnet: '198.18.0.0/16', interface: 'enp0s8' });
  t.deepEqual(config.subnets[0].options.routers, ['198.18.0.5']);
  t.deepEqual(config.subnets[0].options.dnsServers, ['198.18.0.6']);
  t.is(config.subnets[0].ddns?.slaacPrefix, 'fd00:198:18::/64');
  t.deepEqual(config.ddns?.zones.map((z) => [z.name, z.servers, z.key?.name, z.key?.secretFile]), LAB_SERVER_PARAMS.zones.map((name) => [
    name, [{ address: '198.18.0.6', port: 53 }], 'k1', join(dir, 'ddns.key'),
  ]));
  t.is(config.ra?.interfaces[0].name, 'enp0s8');
  t.deepEqual(config.ra?.interfaces[0].rdnss, ['fd00:198:18::6']);
  t.deepEqual(config.ra?.interfaces[0].prefixes.map((p) => `${p.prefix}/${p.prefixLength}`), ['fd00:198:18::/64']);
  t.deepEqual(config.control.http, { address: '198.18.0.5', port: 8000, tokenFile: join(dir, 'control.token') }, 'the API and metrics on the server\'s address, behind the lab\'s token');
});

test('the script applies an edits file, and what it wrote still validates', (t) => {
  const dir = tempDir(t);
  const edits = join(dir, 'edits.yaml');
  writeFileSync(edits, ['subnets.0.leaseTime: 40', 'expiredReclaimIntervalSeconds: 1', 'ddns.retry.initialMs: 250', 'ddns.retry.maxMs: 2000', ''].join('\n'));
  const out = join(dir, 'leasehold.yaml');
  const r = runScript(['--edits', edits, out]);
  t.is(r.code, 0, r.stderr);
  const config = loadConfigFile(out);
  t.is(config.subnets[0].leaseTime, 40);
  t.is(config.subnets[0].renewTime, 20); // the default T1 follows the lease (RFC 2131 §4.4.5)
  t.is(config.expiredReclaimIntervalSeconds, 1);
  t.like(config.ddns?.retry, { initialMs: 250, maxMs: 2000 });
});

test('bad arguments print usage and exit 2; bad parameters and edits exit 1 naming them', (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'out.yaml');
  for (const argv of [[], ['--nonsense', 'x', out], ['--interface'], [out, 'second']]) {
    const r = runScript(argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.stderr, /usage: server-config/);
  }
  const badAddress = runScript(['--address', '198.18.0.1', out]);
  t.is(badAddress.code, 1);
  t.regex(badAddress.stderr, /address "198\.18\.0\.1": not an address with a prefix length/);
  const badAddress6 = runScript(['--address6', 'fd00::zz/64', out]);
  t.is(badAddress6.code, 1);
  t.regex(badAddress6.stderr, /address6 "fd00::zz\/64"/);
  const edits = join(dir, 'edits.yaml');
  writeFileSync(edits, '- not a mapping\n');
  const badEdits = runScript(['--edits', edits, out]);
  t.is(badEdits.code, 1);
  t.regex(badEdits.stderr, /--edits .*: must be a mapping of dotted\.path: value/);
  const missing = runScript(['--edits', join(dir, 'missing.yaml'), out]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /--edits .*missing\.yaml: ENOENT/);
});

test('edits: set, create a mapping, index a list, remove with null', (t) => {
  const config: RawConfig = { a: { b: 1 }, list: [{ x: 1 }, { x: 2 }], gone: true };
  applyConfigEdits(config, { 'a.b': 2, 'a.c.d': 'new', 'list.1.x': 3, gone: null, 'list.0': null });
  t.deepEqual(config, { a: { b: 2, c: { d: 'new' } }, list: [{ x: 3 }] });
});

test('edits: a missing list item, a path through a scalar and an empty key are errors naming the path', (t) => {
  const config = labServerConfig(LAB_SERVER_PARAMS);
  t.throws(() => applyConfigEdits(config, { 'subnets.1.leaseTime': 40 }), {
    instanceOf: LabConfigError,
    message: 'config edit "subnets.1.leaseTime": subnets is a list of 1, it has no item 1',
  });
  t.throws(() => applyConfigEdits(config, { 'subnets.first.leaseTime': 40 }), { message: /subnets is a list of 1, it has no item first/ });
  t.throws(() => applyConfigEdits(config, { 'declineQuarantineSeconds.x': 1 }), {
    message: 'config edit "declineQuarantineSeconds.x": declineQuarantineSeconds is 600, not a mapping or a list',
  });
  t.throws(() => applyConfigEdits(config, { 'ddns..retry': 1 }), { message: /empty key/ });
});

test('a misspelt edit is caught by the server\'s validator, naming the field', (t) => {
  const config = applyConfigEdits(labServerConfig(LAB_SERVER_PARAMS), { 'ddns.retry.intialMs': 250 });
  t.throws(() => validateConfig(config), { message: /ddns\.retry\.intialMs/ });
});

test('two appliances on the shared PostgreSQL store: each its own address and ha.serverName, the same subnet, store, DDNS and RAs', (t) => {
  const dir = tempDir(t);
  const store = ['--pg-host', '198.18.0.4', '--pg-database', 'leasehold', '--pg-user', 'leasehold', '--pg-password-file', '/run/lab/pg.password'];
  const outs = ['198.18.0.1/16', '198.18.0.3/16'].map((address, i) => {
    const out = join(dir, `appliance${i + 1}.yaml`);
    const address6 = `fd00:198:18::${i === 0 ? 1 : 3}/64`;
    const r = runScript(['--address', address, '--address6', address6, ...store, '--ha-server-name', `appliance-${i + 1}`, out]);
    t.is(r.code, 0, r.stderr);
    return loadConfigFile(out);
  });
  const [one, two] = outs;
  for (const config of outs) {
    t.like(config.leaseStore, { type: 'postgresql', host: '198.18.0.4', port: 5432, database: 'leasehold', user: 'leasehold', shared: true });
    // DNS updates from both: the shared queue's claims decide which one sends each change.
    t.true(config.ddns?.enabled);
    // The HA lease timers: T2 at 0.75 of the lease, so a dead server's clients rebind to the other sooner.
    t.like(config.subnets[0], { leaseTime: 3600, renewTime: 1800, rebindTime: 2700 });
  }
  t.is(one.ha?.serverName, 'appliance-1');
  t.is(two.ha?.serverName, 'appliance-2');
  t.deepEqual(one.ddns, two.ddns);
  t.deepEqual(one.interfaces.map((i) => i.address), ['198.18.0.1']);
  t.deepEqual(two.interfaces.map((i) => i.address), ['198.18.0.3']);
  // One subnet and pool for both; consistent RAs (RFC 4861 §6.2.7): the same prefixes, RDNSS and DNSSL.
  t.deepEqual(one.subnets.map((s) => [s.subnet, s.pools]), two.subnets.map((s) => [s.subnet, s.pools]));
  t.deepEqual(one.ra, two.ra);
});

test('the --pg-* flags come all together or not at all; a bad port is named', (t) => {
  const out = join(tempDir(t), 'out.yaml');
  const partial = runScript(['--pg-host', '198.18.0.4', '--pg-user', 'leasehold', out]);
  t.is(partial.code, 1);
  t.is(partial.stderr, 'server-config: a shared PostgreSQL store needs --pg-database, --pg-password-file as well');
  const badPort = runScript(['--pg-host', 'h', '--pg-database', 'd', '--pg-user', 'u', '--pg-password-file', 'f', '--pg-port', 'x', out]);
  t.is(badPort.code, 1);
  t.regex(badPort.stderr, /--pg-port "x": not a port number/);
  const noName = runScript(['--pg-host', 'h', '--pg-database', 'd', '--pg-user', 'u', '--pg-password-file', 'f', out]);
  t.is(noName.code, 1);
  t.is(noName.stderr, 'server-config: a shared PostgreSQL store needs --ha-server-name (ha.serverName) as well');
  const nameAlone = runScript(['--ha-server-name', 'appliance-1', out]);
  t.is(nameAlone.code, 1);
  t.regex(nameAlone.stderr, /--ha-server-name needs the shared PostgreSQL store/);
  // Without them: the single appliance's SQLite lab, as before.
  t.is(runScript([out]).code, 0);
  t.not(loadConfigFile(out).leaseStore.type, 'postgresql');
});
