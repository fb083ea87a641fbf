// DHCPv4 DORA benchmark: Leasehold against kea-dhcp4 (memfile, persist: true),
// both driven by perfdhcp over the same harness segment.
//
//   node --import=tsx test/bench/dhcp4-bench.ts [--only kea|leasehold] [--duration S] [--quick]
//                                               [--rates-only] [--compare-sockets] [--commit-wait-us LIST]
//
// First, at each of 1,000, 2,000 and 4,000 offered DORA/s, one timestamped
// run per server (same run, so the figures compare at equal load), printed
// as a table: server CPU µs/DORA, average and exact p95 latencies, drops,
// and the CPU other processes used meanwhile. --compare-sockets adds a
// Leasehold row on Node's dgram sockets beside the native ones;
// --commit-wait-us 0,1200 adds a Leasehold row per SQLite group-commit
// gather window (leaseStore.commitWaitUs), for the CPU/latency trade.
//
// For each server it searches the highest offered DORA rate at which at most
// 0.1 % of exchanges are dropped (doubling, then bisection, every step a short
// fixed-length perfdhcp run against a freshly started server with an empty
// lease store), then re-runs that rate once with per-exchange timestamps to get
// the latency (average, exact p95) and the server's CPU time per DORA.
// The last line printed is always:
//   dhcp4-dora leasehold=<N>/s kea=<M>/s ratio=<N/M> cpu_us_per_dora leasehold=<a> kea=<b>
// See test/bench/README.md.
//
// Needs root (network namespaces), iproute2, perfdhcp (Debian kea-admin) and,
// for the Kea side, kea-dhcp4. All traffic stays inside the namespaces
// lt-bench-{core,srv,cli} this script creates (198.18.0.0/16 addresses
// only); they are removed on exit, also on failure or Ctrl-C.

import {
  CLK_TCK,
  NCPU,
  ascending,
  findHighestRate,
  fmt,
  hostBusyPct,
  measureServers,
  percentile,
  perSecond,
  ratio,
  runBench,
  searchFlags,
  warnIfBusy,
  type Bench,
  type SearchFlagOptions,
  type StepTag,
} from './bench-driver.ts';
import {
  benchServerConfig,
  CLI_ADDR,
  doraServers,
  doraTopology,
  IFACE,
  LEASE_TIME,
  MAX_DROP_PCT,
  measureDora,
  POOL_END,
  POOL_SIZE,
  POOL_START,
  PREFIX_LEN,
  SERVER_NAMES,
  SRV_ADDR,
  withFreshServer,
  type DoraServer,
  type DoraStep,
  type DoraTopology,
} from './dora.ts';
import type { TestServerConfig } from '../harness/servers.ts';
import { SQLITE_COMMIT_WAIT_US_MAX } from '../../server/leases/lease-store-config.ts';

const PREFIX = 'lt-bench';

interface Options extends SearchFlagOptions {
  /** perfdhcp -R: simulated clients. */
  clients: number;
  pin: boolean;
  /** Only the per-rate table, no search for the highest rate. */
  ratesOnly: boolean;
  /** Leasehold also on Node's dgram sockets in the per-rate table. */
  compareSockets: boolean;
  /** Leasehold also with these gather windows (leaseStore.commitWaitUs) in the per-rate table. */
  commitWaitUs: number[];
  /** another checkout of Leasehold, built, measured as a third server `baseline` */
  baseline?: string;
}

/** The offered rates of the per-rate table (those the goals name). */
const TABLE_RATES = [1000, 2000, 4000] as const;

const USAGE = [
  'usage: node --import=tsx test/bench/dhcp4-bench.ts [options]',
  '  --only kea|leasehold|baseline   measure one server only (the others are reported n/a)',
  '  --baseline DIR         also measure the Leasehold checkout in DIR (built: npx tsc -p tsconfig.json there) as `baseline`',
  '  --duration S           seconds per search step (default 5)',
  '  --confirm-duration S   seconds of the final timestamped run (default 2 x duration)',
  '  --clients N            simulated clients, perfdhcp -R (default 40000, <= pool size)',
  '  --start-rate R         first rate tried, DORA/s (default 1000)',
  '  --max-rate R           stop doubling here (default 64000)',
  '  --precision F          bisection stops at (hi-lo)/lo <= F (default 0.05)',
  '  --pin                  pin the server to CPU 0 and perfdhcp to CPU 1 (taskset)',
  '  --no-retry             count a failing search step as failed at once (default: retry it once)',
  '  --rates-only           only the per-rate table (1,000/2,000/4,000 DORA/s), no search',
  '  --compare-sockets      the per-rate table also has Leasehold on dgram sockets (dhcp4Sockets.implementation)',
  '  --commit-wait-us LIST  the per-rate table also has Leasehold with each of these commit gather windows (µs, comma-separated)',
  '  --quick                a rough figure in a minute or two per server: 2 s steps, 4 s confirmation,',
  '                         bisection to 25 %, no retries (other flags given still apply)',
].join('\n');

/** A step: the DORA figures plus the server's CPU time per DORA. */
interface Step extends DoraStep {
  pass: boolean;
  cpuSeconds: number;
  cpuUsPerDora: number;
}

interface Result {
  rate: number;
  cpuUsPerDora: number;
}

function describeStep(name: string, s: Step, tag: StepTag): string {
  return (
    `[${name}]${tag} rate ${s.rate}/s x ${s.seconds}s: started ${s.started}, completed ${s.completed} ` +
    `(${fmt(s.achieved, 0)}/s), dropped ${fmt(s.dropPct, 3)}%, ` +
    `avg D-O ${fmt(s.perf.doStats.avgMs, 3)} ms R-A ${fmt(s.perf.raStats.avgMs, 3)} ms, ` +
    `server cpu ${fmt(s.cpuUsPerDora, 1)} us/DORA; cpu% server ${fmt(s.cpu.pct.server, 0)} perfdhcp ${fmt(s.cpu.clientPct, 0)} ` +
    `other ${fmt(s.otherPct, 0)} (of ${NCPU * 100}) -> ${s.pass ? 'PASS' : `FAIL (${s.why})`}`
  );
}

async function step(
  topo: DoraTopology,
  server: DoraServer,
  o: Options,
  rate: number,
  seconds: number,
  timestamps: boolean,
  config: TestServerConfig = benchServerConfig(),
): Promise<Step> {
  return withFreshServer(server, topo.srv, config, async (running) => {
    const s = await measureDora(server.name, running, topo.cli, rate, seconds, { clients: o.clients, timestamps, ...(o.pin && { cpu: 1 }) });
    const cpuSeconds = s.cpu.ticks.server / CLK_TCK;
    return { ...s, pass: s.dhcpOk, cpuSeconds, cpuUsPerDora: s.completed > 0 ? (cpuSeconds * 1e6) / s.completed : NaN };
  });
}

async function measure(bench: Bench, topo: DoraTopology, server: DoraServer, o: Options): Promise<Partial<Result> & { note?: string }> {
  const began = Date.now();
  const label = `[${server.name}]`;
  const found = await findHighestRate<Step>(bench, {
    label,
    settings: o,
    // The confirmation carries per-exchange timestamps, for an exact p95.
    step: (rate, seconds, tag) => step(topo, server, o, rate, seconds, tag === ' confirm'),
    describe: (s, tag) => describeStep(server.name, s, tag),
    retry: () => o.retry,
  });
  const final = found.best;
  if (!final) return { note: `no tested rate down to ${found.hi}/s stayed within ${MAX_DROP_PCT}% drops` };
  bench.log(
    `${label} RESULT ${final.rate} DORA/s offered, ${fmt(final.achieved, 0)}/s completed, ` +
      `${fmt(final.dropPct, 3)}% dropped (${final.completed} DORAs in ${final.seconds}s)` +
      (found.confirmed ? '' : ' [confirmation runs failed; figures from the search step]'),
  );
  for (const [what, p] of [
    ['DISCOVER->OFFER', final.perf.doStats],
    ['REQUEST->ACK', final.perf.raStats],
  ] as const) {
    const p95 =
      p.delays && p.delays.length > 0
        ? `p95 ${fmt(percentile(ascending(p.delays), 0.95), 3)} ms (exact, ${p.delays.length} exchanges)`
        : `p95 ~${fmt(p.avgMs + 1.645 * p.stdMs, 3)} ms (estimated avg+1.645*sd)`;
    bench.log(`${label} latency ${what}: avg ${fmt(p.avgMs, 3)} ms, ${p95}, min ${fmt(p.minMs, 3)} max ${fmt(p.maxMs, 3)} sd ${fmt(p.stdMs, 3)} ms`);
  }
  bench.log(
    `${label} cpu ${fmt(final.cpuUsPerDora, 1)} us per DORA ` +
      `(utime+stime ${fmt(final.cpuSeconds, 2)} s for ${final.completed} DORAs; ` +
      `${fmt(final.cpu.pct.server, 0)}% of one CPU during the run)` +
      `  [${((Date.now() - began) / 1000).toFixed(0)}s for ${server.name}]`,
  );
  return { rate: final.rate, cpuUsPerDora: final.cpuUsPerDora };
}

function p95Of(p: Step['perf']['doStats']): string {
  return p.delays && p.delays.length > 0 ? fmt(percentile(ascending(p.delays), 0.95), 2) : 'n/a';
}

/** One timestamped run per server (and socket kind) at each table rate, printed as rows and then as one table. */
async function perRateTable(bench: Bench, topo: DoraTopology, servers: DoraServer[], o: Options): Promise<void> {
  const variants: Array<{ label: string; server: DoraServer; config: TestServerConfig }> = [];
  for (const server of servers) {
    if (o.only && o.only !== server.name) continue;
    if (server.name === 'leasehold') {
      variants.push({ label: 'leasehold', server, config: { ...benchServerConfig(), dhcp4Sockets: { implementation: 'auto' } } });
      if (o.compareSockets) variants.push({ label: 'leasehold/dgram', server, config: { ...benchServerConfig(), dhcp4Sockets: { implementation: 'dgram' } } });
      for (const us of o.commitWaitUs) {
        variants.push({ label: `leasehold/wait=${us}us`, server, config: { ...benchServerConfig(), dhcp4Sockets: { implementation: 'auto' }, commitWaitUs: us } });
      }
    } else {
      variants.push({ label: server.name, server, config: benchServerConfig() });
    }
  }
  const rows: string[] = [];
  for (const rate of TABLE_RATES) {
    for (const v of variants) {
      try {
        const s = await step(topo, v.server, o, rate, o.confirmDuration, true, v.config);
        bench.log(describeStep(`${v.label} table`, s, ''));
        rows.push(
          `| ${rate} | ${v.label} | ${fmt(s.cpuUsPerDora, 1)} | ${fmt(s.perf.doStats.avgMs, 2)} / ${p95Of(s.perf.doStats)} | ` +
            `${fmt(s.perf.raStats.avgMs, 2)} / ${p95Of(s.perf.raStats)} | ${fmt(s.dropPct, 3)} % | ${fmt(s.otherPct, 0)} % |`,
        );
      } catch (e) {
        bench.log(`[${v.label}] table rate ${rate}/s failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
        rows.push(`| ${rate} | ${v.label} | failed | | | | |`);
      }
    }
  }
  bench.log('');
  bench.log(`per-rate table (${o.confirmDuration} s per cell, same run; other = host CPU used by neither server nor perfdhcp, of ${NCPU * 100} %):`);
  bench.log('| offered/s | server | CPU µs/DORA | D→O avg / p95 ms | R→A avg / p95 ms | dropped | other |');
  bench.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) bench.log(r);
  bench.log('');
}

runBench<Options>({
  name: 'dhcp4-bench',
  usage: USAGE,
  defaults: {
    duration: 5,
    confirmDuration: 0,
    clients: 40000,
    startRate: 1000,
    maxRate: 64000,
    precision: 0.05,
    pin: false,
    retry: true,
    ratesOnly: false,
    compareSockets: false,
    commitWaitUs: [],
  },
  flags: {
    ...searchFlags<Options>(SERVER_NAMES),
    '--clients': { key: 'clients', number: { min: 1, max: POOL_SIZE, integer: true } },
    '--pin': { key: 'pin', set: true },
    '--rates-only': { key: 'ratesOnly', set: true },
    '--compare-sockets': { key: 'compareSockets', set: true },
    '--baseline': { key: 'baseline', text: true },
    '--commit-wait-us': { key: 'commitWaitUs', list: { min: 0, max: SQLITE_COMMIT_WAIT_US_MAX, integer: true } },
    '--quick': { preset: { duration: 2, confirmDuration: 4, precision: 0.25, retry: false } },
  },
  check(o) {
    if (o.confirmDuration === 0) o.confirmDuration = o.duration * 2;
  },
  needs: (o) => ['ip', 'perfdhcp', ...(o.pin ? ['taskset'] : [])],
  async run(o, bench) {
    const busy = await hostBusyPct();
    bench.log(`# dhcp4-bench: perfdhcp DORA, pool ${POOL_START}-${POOL_END} (${POOL_SIZE} addresses), lease time ${LEASE_TIME} s,`);
    bench.log(`#   ${o.clients} simulated clients, ${o.duration} s per search step, ${o.confirmDuration} s confirmation run,`);
    bench.log(`#   pass = at most ${MAX_DROP_PCT}% of started exchanges not completed (perfdhcp drop time 1 s); fresh server and lease store per step.`);
    bench.log(`#   perfdhcp acts as a relay (giaddr ${CLI_ADDR}, port 67) from netns ${PREFIX}-cli; servers run in ${PREFIX}-srv on ${IFACE} ${SRV_ADDR}/${PREFIX_LEN}.`);
    bench.log(
      `#   ${NCPU} CPU(s): ` +
        (o.pin
          ? 'server pinned to CPU 0, perfdhcp to CPU 1.'
          : `perfdhcp (multi-threaded) and the server share them${NCPU <= 4 ? ' and compete for them: rates are lower than on a dedicated server' : ''}.`),
    );
    bench.log(`#   search: doubling from ${o.startRate}/s, then bisection to ${o.precision * 100}%${o.retry ? '; a failing step is retried once' : ''}; confirmation run at the result (stepped down 7% if it fails).`);
    bench.log(`#   latency = perfdhcp per-pair delay (DISCOVER->OFFER, REQUEST->ACK); p95 exact from perfdhcp -x t timestamps of the confirmation run.`);
    bench.log(`#   cpu = server utime+stime from /proc/<pid>/stat (all threads, ${CLK_TCK} ticks/s) over the run / completed DORAs.`);
    bench.log(`#   lease durability differs: Kea memfile appends without fsync; Leasehold commits SQLite (synchronous=FULL) before each ACK.`);
    warnIfBusy(bench, busy);

    const servers = doraServers(bench, {
      pin: o.pin,
      baseline: o.baseline,
      describe: {
        leasehold: 'Leasehold (SQLite lease store)',
        kea: 'kea-dhcp4 (memfile, persist: true, lfc-interval 0; multi-threading left at the packaged default)',
      },
    });
    const topo = await doraTopology(bench, PREFIX);
    await perRateTable(bench, topo, servers, o);
    if (o.ratesOnly) return 0;
    const { outcomes, ok } = await measureServers(bench, servers, o.only, (s) => measure(bench, topo, s, o), (r) => r.rate !== undefined);
    const l = outcomes.leasehold;
    const k = outcomes.kea;
    const cpu = (r: Partial<Result>): string => (r.cpuUsPerDora === undefined || !Number.isFinite(r.cpuUsPerDora) ? 'n/a' : fmt(r.cpuUsPerDora, 1));
    const b = outcomes.baseline;
    bench.log(
      `dhcp4-dora leasehold=${perSecond(l.rate)} kea=${perSecond(k.rate)} ratio=${ratio(l.rate, k.rate)} cpu_us_per_dora leasehold=${cpu(l)} kea=${cpu(k)}` +
        (b ? ` baseline=${perSecond(b.rate)} baseline_cpu_us_per_dora=${cpu(b)}` : ''),
    );
    return ok ? 0 : 1;
  },
});
