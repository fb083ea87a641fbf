import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ConfigError } from '../../server/config/config-error.ts';
import { loadConfigFile } from '../../server/config/load.ts';
import { ipToInt } from '../../lib/wire/ipv4.ts';

const examplePath = new URL('../../config/leasehold.example.yaml', import.meta.url).pathname;

function tempFile(t: ExecutionContext, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lt-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('the example configuration is valid and describes the lab', (t) => {
  const config = loadConfigFile(examplePath);
  t.deepEqual(config.interfaces, [{ name: 'eth0', address: '198.18.0.1' }]);
  t.is(config.subnets.length, 1);
  const lab = config.subnets[0];
  t.like(lab, { id: 'lab', subnet: '198.18.0.0/16', interface: 'eth0', leaseTime: 3600 });
  t.deepEqual(lab.options, {
    routers: ['198.18.0.1'],
    dnsServers: ['198.18.0.2'],
    domainName: 'leasehold.test',
    domainSearch: ['lab.leasehold.test', 'leasehold.test'],
  });
  const size = lab.pools.reduce((n, p) => n + ipToInt(p.end) - ipToInt(p.start) + 1, 0);
  t.true(size > 50_000, `pool holds ${size} addresses`);
  t.deepEqual(config.leaseStore, { type: 'sqlite', path: '/var/lib/leasehold/leases.db' });
  t.is(config.offerHoldSeconds, 30);
  t.is(config.declineQuarantineSeconds, 600);
});

test('JSON is read by extension', (t) => {
  const path = tempFile(
    t,
    'leasehold.json',
    JSON.stringify({
      interfaces: [{ name: 'eth0' }],
      subnets: [{ id: 'a', subnet: '198.18.0.0/24', leaseTime: 60, pools: [{ start: '198.18.0.10', end: '198.18.0.20' }] }],
    }),
  );
  const config = loadConfigFile(path);
  t.deepEqual(config.subnets[0].pools, [{ start: '198.18.0.10', end: '198.18.0.20' }]);
  t.is(config.subnets[0].renewTime, 30);
});

test('validation problems are reported with the file path on every line', (t) => {
  const path = tempFile(
    t,
    'bad.yaml',
    ['interfaces: [{ name: eth0 }]', 'subnets:', '  - id: a', '    subnet: 198.18.0.0/24', '    leasetime: 60', ''].join('\n'),
  );
  const err = t.throws(() => loadConfigFile(path), { instanceOf: ConfigError });
  t.is(err.file, path);
  t.deepEqual(err.message.split('\n'), [
    `${path}: subnets[0].leasetime: unknown field "leasetime" (did you mean "leaseTime"?)`,
    `${path}: subnets[0].leaseTime: is required`,
  ]);
});

test('a missing file names its path', (t) => {
  const path = join(tmpdir(), 'lt-config-does-not-exist', 'leasehold.yaml');
  const err = t.throws(() => loadConfigFile(path), { instanceOf: ConfigError });
  t.is(err.code, 'E_CONFIG');
  t.regex(err.message, new RegExp(`^${path}: cannot read: ENOENT`));
  t.false(err.message.includes('\n'));
});

test('a YAML syntax error names the file and line', (t) => {
  const path = tempFile(t, 'broken.yaml', 'interfaces:\n  - name: eth0\n   bad: [\n');
  const err = t.throws(() => loadConfigFile(path), { instanceOf: ConfigError });
  t.regex(err.message, new RegExp(`^${path}: cannot parse: .*line 3`));
  t.false(err.message.includes('\n'));
});

test('a JSON syntax error names the file', (t) => {
  const path = tempFile(t, 'broken.json', '{"interfaces": [}');
  const err = t.throws(() => loadConfigFile(path), { instanceOf: ConfigError });
  t.regex(err.message, new RegExp(`^${path}: cannot parse: `));
});
