// A real server's /metrics as Debian's Prometheus scrapes it, both in
// namespaces, with the scrape config the lab generates
// (lab/prometheus-config.ts): a lease a real udhcpc got shows up in the
// leasehold_… series Prometheus's HTTP API answers, and a wrong token is a
// target down with the server's 401.
import test, { type ExecutionContext } from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUdhcpc } from '../harness/clients.ts';
import { DDNS_SERVER_IP, startCliServer, writeDdnsLabConfig } from '../harness/ddns-lab.ts';
import { sweepAround, useSegment } from '../harness/fixture.ts';
import type { Host, Segment } from '../harness/netns.ts';
import { pollUntil } from '../harness/poll.ts';
import { startPrometheus, type PrometheusUnderTest } from '../harness/prometheus.ts';
import { SERVER_JOB } from '../../lab/prometheus-config.ts';

const PREFIX = 'lt-prom';
sweepAround(test, PREFIX);

const TOKEN = 'prom-token-0123456789abcdef';
const MON_IP = '198.18.0.9';
/** DNS changes only wait in the queue: no BIND here. */
const UNUSED_KEY = { name: 'unused', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 1).toString('base64') };

async function serverWithToken(t: ExecutionContext): Promise<{ segment: Segment; srv: Host; mon: Host; tokenFile: string }> {
  const segment = await useSegment(t, PREFIX);
  const srv = await segment.addHost('srv', { ipv4: `${DDNS_SERVER_IP}/16` });
  const mon = await segment.addHost('mon', { ipv4: `${MON_IP}/16` });
  const tokenFile = join(segment.tmpDir, 'control.token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const configPath = join(segment.tmpDir, 'leasehold.json');
  await writeDdnsLabConfig(configPath, {
    storePath: join(segment.tmpDir, 'leases.db'),
    zones: [{ name: 'leasehold.test', key: UNUSED_KEY }],
    control: { http: { address: DDNS_SERVER_IP, port: 8000, tokenFile } },
  });
  await startCliServer(srv, configPath);
  return { segment, srv, mon, tokenFile };
}

/** The value of a query with exactly one sample, or undefined (none yet, or more than one). */
async function single(prom: PrometheusUnderTest, promql: string): Promise<{ value: number; metric: Record<string, string> } | undefined> {
  const samples = await prom.query(promql);
  return samples.length === 1 ? samples[0] : undefined;
}

test('a lease udhcpc got shows in the leasehold_… series Prometheus scraped', async (t) => {
  const { segment, mon, tokenFile } = await serverWithToken(t);
  const prom = await startPrometheus(mon, { servers: [{ name: 'appliance', address: `${DDNS_SERVER_IP}:8000` }], agents: [], tokenFile });
  const assigned = `leasehold_dhcp4_subnet_assigned_addresses{job="${SERVER_JOB}",subnet="lab"}`;

  // Scraped before any client: the lease below is what moves it.
  const before = await pollUntil('a first scrape of the server', () => single(prom, assigned), { timeoutMs: 20_000, intervalMs: 250 });
  t.is(before.value, 0);
  t.is(before.metric.instance_name, 'appliance');
  t.is(before.metric.instance, `${DDNS_SERVER_IP}:8000`);

  const client = await startUdhcpc(await segment.addHost('c1'), { hostname: 'promweb' });
  await client.waitFor('bound');
  const after = await pollUntil('Prometheus to scrape the lease', async () => {
    const sample = await single(prom, assigned);
    return sample?.value === 1 ? sample : undefined;
  }, { timeoutMs: 20_000, intervalMs: 250, describe: async () => JSON.stringify(await prom.query(assigned)) });
  t.is(after.metric.instance_name, 'appliance');
  t.is((await single(prom, `leasehold_dhcp4_packets_sent_total{job="${SERVER_JOB}",type="ack"}`))?.value, 1);
  t.is((await single(prom, `leasehold_dhcp4_packets_received_total{job="${SERVER_JOB}",type="discover"}`))?.value, 1);
  t.is((await single(prom, `up{job="${SERVER_JOB}"}`))?.value, 1);
});

test('a wrong token: the target is down with the server\'s 401, and no leasehold_ series is stored', async (t) => {
  const { segment, mon } = await serverWithToken(t);
  const wrongToken = join(segment.tmpDir, 'wrong.token');
  await writeFile(wrongToken, 'not-the-token\n', { mode: 0o600 });
  const prom = await startPrometheus(mon, { servers: [{ name: 'appliance', address: `${DDNS_SERVER_IP}:8000` }], agents: [], tokenFile: wrongToken });
  const target = await pollUntil('a failed scrape', async () => (await prom.targets()).find((x) => x.health === 'down'), { timeoutMs: 20_000, intervalMs: 250 });
  t.regex(target.lastError, /401/);
  t.is(target.labels.instance_name, 'appliance');
  t.is((await single(prom, `up{job="${SERVER_JOB}"}`))?.value, 0);
  t.deepEqual(await prom.query('{__name__=~"leasehold_.+"}'), []);
});
