// DDNS benchmark: DORA per second with DNS updates on, and ACK-to-resolvable
// latency, Leasehold against kea-dhcp4 + kea-dhcp-ddns (D2), both updating
// the same kind of BIND (a fresh one per run) in one bench run.
//
//   node --import=tsx test/bench/ddns-bench.ts [--only kea|leasehold|baseline] [--baseline DIR] [--duration S] [--quick] …
//
// Per server it searches the highest offered perfdhcp DORA rate at which at
// most 0.1 % of exchanges drop AND the DNS side keeps up (every name the
// server means to publish is in BIND within --dns-grace seconds after
// perfdhcp ends), then confirms it with a run twice as long. Then a probe
// client (ddns-latency-probe.ts) does DORA for new clients at a moderate
// fixed rate and times, per client, ACK -> A record resolvable in BIND.
// The last line printed is always:
//   ddns leasehold=<N>/s kea=<M>/s ratio=<R> p50=<ms> p99=<ms> msgs_per_lease … bind_cpu_ms_per_lease …
//        resolvable_after_s … lost …
// (p50/p99: Leasehold's ACK-to-resolvable latency; Kea's is in a line above;
// the per-server figures are those of the step each rate comes from).
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
  CLK_TCK,
  cpuTicks,
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
  type ServerName,
} from './dora.ts';
import type { ProbeArgs, ProbeResult } from './ddns-latency-probe.ts';

// ---------------------------------------------------------------------------
// Fixed topology and workload

const PREFIX = 'lt-bd';
/** named's statistics channel (127.0.0.1 in the DNS namespace): UPDATE messages received per step. */
const STATISTICS_PORT = 8053;
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
  /** another checkout of Leasehold, built, measured as a third server `baseline` */
  baseline?: string;
}

const USAGE = [
  'usage: node --import=tsx test/bench/ddns-bench.ts [options]',
  '  --only kea|leasehold|baseline   measure one server only (the others are reported n/a)',
  '  --duration S           seconds per search step (default 8)',
  '  --confirm-duration S   seconds of the confirmation run (default: the same as a step)',
  '  --clients N            simulated perfdhcp clients, -R (default 40000)',
  '  --start-rate R         first rate tried, DORA/s (default 100)',
  '  --max-rate R           stop doubling here (default 6400)',
  '  --precision F          bisection stops at (hi-lo)/lo <= F (default 0.05)',
  '  --no-retry             never run a narrowly failing step a second time',
  '  --dns-grace S          every leased name must be in BIND, with its leased address, S seconds after perfdhcp ends (default 2)',
  '  --no-dns-criterion     pass/fail on DHCP drops only (DNS lag is still reported)',
  '  --drain-watch S        after a failed DNS check, watch BIND up to S more seconds (default 6)',
  '  --latency-rate R       new clients per second in the latency run (default 50)',
  '  --latency-clients N    clients in the latency run (default 500)',
  '  --budget S             cut the rate search short to end within about S seconds (default 450)',
  '  --baseline DIR         also measure the Leasehold checkout in DIR (built: npx tsc -p tsconfig.json there) as `baseline`',
  '  --quick                a rough figure in a few minutes: 3 s steps, bisection to 25 %, no retries,',
  '                         200 latency clients, budget 240 s (other flags given still apply)',
].join('\n');

// ---------------------------------------------------------------------------
// What each server means to publish, and what it has not sent yet

/** A name as both servers and dig write it: lower case, no final dot. */
const canonicalName = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** Reads, while a server runs, how far its DNS side is: its own records, not DNS. */
interface DnsSide {
  /** What the server means to publish: name -> leased address of its bound leases with a name; undefined when unreadable. */
  expected(): Promise<Map<string, string> | undefined>;
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
  const open = (): Database.Database => (db ??= new Database(running.storePath, { readonly: true, fileMustExist: true }));
  const query = (sql: string): number => {
    try {
      return Number((open().prepare(sql).get() as { n: number }).n);
    } catch {
      return NaN;
    }
  };
  return {
    async expected() {
      try {
        const rows = open().prepare("SELECT fqdn, ip FROM leases WHERE state = 'bound' AND fqdn IS NOT NULL").all() as Array<{ fqdn: string; ip: string }>;
        return new Map(rows.map((r) => [canonicalName(r.fqdn), r.ip]));
      } catch {
        return undefined;
      }
    },
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
    async expected() {
      const leases = await running.leases().catch(() => undefined);
      return leases && new Map(leases.flatMap((l) => (l.state === 'bound' && l.fqdn ? [[canonicalName(l.fqdn), l.ip] as const] : [])));
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

/** The A records under NAME_SUFFIX: owner -> addresses. A transfer shows what BIND answers queries from. */
async function publishedAddresses(topo: DoraTopology): Promise<Map<string, Set<string>>> {
  const owners = new Map<string, Set<string>>();
  for (const line of await axfr(topo, DOMAIN)) {
    const [owner, , , type, address] = line.split(/\s+/);
    const name = canonicalName(owner);
    if (type !== 'A' || !name.endsWith(`.${NAME_SUFFIX}`)) continue;
    owners.set(name, (owners.get(name) ?? new Set()).add(address));
  }
  return owners;
}

/** Leased names BIND does not resolve to their leased address. */
function unresolved(expected: ReadonlyMap<string, string>, published: ReadonlyMap<string, ReadonlySet<string>>): number {
  let missing = 0;
  for (const [name, ip] of expected) if (!published.get(name)?.has(ip)) missing++;
  return missing;
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
  /** leased names (the server's own records at the check) */
  expected: number;
  /** of those, names BIND resolves to their leased address at the check (within the grace) */
  published: number;
  /** seconds after perfdhcp ended when the check passed or gave up */
  atS: number;
  ok: boolean;
  /** only after a failed check: what the watch afterwards saw */
  later?: string;
  /** names still not resolvable at the end (0 when the check passed; else after the watch) */
  lost: number;
  ptrs: number;
  backlog: string;
  /** UPDATEs named dropped unanswered because more than update-quota (100) were in progress */
  quotaDrops: number;
}

/** What BIND did for one step, from the start of perfdhcp to the end of the DNS check. */
interface BindWork {
  /** UPDATE messages BIND received (its statistics channel) */
  updates: number;
  /** of those, failed on a prerequisite (RFC 2136 §3.2: a DHCID guard, or a batch split after one) */
  badPrereq: number;
  tcpRequests: number;
  /** named's CPU time (utime + stime), ms */
  cpuMs: number;
}

interface Step extends DoraStep<'named'> {
  dns: DnsCheck;
  bind: BindWork;
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
  const bind = await startBind(topo.dns!, { statisticsPort: STATISTICS_PORT });
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

/**
 * Every name the server leased must resolve in BIND to its leased address
 * within the grace (polled by zone transfer, which BIND answers from the
 * zone its queries are answered from); after a failed check the watch says
 * how many are lost for good.
 */
async function dnsCheck(topo: DoraTopology, o: Options, side: DnsSide, quota: OutputCounter, base: { ptrs: number }, endedAt: number): Promise<DnsCheck> {
  const since = (): number => (Date.now() - endedAt) / 1000;
  const look = async (): Promise<{ expected: number; missing: number }> => {
    const [expected, published] = await Promise.all([side.expected(), publishedAddresses(topo)]);
    return expected ? { expected: expected.size, missing: unresolved(expected, published) } : { expected: NaN, missing: NaN };
  };
  let seen = await look();
  while (!(seen.missing === 0) && since() < o.dnsGrace) {
    await sleep(Math.min(250, Math.max(50, (o.dnsGrace - since()) * 1000)));
    seen = await look();
  }
  const ok = seen.expected > 0 && seen.missing === 0;
  const check: DnsCheck = { expected: seen.expected, published: seen.expected - seen.missing, atS: since(), ok, lost: 0, ptrs: 0, backlog: '', quotaDrops: 0 };
  if (!ok && o.drainWatch > 0) {
    // Does it catch up at all? Watch until it does, stops catching up for 2 s, or the watch ends.
    const watchEnd = Date.now() + o.drainWatch * 1000;
    let last = seen.missing;
    let stalledSince = Date.now();
    let catchingUp = false;
    while (Date.now() < watchEnd) {
      await sleep(1000);
      seen = await look();
      if (seen.missing === 0) break;
      catchingUp = seen.missing < last;
      if (catchingUp) stalledSince = Date.now();
      else if (Date.now() - stalledSince >= 2000) break;
      last = seen.missing;
    }
    check.later =
      seen.missing === 0
        ? `all ${seen.expected} in DNS +${fmt(since(), 1)}s after the run`
        : `${seen.expected - seen.missing}/${seen.expected} +${fmt(since(), 1)}s after the run (${seen.missing} missing, ${catchingUp ? 'still catching up' : 'not catching up'})`;
  }
  check.lost = ok ? 0 : seen.missing;
  check.ptrs = (await publishedPtrs(topo)) - base.ptrs;
  check.backlog = side.backlog();
  check.quotaDrops = quota.stop();
  return check;
}

async function step(topo: DoraTopology, server: DoraServer, o: Options, rate: number, seconds: number): Promise<Step> {
  return withServer(topo, server, async (running, side, bind) => {
    const base = { ptrs: await publishedPtrs(topo) };
    const quota = new OutputCounter(bind.process, QUOTA_DROP);
    const statsBefore = await bind.statistics();
    const cpuBefore = cpuTicks(bind.process.pid);
    const dora = await measureDora(server.name, running, topo.cli, rate, seconds, { clients: o.clients, extraArgs: ['-o', `81,${FQDN_OPTION_HEX}`] }, {
      named: [bind.process.pid],
    });
    const dns = await dnsCheck(topo, o, side, quota, base, Date.now());
    const cpuAfter = cpuTicks(bind.process.pid);
    const statsAfter = await bind.statistics();
    const bindWork: BindWork = {
      updates: statsAfter.updates - statsBefore.updates,
      badPrereq: statsAfter.updateBadPrereq - statsBefore.updateBadPrereq,
      tcpRequests: statsAfter.tcpRequests - statsBefore.tcpRequests,
      cpuMs: ((cpuAfter - cpuBefore) * 1000) / CLK_TCK,
    };
    const dnsWhy = dns.ok ? '' : `DNS behind: ${dns.published}/${dns.expected} names resolvable after ${o.dnsGrace}s`;
    const pass = dora.dhcpOk && (dns.ok || !o.dnsCriterion);
    const narrow =
      !pass && (dora.dhcpOk || dora.dropPct <= 10 * MAX_DROP_PCT) && (dns.ok || !o.dnsCriterion || dns.published >= 0.95 * dns.expected);
    return { ...dora, dns, bind: bindWork, pass, narrow, why: [dora.why, dnsWhy].filter(Boolean).join('; ') || 'ok' };
  });
}

/** Per leased name of the step: a lease is one name (A + DHCID) and its PTR. */
const perLease = (n: number, s: Step): number => (s.dns.expected > 0 ? n / s.dns.expected : NaN);

function describeStep(name: string, s: Step, tag: StepTag): string {
  const d = s.dns;
  return (
    `[${name}]${tag} rate ${s.rate}/s x ${s.seconds}s: started ${s.started}, completed ${s.completed} (${fmt(s.achieved, 0)}/s), ` +
    `dropped ${fmt(s.dropPct, 3)}%, avg D-O ${fmt(s.perf.doStats.avgMs, 1)} ms R-A ${fmt(s.perf.raStats.avgMs, 1)} ms; ` +
    `dns ${d.published}/${d.expected} names resolvable +${fmt(d.atS, 1)}s` +
    (d.later ? `, then ${d.later}` : '') +
    ` (PTR ${d.ptrs}; ${d.backlog}; named dropped ${d.quotaDrops} UPDATEs over its update-quota); ` +
    `named: ${s.bind.updates} UPDATEs (${fmt(perLease(s.bind.updates, s), 3)}/lease, ${s.bind.badPrereq} failed prerequisites, ${s.bind.tcpRequests} requests over TCP), ` +
    `cpu ${fmt(perLease(s.bind.cpuMs, s), 3)} ms/lease; ` +
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
  /** the step the rate comes from */
  step: Step;
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
      outcome.step = final;
      bench.log(
        `${label} RESULT ${final.rate} DORA/s offered with DDNS, ${fmt(final.achieved, 0)}/s completed, ` +
          `${fmt(final.dropPct, 3)}% dropped (${final.completed} DORAs in ${final.seconds}s); ` +
          `DNS ${final.dns.published}/${final.dns.expected} names resolvable +${fmt(final.dns.atS, 1)}s after the run, ${final.dns.lost} lost; ` +
          `named ${fmt(perLease(final.bind.updates, final), 3)} UPDATEs and ${fmt(perLease(final.bind.cpuMs, final), 3)} ms CPU per lease` +
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
    dnsGrace: 2, dnsCriterion: true, drainWatch: 6, latencyRate: 50, latencyClients: 500, budget: 450,
  },
  flags: {
    ...searchFlags<Options>(SERVER_NAMES),
    '--baseline': { key: 'baseline', text: true },
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
          ? ` AND DNS keeps up: ${o.dnsGrace} s after perfdhcp ends (${o.dnsGrace + 0.5} s after the last DISCOVER) every name the server leased resolves to its leased address in BIND (zone transfer), none lost.`
          : ' (DNS lag reported, not judged: --no-dns-criterion).'),
    );
    bench.log(`#   search: doubling from ${o.startRate}/s, bisection to ${o.precision * 100}%, ${o.duration} s steps, fresh server + BIND each; confirmation ${o.confirmDuration} s.`);
    bench.log(`#   latency: a probe client in ${PREFIX}-cli does DORA for ${o.latencyClients} new clients at ${o.latencyRate}/s and times ACK received -> first`);
    bench.log(`#   A query to BIND answering the leased address (queries 1 ms apart, one in flight per name).`);
    bench.log(`#   named 9.18 works on at most update-quota (100) UPDATEs at once and drops the rest unanswered; each step counts those drops.`);
    bench.log(`#   per lease (= per leased name): UPDATE messages named received (statistics channel, opcode UPDATE) and named's CPU time,`);
    bench.log(`#   both from the start of perfdhcp to the end of the DNS check.`);
    bench.log(`#   ${NCPU} CPU(s) shared by perfdhcp, the server and named${NCPU <= 4 ? ': rates are lower than on dedicated machines' : ''}.`);
    warnIfBusy(bench, busy);

    const servers = doraServers(bench, {
      ddns: true,
      baseline: o.baseline,
      describe: {
        leasehold: 'Leasehold (SQLite lease store; DDNS: check-with-dhcid, retry 1 s..60 s, DNS timeout 2 s x 3 tries; defaults)',
        kea:
          'kea-dhcp4 (memfile, persist: true, lfc-interval 0) + kea-dhcp-ddns (D2; conflict resolution on, ' +
          `dns-server-timeout 500 ms, packaged queue limits; defaults) over NCR/UDP ${D2_ADDRESS}:${D2_PORT}`,
      },
    });
    const topo = await doraTopology(bench, PREFIX, { dns: true });
    const { outcomes, ok } = await measureServers<ServerName, DoraServer, Result>(
      bench,
      servers,
      o.only,
      (s, i, count) => measure(bench, topo, s, o, (o.budget - bench.seconds()) / (count - i)),
      (r) => r.rate !== undefined && r.latency !== undefined,
    );
    const l = outcomes.leasehold;
    const k = outcomes.kea;
    const b = outcomes.baseline;
    const figure = (r: Outcome<Result> | undefined, f: (s: Step) => number, digits: number): string => (r?.step ? fmt(f(r.step), digits) : 'n/a');
    const each = (f: (s: Step) => number, digits: number): string =>
      `leasehold=${figure(l, f, digits)} kea=${figure(k, f, digits)}` + (b ? ` baseline=${figure(b, f, digits)}` : '');
    if (k.latency) bench.log(`kea latency ACK->resolvable p50=${fmt(k.latency.p50, 1)} p99=${fmt(k.latency.p99, 1)} (ms)`);
    if (b) bench.log(`baseline ddns=${perSecond(b.rate)} p50=${fmt(b.latency?.p50 ?? NaN, 1)} p99=${fmt(b.latency?.p99 ?? NaN, 1)} (${o.baseline})`);
    bench.log(
      `ddns leasehold=${perSecond(l.rate)} kea=${perSecond(k.rate)} ratio=${ratio(l.rate, k.rate)} p50=${fmt(l.latency?.p50 ?? NaN, 1)} p99=${fmt(l.latency?.p99 ?? NaN, 1)}` +
        ` msgs_per_lease ${each((s) => perLease(s.bind.updates, s), 3)}` +
        ` bind_cpu_ms_per_lease ${each((s) => perLease(s.bind.cpuMs, s), 3)}` +
        ` resolvable_after_s ${each((s) => s.dns.atS, 1)}` +
        ` lost ${each((s) => s.dns.lost, 0)}`,
    );
    return ok ? 0 : 1;
  },
});
