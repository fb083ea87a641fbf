import test from 'ava';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import {
  boundRows, expectServedAtRebind, HA_NAMES, macsOwnedBy, ownerOfRow, startHaPair, stoppedCounters, usageOf, waitAlone, waitForLiveSet,
} from '../harness/ha-lab.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { pollUntil } from '../harness/poll.ts';
import { REPO_ROOT } from '../harness/run-command.ts';
import { CLI, cli } from '../harness/server-cli.ts';
import { sweepStale } from '../harness/netns.ts';
import { usePostgres } from '../harness/postgres.ts';

// Two servers on one PostgreSQL, splitting the clients by RFC 3074 buckets:
// real namespaces, real udhcpc and ISC dhclient, PostgreSQL over TCP inside
// the segment (ha-lab.ts startHaPair). The cut-off case is ha-cutoff.test.ts.

const PREFIX = 'lt-hal';
test.before(() => sweepStale(PREFIX));
test.after.always(() => sweepStale(PREFIX));
const cluster = usePostgres(test, PREFIX);

const CLIENTS = Number(process.env.LEASEHOLD_TEST_HA_CLIENTS ?? 200);

test.serial(`two servers, ${CLIENTS} clients (udhcpc and ISC dhclient): distinct addresses, each granted by its bucket's owner`, async (t) => {
  // Service delay off: every answer must come from the bucket's owner.
  const { segment, db, servers } = await startHaPair(t, { prefix: PREFIX, name: 'lb', cluster: cluster(), subnetTimes: { leaseTime: 600 }, ha: { loadBalanceMaxSecs: 0 } });
  const clients = await segment.addHosts(Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}` })));
  // Every other client is dhclient: it sends no option 61, so its bucket is
  // its chaddr's, where udhcpc's is its client id's (01 + MAC). dhclient
  // runs on our own config file and hook script (clients.ts), never
  // dhclient-script, and stays running until the table is checked.
  const running: Array<{ stop(): Promise<void> }> = [];
  t.teardown(() => Promise.all(running.map((c) => c.stop())));
  const granted = await mapLimit(clients, 100, async (host, i) => {
    if (i % 2 === 1) {
      const client = await startDhclient(host);
      running.push(client);
      return (await client.waitFor('BOUND', 120_000)).new_ip_address;
    }
    const client = await startUdhcpc(host, { oneShot: true, discoverTries: 30 });
    const bound = await client.waitFor('bound', 120_000);
    await client.process.exited;
    return bound.ip;
  });
  t.is(new Set(granted).size, CLIENTS, 'every client a different address');
  const rows = await boundRows(db);
  t.is(rows.length, CLIENTS);
  const byIp = new Map(rows.map((r) => [r.ip, r]));
  t.deepEqual(granted.map((ip) => byIp.get(ip)?.hw_address), clients.map((c) => c.mac), 'the table holds each address for the client that was ACKed it');
  const wrong = rows.filter((r) => r.granted_by !== ownerOfRow(r));
  t.deepEqual(wrong, [], 'each lease granted by the owner of its client\'s bucket');
  const split = HA_NAMES.map((n) => rows.filter((r) => r.granted_by === n).length);
  t.log(`bindings by server: ${split.join(' + ')}`);
  t.true(split.every((n) => n > 0), 'both servers answered');
  const dhclients = rows.filter((r) => r.client_id === null).length;
  t.is(dhclients, Math.floor(CLIENTS / 2), 'the dhclient half bound without a client id');
  // Each server's figures are the table's, not its own share of it (counted in the database every few seconds).
  const want = { assigned: CLIENTS, leases: CLIENTS, statistic: CLIENTS };
  for (const name of HA_NAMES) {
    await pollUntil(`${name}'s usage figures to count every server's leases`, async () => JSON.stringify(await usageOf(segment, name)) === JSON.stringify(want), {
      timeoutMs: 15_000,
      describe: async () => JSON.stringify(await usageOf(segment, name)),
    });
  }
  await Promise.all(servers.map((s) => s.stop()));
  const counters = servers.map(stoppedCounters);
  t.true(counters.every((c) => (c.replies_ack ?? 0) > 0));
});

test.serial('SIGKILL of one server: its client keeps its address and is served by the survivor at REBIND', async (t) => {
  const { segment, db, servers } = await startHaPair(t, { prefix: PREFIX, name: 'kl', cluster: cluster(), subnetTimes: { leaseTime: 30, renewTime: 4, rebindTime: 8 } });
  const [host] = await segment.addHosts([{ name: 'k0', mac: macsOwnedBy('ha-1', 1, 0x21)[0] }]);
  const client = await startUdhcpc(host, {});
  t.teardown(() => client.stop());
  const bound = await client.waitFor('bound', 30_000);
  const before = await db.sql<{ granted_by: string }>('SELECT granted_by FROM leases WHERE host(ip) = $1', [bound.ip]);
  t.deepEqual(before, [{ granted_by: 'ha-1' }]);

  await servers[0].kill9();
  await waitAlone(servers[1], 'ha-2', 5_000);
  // busybox udhcpc takes no T1/T2 from the server: at half the lease (15 s) a unicast
  // RENEW to the dead server, unanswered; then a broadcast REBIND, which the survivor ACKs.
  await expectServedAtRebind(t, client, bound, db, 'ha-2');
  await servers[1].stop();
});

test.serial('a server SIGKILLed and started again under its ha.serverName is accepted at once; a second live one is refused', async (t) => {
  // A peer is dead only after a minute here: the restart must not wait for its old heartbeat row to age.
  const { segment, db, hosts, servers, configs } = await startHaPair(t, { prefix: PREFIX, name: 'rs', cluster: cluster(), subnetTimes: { leaseTime: 600 }, ha: { partnerDownAfterMs: 60_000 } });
  const second = await cli(['--config', configs[0]], hosts[0].netns);
  t.is(second.code, 1, second.stderr);
  t.regex(second.stderr.trim(), /^leasehold-server: ha\.serverName ha-1 is in use by a running server \(last seen \d+\.\d s ago\)$/);

  await servers[0].kill9();
  const restarted = segment.spawnIn(hosts[0].netns, ['node', ...CLI, '--config', configs[0]], { cwd: REPO_ROOT, label: 'leasehold@ha-1-again' });
  t.teardown(() => restarted.stop());
  // Refused, it would exit with "is in use by a running server" (waitForOutput throws with its output).
  await restarted.waitForOutput(/"event":"ready"/, 30_000);
  await waitForLiveSet(restarted, HA_NAMES, 10_000);
  // …and it serves its own buckets again.
  const [host] = await segment.addHosts([{ name: 'r0', mac: macsOwnedBy('ha-1', 1, 0x31)[0] }]);
  const client = await startUdhcpc(host, { oneShot: true, discoverTries: 30 });
  const bound = await client.waitFor('bound', 30_000);
  t.deepEqual(await db.sql('SELECT granted_by FROM leases WHERE host(ip) = $1', [bound.ip]), [{ granted_by: 'ha-1' }]);
  // The name is still refused to a second process while the restarted one lives.
  const third = await cli(['--config', configs[0]], hosts[0].netns);
  t.is(third.code, 1, third.stderr);
  t.regex(third.stderr, /ha\.serverName ha-1 is in use by a running server/);
  await Promise.all([restarted.stop(), servers[1].stop()]);
  t.true((stoppedCounters(restarted).replies_ack ?? 0) >= 1);
});
