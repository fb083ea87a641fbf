// High-availability benchmark: Leasehold on PostgreSQL, Leasehold on SQLite,
// kea-dhcp4 on PostgreSQL, then two Leasehold servers sharing one PostgreSQL
// database (leaseStore.shared), all driven by perfdhcp over the same segment
// in the same run.
//
//   node --import=tsx test/bench/ha-bench.ts [--only NAME] [--duration S] [--quick] [--rates-only]
//
// One throwaway PostgreSQL cluster (test/harness/postgres.ts: Debian's
// postgresql-15, reachable only through its Unix socket, fsync and
// synchronous_commit on) serves every PostgreSQL step; each step gets a new
// database (and role) of its own, created by `leasehold-server db init` or
// `kea-admin db-init pgsql`, so every step starts from an empty lease table,
// as bench-dhcp4's do.
//
// First a per-rate table (equal offered load for every variant): server CPU
// µs/DORA, PostgreSQL's CPU µs/DORA (the postmaster and all its children,
// counted apart from the server's since on a small machine the database
// competes with the servers for the same cores), latencies and drops. Then,
// per variant, the highest rate at which at most 0.1 % of exchanges drop
// (bench-driver's search). The last line printed is always:
//   ha leasehold_pg=<N>/s kea_pg=<M>/s ratio=<N/M> two_servers=<T>/s leasehold_sqlite=<S>/s cpu_us_per_dora …
//
// With two servers perfdhcp relays from one address; its DISCOVERs reach both
// servers. Until the servers split the clients between them (RFC 3074
// buckets) both answer every DISCOVER and the database decides each
// allocation, so `two_servers` measures that, not a load split.
//
// Needs root (network namespaces, the postgres user), iproute2, perfdhcp and
// kea-admin (Debian kea-admin), kea-dhcp4, psql (kea-admin runs it) and
// PostgreSQL 15. Traffic stays inside the namespaces lt-benchha-* (198.18.0.0/16);
// the namespaces and the cluster are removed on exit, also on failure.

import { readFileSync, readdirSync } from 'node:fs';
import { KeaServer } from '../harness/kea-server.ts';
import { LeaseholdServer } from '../harness/leasehold-server.ts';
import type { Host } from '../harness/netns.ts';
import { startPostgres, sweepStalePostgres, type PostgresCluster, type TestDatabase } from '../harness/postgres.ts';
import { ourCommand, runCommand } from '../harness/run-command.ts';
import {
  CLK_TCK,
  NCPU,
  cpuTicks,
  findHighestRate,
  fmt,
  hostBusyPct,
  measureServers,
  perSecond,
  ratio,
  runBench,
  searchFlags,
  ServerFailure,
  sleep,
  warnIfBusy,
  type Bench,
  type BenchServer,
  type SearchFlagOptions,
} from './bench-driver.ts';
import { benchServerConfig, CLI_ADDR, IFACE, MAX_DROP_PCT, measureDora, POOL_SIZE, PREFIX_LEN, SRV_ADDR, type DoraServerUnderTest, type DoraStep } from './dora.ts';

const PREFIX = 'lt-benchha';
/** The second server's address: the lab's lh-appliance2. */
const SRV2_ADDR = '198.18.0.3';

type VariantName = 'leasehold_pg' | 'leasehold_sqlite' | 'kea_pg' | 'two_servers';
const VARIANT_NAMES: readonly VariantName[] = ['leasehold_pg', 'leasehold_sqlite', 'kea_pg', 'two_servers'];

interface Options extends SearchFlagOptions {
  clients: number;
  ratesOnly: boolean;
}

/** Equal offered loads for the CPU comparison: below what every variant sustains on a 2-core machine. */
const TABLE_RATES = [500, 1000] as const;

const USAGE = [
  'usage: node --import=tsx test/bench/ha-bench.ts [options]',
  `  --only ${VARIANT_NAMES.join('|')}   measure one variant only`,
  '  --duration S           seconds per search step (default 3)',
  '  --confirm-duration S   seconds of the final run and of each table cell (default 2 x duration)',
  '  --clients N            simulated clients, perfdhcp -R (default 20000, <= pool size)',
  '  --start-rate R         first rate tried, DORA/s (default 500)',
  '  --max-rate R           stop doubling here (default 32000)',
  '  --precision F          bisection stops at (hi-lo)/lo <= F (default 0.15)',
  '  --no-retry             count a failing search step as failed at once (default: retry it once)',
  '  --rates-only           only the per-rate table, no search',
  '  --quick                2 s steps, 4 s confirmation, bisection to 25 %, no retries',
].join('\n');

interface Topology {
  srv: Host;
  srv2: Host;
  cli: Host;
}

/** The servers of one step, started; `stop` removes them and their database. */
interface Running {
  servers: DoraServerUnderTest[];
  stop(): Promise<void>;
}

interface Variant extends BenchServer<VariantName> {
  start(topo: Topology): Promise<Running>;
}

interface Step extends DoraStep {
  pass: boolean;
  cpuUsPerDora: number;
  dbUsPerDora: number;
}

/** The cluster's CPU so far: the postmaster, the children it reaped, and those alive (backends come and go). */
function clusterTicks(cluster: PostgresCluster): number {
  const postmaster = cluster.process?.pid;
  if (postmaster === undefined) return 0;
  let ticks = cpuTicks(postmaster, { children: true });
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === postmaster) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      /* exited meanwhile: its time is in the postmaster's reaped children now */
    }
  }
  return ticks;
}

function variants(bench: Bench, cluster: () => PostgresCluster): Variant[] {
  const options = { logLevel: 'warn' } as const;
  const command = ourCommand('server');
  const leaseholdCheck = (): void => {
    if (!command.built) bench.log('WARNING: dist/ is older than server/ or lib/: running the sources through tsx (run `make build`)');
  };
  const withDatabase = async (start: (db: TestDatabase) => Promise<DoraServerUnderTest[]>): Promise<Running> => {
    const db = await cluster().createDatabase();
    const started: DoraServerUnderTest[] = [];
    const stop = async () => {
      await Promise.all(started.map((s) => s.remove()));
      await db.drop();
    };
    try {
      started.push(...(await start(db)));
    } catch (e) {
      await stop().catch(() => undefined);
      throw new ServerFailure(`did not start: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { servers: started, stop };
  };
  const leasehold = async (host: Host, extra: ConstructorParameters<typeof LeaseholdServer>[0] = {}): Promise<LeaseholdServer> => {
    const s = new LeaseholdServer({ ...options, command: command.argv, ...extra });
    await s.start(host, benchServerConfig());
    return s;
  };
  return [
    {
      name: 'leasehold_pg',
      describe: 'Leasehold, PostgreSQL lease store (one server, shared: false)',
      check: leaseholdCheck,
      start: (topo) => withDatabase(async (db) => [await leasehold(topo.srv, { leaseStore: db.config(), initStore: true })]),
    },
    {
      name: 'leasehold_sqlite',
      describe: 'Leasehold, SQLite lease store (synchronous=FULL)',
      check: leaseholdCheck,
      async start(topo) {
        try {
          const s = await leasehold(topo.srv);
          return { servers: [s], stop: () => s.remove() };
        } catch (e) {
          throw new ServerFailure(`did not start: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
    },
    {
      name: 'kea_pg',
      describe: 'kea-dhcp4, PostgreSQL lease backend (kea-admin db-init pgsql; multi-threading at the packaged default)',
      check() {},
      start: (topo) =>
        withDatabase(async (db) => {
          const password = readFileSync(db.passwordFile, 'utf8').trim();
          const host = cluster().socketDir;
          const init = await runCommand(['kea-admin', 'db-init', 'pgsql', '-h', host, '-u', db.user, '-p', password, '-n', db.name], { timeoutMs: 60_000 });
          if (init.code !== 0) throw new Error(`kea-admin db-init pgsql failed (exit ${init.code}): ${(init.stderr || init.stdout).trim().split('\n').slice(-3).join(' / ')}`);
          const kea = new KeaServer({ ...options, leaseDatabase: { type: 'postgresql', name: db.name, user: db.user, password, host } });
          await kea.start(topo.srv, benchServerConfig());
          return [kea];
        }),
    },
    {
      name: 'two_servers',
      describe: `two Leasehold servers (${SRV_ADDR}, ${SRV2_ADDR}) on one PostgreSQL database (shared: true)`,
      check: leaseholdCheck,
      start: (topo) =>
        withDatabase(async (db) => {
          const store = { ...db.config(), shared: true };
          // One after the other: the first creates the schema the second checks at start.
          const first = await leasehold(topo.srv, { leaseStore: store, initStore: true });
          try {
            return [first, await leasehold(topo.srv2, { leaseStore: store })];
          } catch (e) {
            await first.remove();
            throw e;
          }
        }),
    },
  ];
}

/** The servers of a step seen as one: their processes together, the first death, both outputs. */
function together(servers: readonly DoraServerUnderTest[]): Pick<DoraServerUnderTest, 'processes' | 'exitReason' | 'tail'> {
  return {
    get processes() {
      return servers.flatMap((s) => s.processes);
    },
    exitReason: () => servers.map((s) => s.exitReason()).find((r) => r !== undefined),
    tail: (lines?: number) => servers.map((s) => s.tail(lines)).join('\n'),
  };
}

async function step(topo: Topology, cluster: PostgresCluster, v: Variant, o: Options, rate: number, seconds: number): Promise<Step> {
  const running = await v.start(topo);
  try {
    await sleep(300); // let the servers settle after "ready"
    const dbBefore = clusterTicks(cluster);
    const s = await measureDora(v.name, together(running.servers), topo.cli, rate, seconds, { clients: o.clients });
    const dbTicks = clusterTicks(cluster) - dbBefore;
    const perDora = (ticks: number) => (s.completed > 0 ? (ticks / CLK_TCK) * 1e6 / s.completed : NaN);
    return { ...s, pass: s.dhcpOk, cpuUsPerDora: perDora(s.cpu.ticks.server), dbUsPerDora: perDora(dbTicks) };
  } finally {
    await running.stop();
  }
}

function describeStep(name: string, s: Step, tag: string): string {
  return (
    `[${name}]${tag} rate ${s.rate}/s x ${s.seconds}s: started ${s.started}, completed ${s.completed} (${fmt(s.achieved, 0)}/s), ` +
    `dropped ${fmt(s.dropPct, 3)}%, avg D-O ${fmt(s.perf.doStats.avgMs, 3)} ms R-A ${fmt(s.perf.raStats.avgMs, 3)} ms, ` +
    `cpu us/DORA server ${fmt(s.cpuUsPerDora, 1)} postgres ${fmt(s.dbUsPerDora, 1)}; ` +
    `cpu% server ${fmt(s.cpu.pct.server, 0)} perfdhcp ${fmt(s.cpu.clientPct, 0)} other ${fmt(s.otherPct, 0)} (of ${NCPU * 100}) ` +
    `-> ${s.pass ? 'PASS' : `FAIL (${s.why})`}`
  );
}

interface Result {
  rate: number;
  cpuUsPerDora: number;
  dbUsPerDora: number;
}

runBench<Options>({
  name: 'ha-bench',
  usage: USAGE,
  defaults: { duration: 3, confirmDuration: 0, clients: 20000, startRate: 500, maxRate: 32000, precision: 0.15, retry: true, ratesOnly: false },
  flags: {
    ...searchFlags<Options>(VARIANT_NAMES),
    '--clients': { key: 'clients', number: { min: 1, max: POOL_SIZE, integer: true } },
    '--rates-only': { key: 'ratesOnly', set: true },
    '--quick': { preset: { duration: 2, confirmDuration: 4, precision: 0.25, retry: false } },
  },
  check(o) {
    if (o.confirmDuration === 0) o.confirmDuration = o.duration * 2;
  },
  needs: () => ['ip', 'perfdhcp', 'kea-admin', 'kea-dhcp4', 'psql'],
  async run(o, bench) {
    const busy = await hostBusyPct();
    bench.log(`# ha-bench: perfdhcp DORA (relay from ${CLI_ADDR}), ${o.clients} simulated clients, ${o.duration} s per search step, ${o.confirmDuration} s per table cell and confirmation;`);
    bench.log(`#   pass = at most ${MAX_DROP_PCT}% dropped; a new server and an empty lease store (a new PostgreSQL database) per step.`);
    bench.log(`#   servers in ${PREFIX}-srv (${SRV_ADDR}/${PREFIX_LEN}) and, for two_servers, ${PREFIX}-srv2 (${SRV2_ADDR}) on ${IFACE}; one PostgreSQL 15 cluster on a Unix socket, fsync and synchronous_commit on.`);
    bench.log(`#   cpu = utime+stime per completed DORA: the DHCP server(s), and apart from it PostgreSQL (postmaster and all its children); ${NCPU} CPU(s) shared by all and by perfdhcp.`);
    warnIfBusy(bench, busy);

    const { hosts } = await bench.segment(PREFIX, [
      { name: 'srv', ipv4: `${SRV_ADDR}/${PREFIX_LEN}` },
      { name: 'srv2', ipv4: `${SRV2_ADDR}/${PREFIX_LEN}` },
      { name: 'cli', ipv4: `${CLI_ADDR}/${PREFIX_LEN}` },
    ]);
    const topo: Topology = { srv: hosts[0], srv2: hosts[1], cli: hosts[2] };
    await sweepStalePostgres(PREFIX);
    // startPostgres removes its cluster itself when it fails to start; the sweep catches a crash in between.
    bench.onCleanup(() => sweepStalePostgres(PREFIX));
    const pg = await startPostgres(PREFIX);
    bench.onCleanup(() => pg.destroy());
    const all = variants(bench, () => pg).filter((v) => !o.only || v.name === o.only);

    const rows: string[] = [];
    for (const rate of TABLE_RATES) {
      for (const v of all) {
        try {
          const s = await step(topo, pg, v, o, rate, o.confirmDuration);
          bench.log(`${describeStep(`${v.name} table`, s, '')}  [${bench.elapsed()}]`);
          rows.push(`| ${rate} | ${v.name} | ${fmt(s.cpuUsPerDora, 1)} | ${fmt(s.dbUsPerDora, 1)} | ${fmt(s.perf.doStats.avgMs, 2)} | ${fmt(s.perf.raStats.avgMs, 2)} | ${fmt(s.dropPct, 3)} % | ${fmt(s.otherPct, 0)} % |`);
        } catch (e) {
          bench.log(`[${v.name}] table rate ${rate}/s failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
          rows.push(`| ${rate} | ${v.name} | failed | | | | | |`);
        }
      }
    }
    bench.log('');
    bench.log(`per-rate table (equal offered load, ${o.confirmDuration} s per cell, same run; other = host CPU used by none of the measured processes, of ${NCPU * 100} %):`);
    bench.log('| offered/s | variant | server CPU µs/DORA | PostgreSQL CPU µs/DORA | D→O avg ms | R→A avg ms | dropped | other |');
    bench.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows) bench.log(r);
    bench.log('');
    if (o.ratesOnly) return 0;

    const { outcomes, ok } = await measureServers<VariantName, Variant, Result>(
      bench,
      all,
      undefined,
      async (v) => {
        const found = await findHighestRate<Step>(bench, {
          label: `[${v.name}]`,
          settings: o,
          step: (rate, seconds) => step(topo, pg, v, o, rate, seconds),
          describe: (s, tag) => describeStep(v.name, s, tag),
          retry: () => o.retry,
        });
        const best = found.best;
        if (!best) return { note: `no tested rate down to ${found.hi}/s stayed within ${MAX_DROP_PCT}% drops` };
        bench.log(`[${v.name}] RESULT ${best.rate} DORA/s (${fmt(best.achieved, 0)}/s completed, ${fmt(best.dropPct, 3)}% dropped)${found.confirmed ? '' : ' [not confirmed]'}`);
        return { rate: best.rate, cpuUsPerDora: best.cpuUsPerDora, dbUsPerDora: best.dbUsPerDora };
      },
      (r) => r.rate !== undefined,
    );
    const [lp, ls, kp, two] = VARIANT_NAMES.map((n) => outcomes[n] ?? {});
    const cpu = (r: Partial<Result>) => `${r.cpuUsPerDora === undefined ? 'n/a' : fmt(r.cpuUsPerDora, 1)}+${r.dbUsPerDora === undefined ? 'n/a' : fmt(r.dbUsPerDora, 1)}`;
    bench.log(
      `ha leasehold_pg=${perSecond(lp.rate)} kea_pg=${perSecond(kp.rate)} ratio=${ratio(lp.rate, kp.rate)} two_servers=${perSecond(two.rate)} ` +
        `leasehold_sqlite=${perSecond(ls.rate)} cpu_us_per_dora(server+postgres, at the result) leasehold_pg=${cpu(lp)} kea_pg=${cpu(kp)} two_servers=${cpu(two)}`,
    );
    return ok ? 0 : 1;
  },
});
