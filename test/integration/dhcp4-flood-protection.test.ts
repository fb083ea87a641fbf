import test from 'ava';
import { startUdhcpc } from '../harness/clients.ts';
import { sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import { REPO_ROOT } from '../harness/run-command.ts';
import type { ServerProcess } from '../harness/server-process.ts';
import type { TestServerConfig } from '../harness/servers.ts';
import { ALWAYS_MALFORMED, MAYBE_MALFORMED, type FloodKind } from '../fixtures/flood/flood-frames.ts';

// A real client is served through a flood: random-MAC DISCOVERs (more than
// the pool has addresses), forged RELEASE/DECLINE, one MAC far over its
// own rate limit, and malformed frames (truncations, lying option lengths,
// overload loops, bit flips), sent as raw frames from a namespace on the
// segment. Behaviour only, no timing: the server stays up, counts what it
// refused, logs it once per interval, and busybox udhcpc gets a lease.

const PREFIX = 'lt-d4g';
sweepAround(test, PREFIX);

const SERVER = '198.18.30.1';
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  subnets: [{ cidr: '198.18.30.0/24', interface: 'eth0', pools: [{ start: '198.18.30.100', end: '198.18.30.199' }], leaseTime: 600 }],
  // Far longer than the test: without a cap on held offers, the flood's
  // DISCOVERs would set the whole pool aside for five minutes.
  offerHoldSeconds: 300,
};
const FLOOD = {
  count: 5000,
  rate: 1000,
  mix: { discover: 40, release: 5, decline: 5, noisy: 10, truncated: 10, 'lying-length': 10, 'overload-loop': 10, 'bit-flip': 10 } as Record<string, number>,
  // Forged fields name addresses outside the pool, so the flood binds nothing.
  addresses: '198.18.30.200-198.18.30.250',
};

interface FloodResult {
  sent: Partial<Record<FloodKind, number>>;
  framesSent: number;
  sendErrors: number;
}

function countersFrom(output: string): Record<string, number> {
  const line = output.split('\n').find((l) => l.includes('"event":"stopped"'));
  if (!line) throw new Error(`no "stopped" line in the server's output`);
  return (JSON.parse(line) as { counters: Record<string, number> }).counters;
}

const eventLines = (output: string, event: string) => output.split('\n').filter((l) => l.includes(`"event":"${event}"`)).length;

test('through a flood of random-MAC and malformed frames the server stays up, counts what it drops, and udhcpc gets a lease', async (t) => {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const server = await useServer(serverHost, CONFIG);
  const flooder = await segment.addHost('fld');
  const clientHost = await segment.addHost('cli');

  const flood = segment.spawnIn(flooder.netns, [
    'node', '--import=tsx', 'test/fixtures/flood/flood.ts', flooder.ifname,
    '--count', String(FLOOD.count), '--rate', String(FLOOD.rate),
    '--mix', Object.entries(FLOOD.mix).map(([k, w]) => `${k}=${w}`).join(','),
    '--server-id', SERVER, '--addresses', FLOOD.addresses, '--seed', '13',
  ], { label: 'flood', cwd: REPO_ROOT });
  // The frames are built first; the client starts once they are on the wire.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.true(flood.running, 'the flood is still being sent when the client starts');

  const client = await startUdhcpc(clientHost, { discoverTries: 10 });
  const bound = await client.waitFor('bound', 30_000);
  t.regex(bound.ip, /^198\.18\.30\.1\d\d$/);

  const [line] = await flood.waitForOutput(/\{"sent".*\}/, 60_000);
  const result = JSON.parse(line) as FloodResult;
  t.is(result.framesSent + result.sendErrors, FLOOD.count);
  t.is(server.kind === 'leasehold' ? (server as ServerProcess).exitReason() : undefined, undefined, 'the server is still running');

  if (server.kind !== 'leasehold') return; // Kea has no counters line; the lease above is the comparison
  const output = (server as ServerProcess).processes[0];
  await server.stop();
  const counters = countersFrom(output.output);
  const sentOf = (kinds: ReadonlySet<FloodKind>) => [...kinds].reduce((n, k) => n + (result.sent[k] ?? 0), 0);
  const surelyMalformed = sentOf(ALWAYS_MALFORMED);
  t.true(surelyMalformed > 0);
  t.true(counters.packets_malformed >= surelyMalformed - result.sendErrors, `malformed ${counters.packets_malformed} ≥ ${surelyMalformed} sent that cannot decode`);
  t.true(counters.packets_malformed <= surelyMalformed + sentOf(MAYBE_MALFORMED), 'valid frames are never counted as malformed');
  const rateLimited = counters.dropped - counters.packets_malformed;
  t.true(rateLimited > 0, `the noisy MAC (${result.sent.noisy} DISCOVERs) went over its own limit: ${rateLimited} dropped`);
  t.true(counters.offer_holds_evicted > 0, 'the flood hit the cap on held offers');
  t.is(counters.pool_exhausted ?? 0, 0, 'the pool was never exhausted');
  // Once per interval (10 s) per kind, not per packet: the first at once, the rest in one line when the server stops.
  for (const event of ['malformed-packets', 'rate-limited', 'offer-hold-evicted']) {
    const lines = eventLines(output.output, event);
    t.true(lines >= 1 && lines <= 3, `${event}: ${lines} lines`);
  }
});
