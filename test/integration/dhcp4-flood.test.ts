import test, { type ExecutionContext } from 'ava';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUdhcpc } from '../harness/clients.ts';
import { sweepAround, useSegment } from '../harness/fixture.ts';
import { LeaseholdServer } from '../harness/leasehold-server.ts';
import { REPO_ROOT } from '../harness/run-command.ts';
import { serverKindFromEnv, type TestServerConfig } from '../harness/servers.ts';

// A flood of DHCPINFORMs from forged on-link ciaddrs nobody owns: every ACK
// is a unicast to an address that never answers ARP. A real busybox udhcpc
// must still get its lease while the flood goes on, and nothing may be
// answered past its deadline. Bounded in count and rate, inside test
// namespaces, to 198.18.22.0/24 only.

const PREFIX = 'lt-d4f';
sweepAround(test, PREFIX);

const SERVER = '198.18.22.1';
const FLOODER = '198.18.22.250';
const HERE = dirname(fileURLToPath(import.meta.url));
const FLOOD_SCRIPT = join(HERE, '../harness/inform-flood.ts');
const FLOOD = { count: 3000, rate: 1000 };

function config(implementation: 'native' | 'dgram'): TestServerConfig {
  return {
    interface: 'eth0',
    subnets: [{ cidr: '198.18.22.0/24', interface: 'eth0', pools: [{ start: '198.18.22.100', end: '198.18.22.199' }], leaseTime: 600 }],
    dhcp4Sockets: { implementation },
  };
}

/** The counters the server's `stopped` line reports. */
function stoppedCounters(output: string): Record<string, number> {
  const line = output.split('\n').find((l) => l.includes('"event":"stopped"'));
  if (!line) throw new Error(`no stopped line in:\n${output.slice(-2000)}`);
  return (JSON.parse(line) as { counters: Record<string, number> }).counters;
}

async function floodWhileClientAsks(t: ExecutionContext, implementation: 'native' | 'dgram', leaseWithinMs: number) {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const flooder = await segment.addHost('fld', { ipv4: `${FLOODER}/24` });
  // Leasehold itself (its counters and socket kind are checked); the segment's teardown stops it.
  const server = new LeaseholdServer();
  await server.start(serverHost, config(implementation));
  const flood = segment.spawnIn(flooder.netns, ['node', '--import=tsx', FLOOD_SCRIPT, '198.18.22.255', '198.18.22.0/24', String(FLOOD.count), String(FLOOD.rate)], {
    label: `inform-flood@${flooder.netns}`,
    cwd: REPO_ROOT,
  });
  // Once the first second of the flood is in: the send path is then as full as it gets.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const host = await segment.addHost('cli');
  const client = await startUdhcpc(host);
  const asked = Date.now();
  const bound = await client.waitFor('bound', leaseWithinMs);
  const waited = Date.now() - asked;
  const floodStillRunning = flood.running;
  await flood.waitForOutput(/"sent":\d+/, 20_000);
  t.true(bound.ip.startsWith('198.18.22.'), bound.ip);
  t.log(`${implementation}: lease after ${waited} ms; flood still running then: ${floodStillRunning}; flood: ${flood.output.trim()}`);
  await server.stop();
  const output = server.processes[0].output;
  t.regex(output, new RegExp(`"event":"dhcp4-sockets".*"kind":"${implementation}"`));
  return { counters: stoppedCounters(output), floodStillRunning };
}

const leaseholdOnly = serverKindFromEnv() === 'leasehold' ? test.serial : test.skip;

leaseholdOnly('native sockets: the ACKs to forged ciaddrs go to their chaddr, and a real client is served during the flood', async (t) => {
  const { counters, floodStillRunning } = await floodWhileClientAsks(t, 'native', 15_000);
  t.true(floodStillRunning, 'the client got its lease while the flood was still being sent');
  // Every INFORM answered (none waits on ARP), none late.
  t.true((counters.replies_ack ?? 0) >= FLOOD.count * 0.9, JSON.stringify(counters));
  t.is(counters.replies_dropped ?? 0, 0, JSON.stringify(counters));
});

leaseholdOnly('dgram fallback: replies stuck behind ARP are dropped once stale, counted, and a real client is served after all', async (t) => {
  // Through the IP stack the ACKs park on ARP and fill the send buffer; the bounded queue drops what is past its deadline.
  const { counters } = await floodWhileClientAsks(t, 'dgram', 45_000);
  t.true((counters.replies_dropped ?? 0) > 0, JSON.stringify(counters));
});
