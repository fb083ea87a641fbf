// Router advertisement benchmark: how long a fresh client namespace takes
// from its Router Solicitation to a SLAAC address, Leasehold against radvd
// 2.19 in the same run, each in its fastest allowed setting.
//
//   node --import=tsx test/bench/ra-bench.ts [--rounds N] [--only leasehold|radvd]
//
// The last line printed is always:
//   ra leasehold=<median ms> radvd=<median ms>
//
// Needs root (network namespaces), iproute2 and radvd. Everything runs in
// the namespaces lt-rab-* this script creates on a harness segment and
// removes on exit, also on failure or Ctrl-C; addresses are the lab's ULA
// prefix and link-local ones only.
//
// What is measured, per round: a new client namespace (EUI-64 SLAAC, no
// DAD, the kernel's own solicitations off) joins the segment; rs-probe.ts,
// inside it, sends one Router Solicitation with its MAC and polls
// /proc/net/if_inet6 without pause until the address in fd00:198:18::/64
// appears. The figure runs from the send to that moment: the server's
// answer and the client kernel's processing, not process start-up. After
// each server start, one warm-up round is printed but not counted.
//
// Settings, the same advertisement for both (the lab's, with the default
// 600 s maximum interval so that unsolicited RAs seldom interfere):
// - Leasehold: `solicitedResponse: immediate`, the lab setting (unicast at
//   once, RFC 7772); its RFC 4861 default would add a random 0–500 ms.
// - radvd: its defaults, which are its fastest: AdvRASolicitedUnicast on
//   answers at once by unicast.
// Both on the same router namespace with forwarding on (radvd needs it),
// in alternating blocks so that drift on the machine hits both.
import { parseArgs } from 'node:util';
import { createSegment, sweepStale, type Host } from '../harness/netns.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';
import {
  LAB_PREFIX,
  ROUTER_MAC,
  labRa,
  labRadvdConf,
  prepareClient,
  prepareRouter,
  quietBridge,
  rsProbe,
  startLeasehold,
  startRadvd,
} from '../harness/ra-lab.ts';

type ServerName = 'leasehold' | 'radvd';
const SEGMENT_PREFIX = 'lt-rab';
const BLOCKS = 2;
const MAX_RETRIES = 10;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write('usage: ra-bench.ts [--rounds N (default 20, per server)] [--only leasehold|radvd]\n');
  process.exit(0);
}
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < BLOCKS) throw new Error(`--rounds must be an integer of at least ${BLOCKS}`);
if (values.only !== undefined && values.only !== 'leasehold' && values.only !== 'radvd') throw new Error('--only takes leasehold or radvd');
const servers: ServerName[] = values.only ? [values.only as ServerName] : ['leasehold', 'radvd'];

const samples: Record<ServerName, number[]> = { leasehold: [], radvd: [] };
const retried: Record<ServerName, number> = { leasehold: 0, radvd: 0 };

function startServer(name: ServerName, router: Host): Promise<TrackedProcess> {
  const intervals = { minSeconds: 198, maxSeconds: 600 };
  return name === 'leasehold'
    ? startLeasehold(
        router,
        labRa(router.ifname, { solicitedResponse: 'immediate', minIntervalSeconds: intervals.minSeconds, maxIntervalSeconds: intervals.maxSeconds }),
        { logLevel: 'info' },
      )
    : startRadvd(router, labRadvdConf(router.ifname, intervals));
}

/**
 * One fresh client, one measurement. An unsolicited RA that lands between
 * the client's link coming up and the probe's RS leaves nothing to
 * measure: that round is done again with another client.
 */
async function measure(name: ServerName, router: Host, round: number): Promise<number> {
  for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
    const client = await router.segment.addHost(`${name[0]}${round < 0 ? `w${-round}` : round}x${attempt}`);
    await prepareClient(client, { solicit: false });
    try {
      return (await rsProbe(client, ['time', client.ifname, LAB_PREFIX])).rsToAddressMs;
    } catch (err) {
      if (!/already has an address/.test((err as Error).message)) throw err;
      retried[name]++;
    }
  }
  throw new Error(`${name}: every client had an address before it solicited (${MAX_RETRIES + 1} tries)`);
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return `median ${at(0.5).toFixed(2)} ms, mean ${mean.toFixed(2)}, p95 ${at(0.95).toFixed(2)}, min ${sorted[0].toFixed(2)}, max ${sorted[sorted.length - 1].toFixed(2)}`;
}

const median = (values: number[]) => {
  if (values.length === 0) return 'n/a';
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.5 * sorted.length) - 1].toFixed(2);
};

await sweepStale(SEGMENT_PREFIX);
const segment = await createSegment(SEGMENT_PREFIX);
const cleanUp = () => void segment.destroy().finally(() => process.exit(130));
process.once('SIGINT', cleanUp);
process.once('SIGTERM', cleanUp);
let failed = false;
try {
  await quietBridge(segment);
  const router = await segment.addHost('rtr', { mac: ROUTER_MAC, ipv4: '198.18.0.1/16' });
  await prepareRouter(router, { forwarding: true });
  for (let block = 0; block < BLOCKS; block++) {
    for (const name of servers) {
      const server = await startServer(name, router);
      // Not counted: the first answer after a start pays for code that has
      // not run yet (Node compiles on first use); it shows in its own line.
      process.stdout.write(`[${name}] warm-up: ${(await measure(name, router, -1 - block)).toFixed(2)} ms\n`);
      const first = (block * rounds) / BLOCKS;
      for (let round = first; round < ((block + 1) * rounds) / BLOCKS; round++) {
        const ms = await measure(name, router, round);
        samples[name].push(ms);
        process.stdout.write(`[${name}] round ${round + 1}/${rounds}: ${ms.toFixed(2)} ms\n`);
      }
      await server.stop(10_000);
    }
  }
  for (const name of servers) {
    process.stdout.write(`[${name}] RS→address over ${samples[name].length} fresh clients: ${summary(samples[name])} (${retried[name]} round(s) redone after an unsolicited RA)\n`);
  }
} catch (err) {
  failed = true;
  process.stderr.write(`ra-bench: ${(err as Error).message}\n${segment.describeProcesses(10)}\n`);
} finally {
  await segment.destroy();
}
process.stdout.write(`ra leasehold=${median(samples.leasehold)} radvd=${median(samples.radvd)}\n`);
process.exitCode = failed ? 1 : 0;
