// Batched UPDATEs against a real BIND: the changes of many names queued at
// once (BIND down, the server restarted) go out as one message per zone,
// and RFC 4703 still holds per name — a name someone else holds makes the
// message fail as a whole (RFC 2136 §3.2), the worker splits it, the other
// names are published and the conflict is left alone and logged. A server
// killed while such a message is on the wire loses nothing: after a restart
// DNS equals the lease table.
import test from 'ava';
import { expectDns, reverseV4 } from '../harness/bind.ts';
import { startUdhcpc, type UdhcpcClient } from '../harness/clients.ts';
import { queuedNames, useDdnsLab, waitForDnsToMatch, type DdnsLab } from '../harness/ddns-lab.ts';
import { sweepAround } from '../harness/fixture.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { pollUntil } from '../harness/poll.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';

const PREFIX = 'lt-ddb';
sweepAround(test, PREFIX);

const FORWARD = 'leasehold.test';
const fqdn = (host: string) => `${host}.lab.leasehold.test`;

/** `count` udhcpc clients named `<stem>-<i>`, each bound. */
async function bindClients(l: DdnsLab, stem: string, count: number): Promise<Array<{ client: UdhcpcClient; host: string; ip: string }>> {
  const hosts = await l.segment.addHosts(Array.from({ length: count }, (_, i) => ({ name: `${stem[0]}${i}` })));
  return mapLimit(hosts, 20, async (h, i) => {
    const host = `${stem}-${i}`;
    const client = await startUdhcpc(h, { hostname: host, discoverTries: 5 });
    const bound = await client.waitFor('bound', 30_000);
    return { client, host, ip: bound.ip };
  });
}

/** The UPDATE messages a server logged sending (debug `ddns-update-sent`): zone and names in each. */
function sentMessages(server: TrackedProcess): Array<{ zone: string; names: number }> {
  return server.output
    .split('\n')
    .filter((line) => line.includes('"event":"ddns-update-sent"'))
    .map((line) => JSON.parse(line) as { zone: string; names: number });
}

async function killed(server: TrackedProcess): Promise<void> {
  server.signal('SIGKILL');
  await server.exited;
}

test('a batch of 50 names with one conflicting name: 49 published, the conflict left alone and logged once', async (t) => {
  const l = await useDdnsLab(t, PREFIX);
  // Someone's static record where client 17 wants its name (no DHCID: not a client's).
  await l.bind.nsupdate([`update add ${fqdn('batch-17')} 300 A 198.18.0.97`]);
  const first = await l.startServer();
  await l.bind.stop();
  const clients = await bindClients(l, 'batch', 50);
  // The 50 changes are in the store; the restarted server sends them together.
  await killed(first);
  await l.bind.start();
  const server = await l.startServer();
  await pollUntil('the DNS queue to empty', async () => queuedNames(l.storePath).length === 0, { timeoutMs: 15_000, describe: () => server.tail() });
  for (const { host, ip } of clients) {
    if (host === 'batch-17') continue;
    await expectDns(t, l.bind, fqdn(host), 'A', [ip]);
    await expectDns(t, l.bind, reverseV4(ip), 'PTR', [`${fqdn(host)}.`]);
  }
  await expectDns(t, l.bind, fqdn('batch-17'), 'A', ['198.18.0.97']);
  t.deepEqual(await l.bind.dig(fqdn('batch-17'), 'DHCID'), [], 'the static name gets no DHCID');
  const conflicted = clients.find((c) => c.host === 'batch-17');
  t.deepEqual(await l.bind.dig(reverseV4(conflicted?.ip ?? ''), 'PTR'), [], 'and no PTR points at it');

  const messages = sentMessages(server);
  t.is(messages.find((m) => m.zone === FORWARD)?.names, 50, 'the first forward message carries all 50 names');
  t.true(/"event":"ddns-update-split".*"names":50/.test(server.output), 'its failed prerequisite split it');
  const conflicts = server.output.split('\n').filter((line) => line.includes('"event":"ddns-conflict"'));
  t.is(conflicts.length, 1, 'one conflict, logged once');
  t.regex(conflicts[0], /batch-17\.lab\.leasehold\.test/);
  const forward = messages.filter((m) => m.zone === FORWARD).length;
  t.true(forward <= 16, `${forward} forward messages for 50 names, where one each would be 50`);
});

test('SIGKILL while a batch is on the wire: after the restart DNS equals the lease table', async (t) => {
  const l = await useDdnsLab(t, PREFIX);
  const first = await l.startServer();
  await l.bind.stop();
  const clients = await bindClients(l, 'midway', 60);
  // A third leave: their add and removal fold once sent (nothing goes out for them).
  const leaving = clients.filter((_, i) => i % 3 === 0);
  for (const c of leaving) c.client.release();
  await pollUntil('the server to record the releases', async () => (await l.leases()).filter((x) => x.state === 'released').length === leaving.length, { timeoutMs: 15_000 });
  await killed(first);

  // BIND comes back but does not work yet: the kernel takes the TCP
  // connection and the batch, named does not answer.
  await l.bind.start();
  l.bind.process.signal('SIGSTOP');
  try {
    await l.bind.process.waitStopped();
    const second = await l.startServer();
    await pollUntil('a batch to be on the wire', async () => sentMessages(second).some((m) => m.names > 1), { timeoutMs: 10_000, describe: () => second.tail() });
    t.true(sentMessages(second).some((m) => m.zone === FORWARD && m.names >= 2), 'a forward message of several names is unanswered');
    await killed(second);
  } finally {
    l.bind.process.signal('SIGCONT');
  }

  await l.startServer();
  const table = await l.leases();
  const expected = new Map(table.filter((x) => x.state === 'bound' && x.fqdn).map((x) => [x.fqdn as string, x.ip]));
  t.is(expected.size, 40);
  await waitForDnsToMatch(l.bind, clients.map((c) => fqdn(c.host)), expected, 15_000);
  for (const c of clients.filter((_, i) => i % 3 === 1)) await expectDns(t, l.bind, reverseV4(c.ip), 'PTR', [`${fqdn(c.host)}.`]);
  for (const c of leaving.slice(0, 5)) await expectDns(t, l.bind, reverseV4(c.ip), 'PTR', []);
  t.pass('every bound lease is in DNS with its address, and no released one is');
});
