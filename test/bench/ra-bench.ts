// Router advertisement benchmark: how long a fresh client namespace takes
// from its Router Solicitation to a SLAAC address, Leasehold against radvd
// 2.19 in the same run, each in its fastest allowed setting.
//
//   node --import=tsx test/bench/ra-bench.ts [--rounds N] [--only leasehold|radvd] [--quick]
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
import type { Host } from '../harness/netns.ts';
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
import { ascending, fmt, percentile, runBench } from './bench-driver.ts';

type ServerName = 'leasehold' | 'radvd';
const SERVER_NAMES: readonly ServerName[] = ['leasehold', 'radvd'];
const SEGMENT_PREFIX = 'lt-rab';
const BLOCKS = 2;
const MAX_RETRIES = 10;

interface Options {
  rounds: number;
  only?: ServerName;
}

const USAGE = [
  'usage: node --import=tsx test/bench/ra-bench.ts [options]',
  `  --rounds N             measured rounds per server (default 20, at least ${BLOCKS})`,
  '  --only leasehold|radvd measure one server only (the other is reported n/a)',
  '  --quick                4 rounds per server',
].join('\n');

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
async function measure(name: ServerName, router: Host, round: number, retried: Record<ServerName, number>): Promise<number> {
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

function summary(values: readonly number[]): string {
  const sorted = ascending(values);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return `median ${fmt(percentile(sorted, 0.5))} ms, mean ${fmt(mean)}, p95 ${fmt(percentile(sorted, 0.95))}, min ${fmt(sorted[0])}, max ${fmt(sorted[sorted.length - 1])}`;
}

runBench<Options>({
  name: 'ra-bench',
  usage: USAGE,
  defaults: { rounds: 20 },
  flags: {
    '--rounds': { key: 'rounds', number: { min: BLOCKS, integer: true } },
    '--only': { key: 'only', choices: SERVER_NAMES },
    '--quick': { preset: { rounds: 4 } },
  },
  needs: (o) => ['ip', ...(o.only !== 'leasehold' ? ['radvd'] : [])],
  async run(o, bench) {
    const servers = o.only ? [o.only] : SERVER_NAMES;
    const samples: Record<ServerName, number[]> = { leasehold: [], radvd: [] };
    const retried: Record<ServerName, number> = { leasehold: 0, radvd: 0 };
    const { segment } = await bench.segment(SEGMENT_PREFIX);
    let failed = false;
    try {
      await quietBridge(segment);
      const [rtr] = await segment.addHosts([{ name: 'rtr', mac: ROUTER_MAC, ipv4: '198.18.0.1/16' }]);
      await prepareRouter(rtr, { forwarding: true });
      for (let block = 0; block < BLOCKS; block++) {
        for (const name of servers) {
          const server = await startServer(name, rtr);
          // Not counted: the first answer after a start pays for code that has
          // not run yet (Node compiles on first use); it shows in its own line.
          bench.log(`[${name}] warm-up: ${fmt(await measure(name, rtr, -1 - block, retried))} ms`);
          const first = (block * o.rounds) / BLOCKS;
          for (let round = first; round < ((block + 1) * o.rounds) / BLOCKS; round++) {
            const ms = await measure(name, rtr, round, retried);
            samples[name].push(ms);
            bench.log(`[${name}] round ${round + 1}/${o.rounds}: ${fmt(ms)} ms`);
          }
          await server.stop(10_000);
        }
      }
      for (const name of servers) {
        bench.log(`[${name}] RS→address over ${samples[name].length} fresh clients: ${summary(samples[name])} (${retried[name]} round(s) redone after an unsolicited RA)`);
      }
    } catch (err) {
      failed = true;
      process.stderr.write(`ra-bench: ${(err as Error).message}\n${segment.describeProcesses(10)}\n`);
    }
    const median = (values: readonly number[]) => fmt(percentile(ascending(values), 0.5));
    bench.log(`ra leasehold=${median(samples.leasehold)} radvd=${median(samples.radvd)}`);
    return failed ? 1 : 0;
  },
});
