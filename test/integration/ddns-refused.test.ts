// DNS updates a zone refuses for good, with real parts: the server holds a
// wrong TSIG key for the forward zone of a real BIND. DHCP goes on (real
// udhcpc clients get their leases), the refused changes are parked in the
// durable queue — counted, logged once as an error naming zone and key, not
// retried — while a zone whose key is right keeps being updated; once the
// key file is corrected (or, for an inline key, the server restarted with a
// right one) the parked changes are published.
import test, { type ExecutionContext } from 'ava';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expectDns, LEASEHOLD_TEST_ZONES, reverseV4, startBind, type BindServer } from '../harness/bind.ts';
import { startUdhcpc } from '../harness/clients.ts';
import { cliLeases, DDNS_DNS_IP, DDNS_SERVER_IP, queuedNames, startCliServer, writeDdnsLabConfig } from '../harness/ddns-lab.ts';
import { sweepAround, useSegment } from '../harness/fixture.ts';
import type { Host, Segment } from '../harness/netns.ts';
import { pollUntil } from '../harness/poll.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';

const PREFIX = 'lt-ddr';
sweepAround(test, PREFIX);

/** A zone of its own for names `<host>.web.leasehold.test`, updated with the right key throughout. */
const WEB_ZONE = 'web.leasehold.test';
const WRONG_SECRET = Buffer.alloc(32, 7).toString('base64');

interface Lab {
  segment: Segment;
  bind: BindServer;
  srvHost: Host;
  /** The file the forward zone's key is read from: wrong at first. */
  forwardKeyFile: string;
  storePath: string;
  configPath: string;
  writeConfig(forwardKey: object): Promise<void>;
  startServer(): Promise<TrackedProcess>;
}

async function lab(t: ExecutionContext): Promise<Lab> {
  const segment = await useSegment(t, PREFIX);
  const dnsHost = await segment.addHost('dns', { ipv4: `${DDNS_DNS_IP}/16` });
  const srvHost = await segment.addHost('srv', { ipv4: `${DDNS_SERVER_IP}/16` });
  const bind = await startBind(dnsHost, { zones: [...LEASEHOLD_TEST_ZONES, { name: WEB_ZONE }] });
  const rightKeyFile = join(bind.dir, 'keys.conf');
  const forwardKeyFile = join(segment.tmpDir, 'forward.key');
  // The key's name and algorithm as BIND knows them, another secret: BIND answers NOTAUTH/BADSIG.
  await writeFile(forwardKeyFile, `key "${bind.key.name}" {\n\talgorithm ${bind.key.algorithm};\n\tsecret "${WRONG_SECRET}";\n};\n`);
  const right = { name: bind.key.name, algorithm: bind.key.algorithm, secretFile: rightKeyFile };
  const storePath = join(segment.tmpDir, 'leases.db');
  const configPath = join(segment.tmpDir, 'leasehold.json');
  const writeConfig = (forwardKey: object) =>
    writeDdnsLabConfig(configPath, { storePath, zones: bind.zones.map(({ name }) => ({ name, key: name === 'leasehold.test' ? forwardKey : right })) });
  await writeConfig({ ...right, secretFile: forwardKeyFile });
  const startServer = () => startCliServer(srvHost, configPath);
  return { segment, bind, srvHost, forwardKeyFile, storePath, configPath, writeConfig, startServer };
}

function events(output: string, event: string): Array<Record<string, unknown>> {
  return output.split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('a wrong key file: DHCP goes on, the refused changes are parked and logged once, the right zone is updated, and the corrected file publishes them without a restart', async (t) => {
  const l = await lab(t);
  const server = await l.startServer();
  const first = await (await startUdhcpc(await l.segment.addHost('c1'), { hostname: 'parked1' })).waitFor('bound');
  const second = await (await startUdhcpc(await l.segment.addHost('c2'), { hostname: 'parked2' })).waitFor('bound');
  const flowing = await (await startUdhcpc(await l.segment.addHost('c3'), { fqdn: 'flow.web' })).waitFor('bound');
  t.truthy(first.ip && second.ip && flowing.ip, 'every client got its lease: DHCP does not wait for DNS');

  // The zone with the right key is updated meanwhile, PTRs included.
  await expectDns(t, l.bind, `flow.${WEB_ZONE}`, 'A', [flowing.ip]);
  await expectDns(t, l.bind, reverseV4(flowing.ip), 'PTR', [`flow.${WEB_ZONE}.`]);

  const parked = () => events(server.output, 'ddns-parked').map((e) => e.fqdn).sort();
  await pollUntil('both names to be parked', async () => parked().length === 2, { timeoutMs: 20_000, describe: () => server.tail() });
  t.deepEqual(parked(), ['parked1.lab.leasehold.test', 'parked2.lab.leasehold.test']);
  const refused = events(server.output, 'ddns-refused');
  t.is(refused.length, 1, 'logged once for the zone, not once per name or per attempt');
  t.like(refused[0], {
    level: 'error', zone: 'leasehold.test', key: l.bind.key.name, algorithm: l.bind.key.algorithm, keyFile: l.forwardKeyFile,
    rcode: 'NOTAUTH', tsigError: 'BADSIG', code: 'E_TSIG_BADSIG',
  });
  // Not retried: each name was sent once; three longest back-offs later, still once.
  const attempts = () => events(server.output, 'ddns-update-refused').length;
  t.is(attempts(), 2);
  await new Promise((r) => setTimeout(r, 3000));
  t.is(attempts(), 2, 'a parked change is not retried');
  t.deepEqual(events(server.output, 'ddns-retry'), []);

  t.deepEqual(queuedNames(l.storePath).sort(), ['parked1.lab.leasehold.test', 'parked2.lab.leasehold.test'], 'kept in the durable queue');
  const table = await cliLeases(l.srvHost, l.configPath);
  t.like(table.find((x) => x.ip === first.ip), { state: 'bound', fqdn: 'parked1.lab.leasehold.test' });
  t.deepEqual(await l.bind.dig('parked1.lab.leasehold.test', 'A'), []);
  t.deepEqual(await l.bind.dig(reverseV4(first.ip), 'PTR'), [], 'no PTR to a name that is not published');

  // The operator puts the right key in place, by rename, as an editor would.
  await writeFile(`${l.forwardKeyFile}.new`, await readFile(join(l.bind.dir, 'keys.conf')));
  await rename(`${l.forwardKeyFile}.new`, l.forwardKeyFile);
  await server.waitForOutput(/"event":"ddns-key-reloaded".*"zone":"leasehold\.test"/, 10_000);
  await expectDns(t, l.bind, 'parked1.lab.leasehold.test', 'A', [first.ip]);
  await expectDns(t, l.bind, 'parked2.lab.leasehold.test', 'A', [second.ip]);
  await expectDns(t, l.bind, reverseV4(first.ip), 'PTR', ['parked1.lab.leasehold.test.']);
  await pollUntil('the DNS queue to empty', async () => queuedNames(l.storePath).length === 0, { timeoutMs: 5000 });

  server.signal('SIGTERM');
  await server.waitForOutput(/"event":"stopped"/, 10_000);
  const counters = events(server.output, 'stopped')[0].counters as Record<string, number>;
  t.like(counters, { ddns_refused: 2, ddns_add_done: 6 });
  t.false('ddns_retries' in counters, 'nothing was retried with back-off');
  for (const secret of [WRONG_SECRET, l.bind.key.secret.toString('base64')]) t.false(server.output.includes(secret), 'no secret in the log');
});

test('an inline wrong key: the parked change survives the stop and is published by the next start with the right key', async (t) => {
  const l = await lab(t);
  await l.writeConfig({ name: l.bind.key.name, algorithm: l.bind.key.algorithm, secret: WRONG_SECRET });
  const server = await l.startServer();
  const bound = await (await startUdhcpc(await l.segment.addHost('c1'), { hostname: 'later' })).waitFor('bound');
  await server.waitForOutput(/"event":"ddns-refused".*"zone":"leasehold\.test"/, 20_000);
  t.false(server.output.includes(WRONG_SECRET), 'the inline secret is not logged');
  await server.stop(5000);
  t.deepEqual(queuedNames(l.storePath), ['later.lab.leasehold.test']);

  await l.writeConfig({ name: l.bind.key.name, algorithm: l.bind.key.algorithm, secret: l.bind.key.secret.toString('base64') });
  const restarted = await l.startServer();
  await restarted.waitForOutput(/"event":"ddns-queue-resumed".*"pending":1/, 10_000);
  await expectDns(t, l.bind, 'later.lab.leasehold.test', 'A', [bound.ip]);
  await pollUntil('the DNS queue to empty', async () => queuedNames(l.storePath).length === 0, { timeoutMs: 5000 });
});
