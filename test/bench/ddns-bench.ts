// DDNS benchmark: DORA per second with DNS updates on, and ACK-to-resolvable
// latency, Leasehold against kea-dhcp4 + kea-dhcp-ddns (D2), both updating
// the same kind of BIND (a fresh one per run) in one bench run.
//
//   node --import=tsx test/bench/ddns-bench.ts [--only kea|leasehold] [--duration S] [--quick] …
//
// Per server it searches the highest offered perfdhcp DORA rate at which at
// most 0.1 % of exchanges drop AND the DNS side keeps up (every name the
// server means to publish is in BIND within --dns-grace seconds after
// perfdhcp ends), then confirms it with a run twice as long. Then a probe
// client (ddns-latency-probe.ts) does DORA for new clients at a moderate
// fixed rate and times, per client, ACK -> A record resolvable in BIND.
// The last line printed is always:
//   ddns leasehold=<N>/s kea=<M>/s ratio=<R> p50=<ms> p99=<ms>
// (p50/p99: Leasehold's ACK-to-resolvable latency; Kea's is in a line above).
// See test/bench/README.md.
//
// Needs root, iproute2, perfdhcp (Debian kea-admin), kea-dhcp4
// (kea-dhcp4-server), kea-dhcp-ddns (kea-dhcp-ddns-server), named and dig
// (bind9, bind9-dnsutils). Everything runs in the namespaces lt-bd-{core,srv,
// cli,dns} (198.18.0.0/16), removed on exit, also on failure or Ctrl-C.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startBind, type BindServer } from '../harness/bind.ts';
import { D2_ADDRESS, D2_PORT, type KeaServer } from '../harness/kea-server.ts';
import type { LeaseholdServer } from '../harness/leasehold-server.ts';
import { execIn } from '../harness/netns.ts';
import {
  ascending,
  findHighestRate,
  fmt,
  hostBusyPct,
  measureServers,
  NCPU,
  OutputCounter,
  percentile,
  perSecond,
  ratio,
  REPO_ROOT,
  runBench,
  searchFlags,
  ServerFailure,
  sleep,
  warnIfBusy,
  type Bench,
  type Outcome,
  type SearchFlagOptions,
  type StepTag,
} from './bench-driver.ts';
import {
  benchServerConfig,
  CLI_ADDR,
  DNS_ADDR,
  doraServers,
  doraTopology,
  LEASE_TIME,
  MAX_DROP_PCT,
  measureDora,
  POOL_END,
  POOL_SIZE,
  POOL_START,
  SERVER_NAMES,
  SRV_ADDR,
  withFreshServer,
  type DoraServer,
  type DoraServerUnderTest,
  type DoraStep,
  type DoraTopology,
} from './dora.ts';
import type { ProbeArgs, ProbeResult } from './ddns-latency-probe.ts';

// ---------------------------------------------------------------------------
// Fixed topology and workload

const PREFIX = 'lt-bd';
/** names the server leased but BIND does not have yet, at the DNS check, in % of the names leased */
const MAX_DNS_MISSING_PCT = 0.1;
const DOMAIN = 'leasehold.test';
const APP = 'lab';
/** where both servers' generated names live: dhcp-<…>.lab.leasehold.test */
const NAME_SUFFIX = `${APP}.${DOMAIN}`;
/**
 * Option 81 (RFC 4702) with flags S=1, RCODEs 0 and an empty name: "server,
 * choose my name and update DNS". Every perfdhcp client sends it, so both
 * servers generate one name per client (see the header printed by run()).
 */
const FQDN_OPTION_HEX = '010000';

// ---------------------------------------------------------------------------
// Command line

interface Options extends SearchFlagOptions {
  /** perfdhcp -R: simulated clients. */
  clients: number;
  /** seconds after perfdhcp ends within which every leased name must be in BIND */
  dnsGrace: number;
  /** a step fails when DNS does not keep up (default); false: drops alone decide */
  dnsCriterion: boolean;
  /** after a failed DNS check, watch BIND this many more seconds to see whether it catches up */
  drainWatch: number;
  latencyRate: number;
  latencyClients: number;
  /** seconds the whole run should take at most; the search is cut short to stay within it */
  budget: number;
}

const USAGE = [
  'usage: node --import=tsx test/bench/ddns-bench.ts [options]',
  '  --only kea|leasehold   measure one server only (the other is reported n/a)',
  '  --duration S           seconds per search step (default 8)',
  '  --confirm-duration S   seconds of the confirmation run (default: the same as a step)',
  '  --clients N            simulated perfdhcp clients, -R (default 40000)',
  '  --start-rate R         first rate tried, DORA/s (default 100)',
  '  --max-rate R           stop doubling here (default 6400)',
  '  --precision F          bisection stops at (hi-lo)/lo <= F (default 0.05)',
  '  --no-retry             never run a narrowly failing step a second time',
  '  --dns-grace S          every leased name must be in BIND S seconds after perfdhcp ends (default 1)',
  '  --no-dns-criterion     pass/fail on DHCP drops only (DNS lag is still reported)',
  '  --drain-watch S        after a failed DNS check, watch BIND up to S more seconds (default 6)',
  '  --latency-rate R       new clients per second in the latency run (default 50)',
  '  --latency-clients N    clients in the latency run (default 500)',
  '  --budget S             cut the rate search short to end within about S seconds (default 450)',
  '  --quick                a rough figure in a few minutes: 3 s steps, bisection to 25 %, no retries,',
  '                         200 latency clients, budget 240 s (other flags given still apply)',
].join('\n');

// ---------------------------------------------------------------------------
// What each server means to publish, and what it has not sent yet

/** Reads, while a server runs, how far its DNS side is: its own records, not DNS. */
interface DnsSide {
  /** Names the server means to publish: distinct names of its bound leases. */
  expectedNames(): Promise<number>;
  /** What is still queued or was lost on the server side, for the report. */
  backlog(): string;
  stop(): void;
}

function dnsSide(running: DoraServerUnderTest): DnsSide {
  return running.kind === 'leasehold' ? leaseholdDnsSide(running) : keaDnsSide(running);
}

/** Leasehold's store, read directly: `leases --json` is a process start per poll, too slow in a step. */
function leaseholdDnsSide(running: LeaseholdServer): DnsSide {
  const retries = new OutputCounter(running.processes[0], /"event":"ddns-retry"/);
  let db: Database.Database | undefined;
  const query = (sql: string): number => {
    try {
      db ??= new Database(running.storePath, { readonly: true, fileMustExist: true });
      return Number((db.prepare(sql).get() as { n: number }).n);
    } catch {
      return NaN;
    }
  };
  return {
    expectedNames: async () => query("SELECT COUNT(DISTINCT fqdn) AS n FROM leases WHERE state = 'bound' AND fqdn IS NOT NULL"),
    backlog: () => {
      const q = query('SELECT COUNT(*) AS n FROM dns_queue');
      return `${Number.isFinite(q) ? q : '?'} changes queued, ${retries.value} update retries logged`;
    },
    stop() {
      retries.stop();
      db?.close();
    },
  };
}

/** Kea's memfile (the harness parses it) and the logs of D2 and kea-dhcp4. */
function keaDnsSide(running: KeaServer): DnsSide {
  const [d2, dhcp4] = running.processes;
  // D2 logs at WARN and above: ERRORs other than a full queue are DNS
  // timeouts or refusals (D2 retries a request a few times before it gives up).
  const d2Errors = new OutputCounter(d2, / ERROR (?!.*QUEUE_FULL)/);
  return {
    async expectedNames() {
      const leases = await running.leases().catch(() => undefined);
      return leases ? new Set(leases.filter((l) => l.state === 'bound' && l.fqdn).map((l) => l.fqdn)).size : NaN;
    },
    backlog: () => {
      const full = (d2.output.match(/DHCP_DDNS_QUEUE_MGR_QUEUE_FULL/g) ?? []).length;
      const rejected = (dhcp4.output.match(/NCR_REJECTED|DDNS_REQUEST_SEND_FAILED|QUEUE_FULL/g) ?? []).length;
      return `D2 request queue full ${full}x (NCRs dropped), D2 update errors ${d2Errors.value}, kea-dhcp4 NCR send errors ${rejected}`;
    },
    stop: () => void d2Errors.stop(),
  };
}

// ---------------------------------------------------------------------------
// What BIND holds

/** `dig` AXFR of `zone` from the DNS namespace: the answer lines. */
async function axfr(topo: DoraTopology, zone: string): Promise<string[]> {
  const { stdout } = await execIn(topo.dns!.netns, [
    'dig', `@${DNS_ADDR}`, zone, 'AXFR', '+nocmd', '+nostats', '+noall', '+answer', '+time=5', '+tries=1',
  ]);
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

/**
 * Distinct owners of A records under NAME_SUFFIX. The zone may hold static
 * ones (lab/bind-config.ts): the caller subtracts what was there before the run.
 */
async function publishedNames(topo: DoraTopology): Promise<number> {
  const owners = new Set<string>();
  for (const line of await axfr(topo, DOMAIN)) {
    const [owner, , , type] = line.split(/\s+/);
    if (type === 'A' && owner.toLowerCase().endsWith(`.${NAME_SUFFIX}.`)) owners.add(owner.toLowerCase());
  }
  return owners.size;
}

async function publishedPtrs(topo: DoraTopology): Promise<number> {
  return (await axfr(topo, '18.198.in-addr.arpa')).filter((l) => {
    const f = l.split(/\s+/);
    return f[3] === 'PTR' && (f[4] ?? '').toLowerCase().endsWith(`.${NAME_SUFFIX}.`);
  }).length;
}

/**
 * named's "update failed: too many DNS UPDATEs queued (quota reached)":
 * BIND 9.18 works on at most update-quota (default 100) UPDATEs at once and
 * drops the rest without an answer, which the sender sees as a timeout.
 */
const QUOTA_DROP = /too many DNS UPDATEs queued/;

// ---------------------------------------------------------------------------
// One step: fresh BIND, fresh server, one perfdhcp run, then the DNS check.

interface DnsCheck {
  expected: number;
  /** names in BIND at the check (within the grace) */
  published: number;
  /** seconds after perfdhcp ended when the check passed or gave up */
  atS: number;
  ok: boolean;
  /** only after a failed check: what the watch afterwards saw */
  later?: string;
  ptrs: number;
  backlog: string;
  /** UPDATEs named dropped unanswered because more than update-quota (100) were in progress */
  quotaDrops: number;
}

interface Step extends DoraStep<'named'> {
  dns: DnsCheck;
  pass: boolean;
  /** failed by a small margin: worth a second try */
  narrow: boolean;
}

/** Fresh BIND and a fresh server (empty lease store, empty zones), handed to `body`, always torn down. */
async function withServer<T>(
  topo: DoraTopology,
  server: DoraServer,
  body: (running: DoraServerUnderTest, side: DnsSide, bind: BindServer) => Promise<T>,
): Promise<T> {
  const bind = await startBind(topo.dns!);
  try {
    const key = { name: bind.key.name, algorithm: bind.key.algorithm, secret: bind.key.secret.toString('base64') };
    // No slaacPrefix for Leasehold: Kea publishes no AAAA either.
    const config = benchServerConfig({ domain: DOMAIN, defaultApp: APP, zones: bind.zones.map((z) => z.name), server: DNS_ADDR, key });
    return await withFreshServer(server, topo.srv, config, async (running) => {
      const side = dnsSide(running);
      try {
        return await body(running, side, bind);
      } finally {
        side.stop();
      }
    });
  } finally {
    await bind.stop().catch(() => bind.kill());
    rmSync(bind.dir, { recursive: true, force: true });
  }
}

async function dnsCheck(topo: DoraTopology, o: Options, side: DnsSide, quota: OutputCounter, base: { names: number; ptrs: number }, endedAt: number): Promise<DnsCheck> {
  const need = (expected: number): number => Math.ceil(expected * (1 - MAX_DNS_MISSING_PCT / 100));
  const since = (): number => (Date.now() - endedAt) / 1000;
  const names = async (): Promise<number> => (await publishedNames(topo)) - base.names;
  let expected = await side.expectedNames();
  let published = await names();
  while (!(published >= need(expected)) && since() < o.dnsGrace) {
    await sleep(Math.min(500, Math.max(50, (o.dnsGrace - since()) * 1000)));
    expected = await side.expectedNames();
    published = await names();
  }
  const ok = Number.isFinite(expected) && expected > 0 && published >= need(expected);
  const check: DnsCheck = { expected, published, atS: since(), ok, ptrs: 0, backlog: '', quotaDrops: 0 };
  if (!ok && o.drainWatch > 0) {
    // Does it catch up at all? Watch until it does, stops growing for 2 s, or the watch ends.
    const watchEnd = Date.now() + o.drainWatch * 1000;
    let last = published;
    let stalledSince = Date.now();
    let now = published;
    while (Date.now() < watchEnd) {
      await sleep(1000);
      now = await names();
      if (now >= expected) break;
      if (now > last) stalledSince = Date.now();
      else if (Date.now() - stalledSince >= 2000) break;
      last = now;
    }
    const missing = expected - now;
    check.later =
      missing <= 0
        ? `all ${expected} in DNS +${fmt(since(), 1)}s after the run`
        : `${now}/${expected} +${fmt(since(), 1)}s after the run (${missing} missing, ${now > last ? 'still rising' : 'not rising'})`;
  }
  check.ptrs = (await publishedPtrs(topo)) - base.ptrs;
  check.backlog = side.backlog();
  check.quotaDrops = quota.stop();
  return check;
}

async function step(topo: DoraTopology, server: DoraServer, o: Options, rate: number, seconds: number): Promise<Step> {
  return withServer(topo, server, async (running, side, bind) => {
    const base = { names: await publishedNames(topo), ptrs: await publishedPtrs(topo) };
    const quota = new OutputCounter(bind.process, QUOTA_DROP);
    const dora = await measureDora(server.name, running, topo.cli, rate, seconds, { clients: o.clients, extraArgs: ['-o', `81,${FQDN_OPTION_HEX}`] }, {
      named: [bind.process.pid],
    });
    const dns = await dnsCheck(topo, o, side, quota, base, Date.now());
    const dnsWhy = dns.ok ? '' : `DNS behind: ${dns.published}/${dns.expected} names after ${o.dnsGrace}s`;
    const pass = dora.dhcpOk && (dns.ok || !o.dnsCriterion);
    const narrow =
      !pass && (dora.dhcpOk || dora.dropPct <= 10 * MAX_DROP_PCT) && (dns.ok || !o.dnsCriterion || dns.published >= 0.95 * dns.expected);
    return { ...dora, dns, pass, narrow, why: [dora.why, dnsWhy].filter(Boolean).join('; ') || 'ok' };
  });
}

function describeStep(name: string, s: Step, tag: StepTag): string {
  const d = s.dns;
  return (
    `[${name}]${tag} rate ${s.rate}/s x ${s.seconds}s: started ${s.started}, completed ${s.completed} (${fmt(s.achieved, 0)}/s), ` +
    `dropped ${fmt(s.dropPct, 3)}%, avg D-O ${fmt(s.perf.doStats.avgMs, 1)} ms R-A ${fmt(s.perf.raStats.avgMs, 1)} ms; ` +
    `dns ${d.published}/${d.expected} names +${fmt(d.atS, 1)}s` +
    (d.later ? `, then ${d.later}` : '') +
    ` (PTR ${d.ptrs}; ${d.backlog}; named dropped ${d.quotaDrops} UPDATEs over its update-quota); ` +
    `cpu% server ${fmt(s.cpu.pct.server, 0)} named ${fmt(s.cpu.pct.named, 0)} perfdhcp ${fmt(s.cpu.clientPct, 0)} other ${fmt(s.otherPct, 0)} (of ${NCPU * 100}) ` +
    `-> ${s.pass ? 'PASS' : `FAIL (${s.why})`}`
  );
}

// ---------------------------------------------------------------------------
// Latency: the probe in the client namespace

interface Latency {
  result: ProbeResult;
  p50: number;
  p99: number;
  max: number;
  doraP50: number;
}

async function latency(topo: DoraTopology, server: DoraServer, o: Options): Promise<Latency> {
  return withServer(topo, server, async (running) => {
    const args: ProbeArgs = {
      server: SRV_ADDR,
      relay: CLI_ADDR,
      dns: DNS_ADDR,
      rate: o.latencyRate,
      count: o.latencyClients,
      resolveTimeoutMs: 10_000,
      pollMs: 1,
      macByte: server.name === 'kea' ? 0xbe : 0xbd,
    };
    const probe = [process.execPath, '--import=tsx', join(REPO_ROOT, 'test', 'bench', 'ddns-latency-probe.ts'), JSON.stringify(args)];
    let stdout: string;
    try {
      ({ stdout } = await execIn(topo.cli.netns, probe, { cwd: REPO_ROOT }));
    } catch (e) {
      throw new ServerFailure(`the latency probe failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const died = running.exitReason();
    if (died !== undefined) throw new ServerFailure(`${died} during the latency run; last output:\n${running.tail()}`);
    const result = JSON.parse(stdout) as ProbeResult;
    const lat = ascending(result.samples.map((s) => s.resolveMs));
    const dora = ascending(result.samples.map((s) => s.doraMs));
    return { result, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: lat[lat.length - 1] ?? NaN, doraP50: percentile(dora, 0.5) };
  });
}

// ---------------------------------------------------------------------------
// Per server: search, confirm, latency

interface Result {
  rate: number;
  latency: Latency;
}

async function measure(bench: Bench, topo: DoraTopology, server: DoraServer, o: Options, budgetS: number): Promise<Outcome<Result>> {
  const began = Date.now();
  const spent = (): number => (Date.now() - began) / 1000;
  const label = `[${server.name}]`;
  const outcome: Outcome<Result> = {};
  try {
    const found = await findHighestRate<Step>(bench, {
      label,
      settings: o,
      step: (rate, seconds) => step(topo, server, o, rate, seconds),
      describe: (s, tag) => describeStep(server.name, s, tag),
      // A step that failed narrowly is run once more; a clear failure is not.
      retry: (s) => s.narrow && o.retry && spent() < budgetS * 0.6,
      stopBisecting: (best) => {
        const stop = spent() > budgetS * 0.6;
        if (stop) bench.log(`${label} time budget: bisection stopped at [${best?.rate ?? '?'}, …) after ${fmt(spent(), 0)}s`);
        return stop;
      },
      confirmAgain: () => spent() < budgetS * 0.85,
    });
    const final = found.best;
    if (!final) {
      outcome.note = `no tested rate down to ${found.hi}/s passed`;
    } else {
      outcome.rate = final.rate;
      bench.log(
        `${label} RESULT ${final.rate} DORA/s offered with DDNS, ${fmt(final.achieved, 0)}/s completed, ` +
          `${fmt(final.dropPct, 3)}% dropped (${final.completed} DORAs in ${final.seconds}s); ` +
          `DNS ${final.dns.published}/${final.dns.expected} names +${fmt(final.dns.atS, 1)}s after the run` +
          (found.confirmed ? '' : ' [confirmation runs failed; figures from the search step]'),
      );
    }
  } catch (e) {
    if (!(e instanceof ServerFailure)) throw e;
    outcome.note = e.message;
  }
  try {
    const l = await latency(topo, server, o);
    outcome.latency = l;
    const r = l.result;
    bench.log(
      `${label} latency ACK->resolvable at ${o.latencyRate}/s (${r.started} new clients): ` +
        `p50 ${fmt(l.p50, 1)} ms, p99 ${fmt(l.p99, 1)} ms, max ${fmt(l.max, 1)} ms over ${r.samples.length} names; ` +
        `DORA p50 ${fmt(l.doraP50, 1)} ms; ${r.dhcpFailed} DORA failed, ${r.noName} ACKs without a name, ${r.unresolved} not resolvable within 10 s` +
        (r.notes.length ? ` (e.g. ${r.notes[0]})` : '') +
        `  [${bench.elapsed()}]`,
    );
  } catch (e) {
    if (!(e instanceof ServerFailure)) throw e;
    outcome.note = [outcome.note, `latency run: ${e.message}`].filter(Boolean).join('\n');
  }
  bench.log(`${label} ${fmt(spent(), 0)}s for ${server.name}`);
  return outcome;
}

// ---------------------------------------------------------------------------
// Main

runBench<Options>({
  name: 'ddns-bench',
  usage: USAGE,
  defaults: {
    duration: 8, confirmDuration: 0, clients: 40000, startRate: 100, maxRate: 6400, precision: 0.05, retry: true,
    dnsGrace: 1, dnsCriterion: true, drainWatch: 6, latencyRate: 50, latencyClients: 500, budget: 450,
  },
  flags: {
    ...searchFlags<Options>(SERVER_NAMES),
    '--clients': { key: 'clients', number: { min: 1, max: POOL_SIZE, integer: true } },
    '--dns-grace': { key: 'dnsGrace', number: { min: 0 } },
    '--no-dns-criterion': { key: 'dnsCriterion', set: false },
    '--drain-watch': { key: 'drainWatch', number: { min: 0 } },
    '--latency-rate': { key: 'latencyRate', number: { min: 1 } },
    '--latency-clients': { key: 'latencyClients', number: { min: 10, max: 0xffffff, integer: true } },
    '--budget': { key: 'budget', number: { min: 60 } },
    '--quick': { preset: { duration: 3, precision: 0.25, retry: false, latencyClients: 200, budget: 240 } },
  },
  check(o) {
    // The DNS check allows a fixed lag after the run, so a longer run is a
    // stricter test: the confirmation uses the steps' length unless told otherwise.
    if (o.confirmDuration === 0) o.confirmDuration = o.duration;
  },
  needs: () => ['ip', 'perfdhcp', 'named', 'tsig-keygen', 'dig'],
  async run(o, bench) {
    const busy = await hostBusyPct();
    bench.log(`# ddns-bench: perfdhcp DORA with DDNS on; pool ${POOL_START}-${POOL_END}, lease time ${LEASE_TIME} s, ${o.clients} simulated clients.`);
    bench.log(`#   every client sends option 81 with flags S=1 and an empty name (perfdhcp -o 81,${FQDN_OPTION_HEX}): "server, choose my name";`);
    bench.log(`#   Leasehold publishes dhcp-<hash of the client>.${NAME_SUFFIX}, Kea dhcp-<address with dashes>.${NAME_SUFFIX}`);
    bench.log(`#   (ddns-replace-client-name when-not-present, ddns-generated-prefix dhcp). A client with neither option 12 nor 81 gets no`);
    bench.log(`#   name from Leasehold (name-policy "no-name"), while Kea would generate one: hence the option, the same for both.`);
    bench.log(`#   Records per client: A + DHCID (forward), PTR (reverse), TSIG hmac-sha256, one fresh BIND ${DNS_ADDR} per run (netns ${PREFIX}-dns).`);
    bench.log(
      `#   pass = at most ${MAX_DROP_PCT}% of exchanges dropped (1 s drop time)` +
        (o.dnsCriterion
          ? ` AND DNS keeps up: ${o.dnsGrace} s after perfdhcp ends (1.5 s after the last DISCOVER) at most ${MAX_DNS_MISSING_PCT}% of the names the server leased are missing from BIND.`
          : ' (DNS lag reported, not judged: --no-dns-criterion).'),
    );
    bench.log(`#   search: doubling from ${o.startRate}/s, bisection to ${o.precision * 100}%, ${o.duration} s steps, fresh server + BIND each; confirmation ${o.confirmDuration} s.`);
    bench.log(`#   latency: a probe client in ${PREFIX}-cli does DORA for ${o.latencyClients} new clients at ${o.latencyRate}/s and times ACK received -> first`);
    bench.log(`#   A query to BIND answering the leased address (queries 1 ms apart, one in flight per name).`);
    bench.log(`#   named 9.18 works on at most update-quota (100) UPDATEs at once and drops the rest unanswered; each step counts those drops.`);
    bench.log(`#   ${NCPU} CPU(s) shared by perfdhcp, the server and named${NCPU <= 4 ? ': rates are lower than on dedicated machines' : ''}.`);
    warnIfBusy(bench, busy);

    const servers = doraServers(bench, {
      ddns: true,
      describe: {
        leasehold: 'Leasehold (SQLite lease store; DDNS: check-with-dhcid, retry 1 s..60 s, DNS timeout 2 s x 3 tries; defaults)',
        kea:
          'kea-dhcp4 (memfile, persist: true, lfc-interval 0) + kea-dhcp-ddns (D2; conflict resolution on, ' +
          `dns-server-timeout 500 ms, packaged queue limits; defaults) over NCR/UDP ${D2_ADDRESS}:${D2_PORT}`,
      },
    });
    const topo = await doraTopology(bench, PREFIX, { dns: true });
    const { outcomes, ok } = await measureServers<'leasehold' | 'kea', DoraServer, Result>(
      bench,
      servers,
      o.only,
      (s, i, count) => measure(bench, topo, s, o, (o.budget - bench.seconds()) / (count - i)),
      (r) => r.rate !== undefined && r.latency !== undefined,
    );
    const l = outcomes.leasehold;
    const k = outcomes.kea;
    if (k.latency) bench.log(`kea latency ACK->resolvable p50=${fmt(k.latency.p50, 1)} p99=${fmt(k.latency.p99, 1)} (ms)`);
    bench.log(`ddns leasehold=${perSecond(l.rate)} kea=${perSecond(k.rate)} ratio=${ratio(l.rate, k.rate)} p50=${fmt(l.latency?.p50 ?? NaN, 1)} p99=${fmt(l.latency?.p99 ?? NaN, 1)}`);
    return ok ? 0 : 1;
  },
});
