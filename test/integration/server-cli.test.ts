// leasehold-server as an operator meets it: bad arguments, bad config, a
// port in use, a missing interface, an unreadable store, garbage on the wire.
// Each must give one clear line and a non-zero exit, or be counted and
// dropped while the server keeps serving.
import test from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSegment, execIn, sweepStale, type Segment } from '../harness/netns.ts';
import { startUdhcpc } from '../harness/clients.ts';
import { REPO_ROOT } from '../harness/run-command.ts';
import { CLI, cli } from '../harness/server-cli.ts';
const PREFIX = 'lt-cli';

test.before(() => sweepStale(PREFIX));

function config(dir: string, over: Record<string, unknown> = {}): object {
  return {
    interfaces: [{ name: 'eth0' }],
    subnets: [
      {
        id: 'lan',
        subnet: '198.18.0.0/24',
        interface: 'eth0',
        pools: [{ start: '198.18.0.100', end: '198.18.0.150' }],
        leaseTime: 600,
        options: { routers: ['198.18.0.1'] },
      },
    ],
    leaseStore: { type: 'sqlite', path: join(dir, 'leases.db') },
    log: { level: 'debug' },
    ...over,
  };
}

async function withSegment(t: { teardown(fn: () => Promise<void>): void }, name: string): Promise<Segment> {
  const segment = await createSegment(`${PREFIX}-${name}`);
  t.teardown(() => segment.destroy());
  return segment;
}

async function writeConfig(segment: Segment, name: string, body: object): Promise<string> {
  const path = join(segment.tmpDir, name);
  await writeFile(path, JSON.stringify(body));
  return path;
}

test('bad arguments print usage and exit 2', async (t) => {
  const none = await cli([]);
  t.is(none.code, 2);
  t.regex(none.stderr, /--config/);
  t.regex(none.stderr, /Missing required argument: config/);
  const unknown = await cli(['--config', '/dev/null', '--frobnicate']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /Unknown argument: frobnicate/);
});

test('--check validates: ok for the example config, one line per problem otherwise', async (t) => {
  const ok = await cli(['--config', 'config/leasehold.example.yaml', '--check']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /ok/);
  const segment = await withSegment(t, 'chk');
  const bad = await writeConfig(segment, 'bad.json', {
    ...config(segment.tmpDir),
    subnets: [{ id: 'lan', subnet: '198.18.0.0/24', pools: [{ start: '198.18.1.1', end: '198.18.0.9' }], leaseTime: 600, leasetime: 5 }],
  });
  const out = await cli(['--config', bad, '--check']);
  t.is(out.code, 1);
  t.regex(out.stderr, /subnets\[0\]\.pools\[0\]\.start/);
  t.regex(out.stderr, /unknown field "leasetime"/);
  const missing = await cli(['--config', join(segment.tmpDir, 'nope.yaml'), '--check']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /nope\.yaml/);
});

test('a missing interface, a port in use, an unreadable store and a missing key file each give one clear line', async (t) => {
  const segment = await withSegment(t, 'err');
  const srv = await segment.addHost('srv', { ipv4: '198.18.0.1/24' });

  const noIfConfig = config(segment.tmpDir, { interfaces: [{ name: 'lt-nothere0' }] }) as { subnets: Array<{ interface: string }> };
  noIfConfig.subnets[0].interface = 'lt-nothere0';
  const noIf = await writeConfig(segment, 'noif.json', noIfConfig);
  const a = await cli(['--config', noIf], srv.netns);
  t.is(a.code, 1);
  t.regex(a.stderr, /interface lt-nothere0: no such interface/);
  t.is(a.stderr.trim().split('\n').length, 1);

  const storeDir = join(segment.tmpDir, 'store-is-a-dir');
  await mkdir(join(storeDir, 'leases.db'), { recursive: true });
  const badStore = await writeConfig(segment, 'store.json', config(storeDir));
  const b = await cli(['--config', badStore], srv.netns);
  t.is(b.code, 1);
  t.regex(b.stderr, /lease store .*leases\.db/);
  t.is(b.stderr.trim().split('\n').length, 1);

  const noKey = await writeConfig(segment, 'nokey.json', config(segment.tmpDir, {
    ddns: { zones: [{ name: 'leasehold.test', servers: [{ address: '198.18.0.2' }], key: { name: 'k', secretFile: 'missing.key' } }] },
  }));
  const k = await cli(['--config', noKey], srv.netns);
  t.is(k.code, 1);
  t.regex(k.stderr, /ddns zone leasehold\.test: cannot read key file .*missing\.key/);
  t.is(k.stderr.trim().split('\n').length, 1);

  const good = await writeConfig(segment, 'good.json', config(segment.tmpDir));
  const first = segment.spawnIn(srv.netns, ['node', ...CLI, '--config', good], { cwd: REPO_ROOT });
  await first.waitForOutput(/"event":"ready"/, 30_000);
  const second = await writeConfig(segment, 'second.json', config(join(segment.tmpDir, 'second')));
  await mkdir(join(segment.tmpDir, 'second'));
  const c = await cli(['--config', second], srv.netns);
  t.is(c.code, 1);
  t.regex(c.stderr, /UDP port 67: already in use/);
  await first.stop();
});

test('garbage on the wire is counted and dropped; the server keeps serving', async (t) => {
  const segment = await withSegment(t, 'mal');
  const srv = await segment.addHost('srv', { ipv4: '198.18.0.1/24' });
  const noisy = await segment.addHost('nz', { ipv4: '198.18.0.9/24' });
  const path = await writeConfig(segment, 'cfg.json', config(segment.tmpDir));
  const server = segment.spawnIn(srv.netns, ['node', ...CLI, '--config', path], { cwd: REPO_ROOT });
  await server.waitForOutput(/"event":"ready"/, 30_000);

  // Truncated header, wrong cookie, an option running past the end, a bad
  // option 50 length, a BOOTREPLY: each a different path through the decoder.
  const valid = Buffer.alloc(300);
  valid[0] = 1;
  valid[1] = 1;
  valid[2] = 6;
  Buffer.from([99, 130, 83, 99]).copy(valid, 236);
  const variants = [
    Buffer.alloc(12, 0xff),
    Buffer.concat([valid.subarray(0, 236), Buffer.from([1, 2, 3, 4])]),
    Buffer.concat([valid.subarray(0, 240), Buffer.from([53, 200, 1])]),
    Buffer.concat([valid.subarray(0, 240), Buffer.from([53, 1, 1, 50, 3, 1, 2, 3, 255])]),
  ];
  const script = `const d=require('dgram').createSocket('udp4');const bufs=${JSON.stringify(variants.map((b) => b.toString('hex')))};let n=0;for(const h of bufs)d.send(Buffer.from(h,'hex'),67,'198.18.0.1',()=>{if(++n===bufs.length)d.close()});`;
  await execIn(noisy.netns, ['node', '-e', script]);
  await server.waitForOutput(/malformed-packet(.|\n)*malformed-packet(.|\n)*malformed-packet(.|\n)*malformed-packet/, 10_000);

  const client = await startUdhcpc(await segment.addHost('cli'), { hostname: 'after-garbage' });
  const bound = await client.waitFor('bound', 20_000);
  t.regex(String(bound.ip), /^198\.18\.0\.1[0-5]\d$/);
  server.signal('SIGTERM');
  const counters = await server.waitForOutput(/"event":"stopped".*"packets_malformed":(\d+)/, 10_000);
  t.true(Number(counters[1]) >= 4, server.tail(5));
});
