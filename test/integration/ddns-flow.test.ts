// The whole DDNS flow with real parts: busybox udhcpc and ISC dhclient get
// leases from the server, which publishes them in a real BIND with
// TSIG-signed RFC 2136 updates guarded by DHCID records, and withdraws them
// when the lease ends. Checked with dig, as an operator would.
import test, { type ExecutionContext } from 'ava';
import { STATIC_PRINTER_ADDRESS } from '../../lab/bind-config.ts';
import { expectDns, reverseV4 } from '../harness/bind.ts';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import { useDdnsLab, waitForDnsToMatch, type DdnsLab } from '../harness/ddns-lab.ts';
import { sweepAround } from '../harness/fixture.ts';
import type { Host, Segment } from '../harness/netns.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { pollUntil } from '../harness/poll.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';

const PREFIX = 'lt-dd';
sweepAround(test, PREFIX);

const SLAAC_PREFIX = 'fd00:198:18::/64';

/** The lab with the server started, its clients named in the subnet's /64 too (AAAA records). */
async function lab(t: ExecutionContext, extra: Record<string, unknown> = {}, keyOverride?: object): Promise<DdnsLab & { server: TrackedProcess }> {
  const l = await useDdnsLab(t, PREFIX, { ddns: extra, key: keyOverride, slaacPrefix: SLAAC_PREFIX });
  return { ...l, server: await l.startServer() };
}

/** The EUI-64 address (RFC 4291 Appendix A) of `mac` in fd00:198:18::/64, as dig prints it. */
function slaac(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  b[0] ^= 0x02;
  const groups = [(b[0] << 8) | b[1], (b[2] << 8) | 0xff, (0xfe << 8) | b[3], (b[4] << 8) | b[5]];
  return `fd00:198:18:0:${groups.map((g) => g.toString(16)).join(':')}`;
}

async function addClient(segment: Segment, name: string): Promise<Host> {
  return segment.addHost(name);
}

test('udhcpc: A, AAAA, PTR and DHCID appear after the ACK and go with the RELEASE', async (t) => {
  const { segment, bind, server } = await lab(t);
  const host = await addClient(segment, 'c1');
  const client = await startUdhcpc(host, { hostname: 'web1' });
  const bound = await client.waitFor('bound');
  const fqdn = 'web1.lab.leasehold.test';
  await expectDns(t, bind, fqdn, 'A', [bound.ip]);
  await expectDns(t, bind, fqdn, 'AAAA', [slaac(host.mac)]);
  await expectDns(t, bind, reverseV4(bound.ip), 'PTR', [`${fqdn}.`]);
  t.is((await bind.dig(fqdn, 'DHCID')).length, 1, 'the name is guarded by a DHCID');

  client.release();
  await expectDns(t, bind, fqdn, 'A', []);
  await expectDns(t, bind, fqdn, 'AAAA', []);
  await expectDns(t, bind, fqdn, 'DHCID', []);
  await expectDns(t, bind, reverseV4(bound.ip), 'PTR', []);
  t.regex(server.output, /"event":"ddns-updated"/);
});

test('dhclient with a partial client FQDN "db1.web" is published as db1.web.leasehold.test', async (t) => {
  const { segment, bind } = await lab(t);
  const client = await startDhclient(await addClient(segment, 'c2'), { fqdn: 'db1.web' });
  const bound = await client.waitFor('BOUND');
  await expectDns(t, bind, 'db1.web.leasehold.test', 'A', [bound.new_ip_address]);
});

test('a second client asking for a name in use does not get it; the first keeps it', async (t) => {
  const { segment, bind, server } = await lab(t);
  const first = await startUdhcpc(await addClient(segment, 'c3'), { hostname: 'shared' });
  const a = await first.waitFor('bound');
  await expectDns(t, bind, 'shared.lab.leasehold.test', 'A', [a.ip]);
  const second = await startUdhcpc(await addClient(segment, 'c4'), { hostname: 'shared' });
  const b = await second.waitFor('bound');
  t.not(a.ip, b.ip);
  await server.waitForOutput(/"event":"ddns-conflict"/, 10_000);
  await expectDns(t, bind, 'shared.lab.leasehold.test', 'A', [a.ip]);
  await expectDns(t, bind, reverseV4(b.ip), 'PTR', [], 2000);
});

test('a static record someone put in the zone is never taken over', async (t) => {
  const { segment, bind, server } = await lab(t);
  const client = await startUdhcpc(await addClient(segment, 'cp'), { hostname: 'printer' });
  const bound = await client.waitFor('bound');
  await server.waitForOutput(/"event":"ddns-conflict".*printer\.lab\.leasehold\.test/, 10_000);
  await expectDns(t, bind, 'printer.lab.leasehold.test', 'A', [STATIC_PRINTER_ADDRESS]);
  t.deepEqual(await bind.dig('printer.lab.leasehold.test', 'DHCID'), []);
  t.deepEqual(await bind.dig(reverseV4(bound.ip), 'PTR'), [], 'no PTR to a name that is not the client\'s');
});

test('with BIND down, changes wait in the queue and are sent when it returns', async (t) => {
  const { segment, bind } = await lab(t);
  await bind.stop();
  const client = await startUdhcpc(await addClient(segment, 'c5'), { hostname: 'patient' });
  const bound = await client.waitFor('bound');
  await bind.start();
  await expectDns(t, bind, 'patient.lab.leasehold.test', 'A', [bound.ip], 15_000);
});

test('a server killed with SIGKILL resumes its queue after restart: no change lost', async (t) => {
  const l = await lab(t);
  await l.bind.stop();
  const client = await startUdhcpc(await addClient(l.segment, 'c6'), { hostname: 'survivor' });
  const bound = await client.waitFor('bound');
  l.server.signal('SIGKILL');
  await l.server.exited;
  await l.bind.start();
  const restarted = await l.startServer();
  await restarted.waitForOutput(/"event":"ddns-queue-resumed"/, 10_000);
  await expectDns(t, l.bind, 'survivor.lab.leasehold.test', 'A', [bound.ip], 15_000);
});

test('a wrong TSIG key: a clear error in the log, and no change in DNS', async (t) => {
  const { segment, bind, server } = await lab(t, {}, { name: 'leasehold-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 7).toString('base64') });
  const client = await startUdhcpc(await addClient(segment, 'c7'), { hostname: 'intruder' });
  await client.waitFor('bound');
  const failure = await server.waitForOutput(/"event":"ddns-refused".*"code":"(E_\w+)"/, 15_000);
  t.regex(failure[1], /E_(TSIG|DNS)_\w+/);
  t.regex(server.output, /BADSIG|BADKEY|NOTAUTH/);
  await expectDns(t, bind, 'intruder.lab.leasehold.test', 'A', [], 1000);
});

test('the reconciler repairs drift: a deleted record comes back, a stale name goes', async (t) => {
  const { segment, bind, server } = await lab(t, { reconcileIntervalSeconds: 1 });
  const host = await addClient(segment, 'c8');
  const keeper = await startUdhcpc(host, { hostname: 'keeper' });
  const kept = await keeper.waitFor('bound');
  await expectDns(t, bind, 'keeper.lab.leasehold.test', 'A', [kept.ip]);
  // Someone deletes the record: it must come back.
  // The reconciler runs every second, so the gap may close before a poll of
  // BIND sees it: its drift line is the proof that it saw the record missing.
  await bind.nsupdate(['update delete keeper.lab.leasehold.test A']);
  await server.waitForOutput(/"event":"ddns-drift","kind":"missing","fqdn":"keeper\.lab\.leasehold\.test"/, 10_000);
  await expectDns(t, bind, 'keeper.lab.leasehold.test', 'A', [kept.ip], 10_000);

  // A lease that ended, whose records someone restored (with the client's
  // DHCID, as a restore from backup would): they must go again.
  const leaver = await startUdhcpc(await addClient(segment, 'c9'), { hostname: 'leaver' });
  const left = await leaver.waitFor('bound');
  const fqdn = 'leaver.lab.leasehold.test';
  await expectDns(t, bind, fqdn, 'A', [left.ip]);
  const [dhcid] = await bind.dig(fqdn, 'DHCID');
  leaver.release();
  await expectDns(t, bind, fqdn, 'A', []);
  await bind.nsupdate([`update add ${fqdn} 300 A ${left.ip}`, `update add ${fqdn} 300 DHCID ${dhcid}`]);
  await bind.nsupdate([`update add ${reverseV4(left.ip)} 300 PTR ${fqdn}.`]);
  // nsupdate failing throws; as above, the drift line shows the reconciler found them.
  await server.waitForOutput(new RegExp(`"event":"ddns-drift","kind":"stale","fqdn":"${fqdn.replaceAll('.', '\\.')}"`), 10_000);
  await expectDns(t, bind, fqdn, 'A', [], 10_000);
  await expectDns(t, bind, reverseV4(left.ip), 'PTR', [], 10_000);
});

test('BIND down while 100 clients come and go, the server SIGKILLed and restarted: back up, DNS converges to the lease table', async (t) => {
  const l = await lab(t);
  await l.bind.stop();
  const hosts = await l.segment.addHosts(Array.from({ length: 100 }, (_, i) => ({ name: `h${i}` })));
  const clients = await mapLimit(hosts, 20, async (host) => {
    const client = await startUdhcpc(host, { hostname: `churn-${host.name}`, discoverTries: 5 });
    await client.waitFor('bound', 30_000);
    return client;
  });
  // A third of them leave again, each with a RELEASE.
  clients.filter((_, i) => i % 3 === 0).forEach((c) => c.release());
  await pollUntil('the server to record 34 releases', async () => (await l.leases()).filter((x) => x.state === 'released').length === 34, { timeoutMs: 15_000 });
  // The server dies with every one of those changes still queued.
  l.server.signal('SIGKILL');
  await l.server.exited;
  await l.startServer();

  await l.bind.start();
  const table = await l.leases();
  const expected = new Map(table.filter((x) => x.state === 'bound' && x.fqdn).map((x) => [x.fqdn as string, x.ip]));
  t.is(expected.size, 66);
  const names = hosts.map((h) => `churn-${h.name}.lab.leasehold.test`);
  await waitForDnsToMatch(l.bind, names, expected);
  t.pass('every bound lease is in DNS with its address, and no released one is');
});
