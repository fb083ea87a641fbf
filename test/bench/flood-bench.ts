// DHCPv4 flood benchmark: is a real client still served while a segment
// floods the server, and once the flood is over? Leasehold against
// kea-dhcp4 on the same topology, in the same run.
//
//   node --import=tsx test/bench/flood-bench.ts [--only kea|leasehold] [--floods COUNT@RATE,...] [--after S] [--quick]
//
// For each server and each flood: a fresh server (the DORA benches' subnet,
// pool of 65,279, offers held 30 s) in lt-flood-srv; busybox udhcpc in
// lt-flood-prb asks for a lease once a second (one-shot, a fresh MAC each
// time) before, during and for --after seconds after the flood; the flood
// (test/fixtures/flood/flood.ts: raw frames from random locally
// administered MACs — DISCOVERs, SELECTING REQUESTs for random pool
// addresses naming our server, RENEW/INFORM with forged ciaddr, forged
// RELEASE/DECLINE, truncations, bit flips, lying option lengths, overload
// loops) comes from lt-flood-fld on the same bridge. Reported: the real
// client's time to a lease (p50/p95/max) during and after the flood, the
// longest time it went without one, the server's RSS before/after and CPU,
// pool addresses the flood got bound, and (Leasehold) its drop counters.
// Benchmark, not test: figures only; exit 1 when a server could not be measured.
//
// Needs root, iproute2, python3, busybox, kea-dhcp4. 198.18.0.0/16 only,
// inside the namespaces it creates; removed on exit, also on failure.

import { readFileSync } from 'node:fs';
import { startUdhcpc } from '../harness/clients.ts';
import type { Host } from '../harness/netns.ts';
import type { ServerLease } from '../harness/servers.ts';
import type { TrackedProcess } from '../harness/tracked-process.ts';
import {
  CLK_TCK,
  NCPU,
  REPO_ROOT,
  UsageError,
  ascending,
  cpuTicks,
  fmt,
  hostBusyPct,
  hostTicks,
  measureServers,
  percentile,
  runBench,
  ServerFailure,
  sleep,
  warnIfBusy,
  type Bench,
} from './bench-driver.ts';
import { benchServerConfig, doraServers, IFACE, POOL_END, POOL_SIZE, POOL_START, PREFIX_LEN, SERVER_NAMES, SRV_ADDR, withFreshServer, type DoraServer } from './dora.ts';

const PREFIX = 'lt-flood';
const DEFAULT_MIX = 'discover=30,select=20,renew=10,inform=10,release=5,decline=5,truncated=5,lying-length=5,overload-loop=5,bit-flip=5';
/** Before the flood: the probe must have had leases, so the gap figures have a start. */
const WARMUP_LEASES = 2;

interface Options {
  only?: string;
  floods: string;
  after: number;
  mix: string;
}

const USAGE = [
  'usage: node --import=tsx test/bench/flood-bench.ts [options]',
  '  --only kea|leasehold   measure one server only',
  '  --floods LIST          floods to run, COUNT@RATE frames/s, comma-separated (default 20000@1000,60000@3000,100000@10000)',
  `  --after S              seconds the probe goes on after each flood (default 40; offers are held 30 s)`,
  `  --mix LIST             kind=weight,... (default ${DEFAULT_MIX})`,
  '  --quick                one flood of 3000@1000, 35 s after it',
].join('\n');

interface Flood {
  count: number;
  rate: number;
}

function parseFloods(text: string): Flood[] {
  return text.split(',').map((part) => {
    const m = /^(\d+)@(\d+)$/.exec(part.trim());
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`--floods: "${part}" is not COUNT@RATE`);
    return { count: Number(m[1]), rate: Number(m[2]) };
  });
}

interface Attempt {
  start: number;
  end: number;
  ok: boolean;
}

/** udhcpc, one-shot with a fresh MAC, about once a second, until `done()`. */
async function probe(host: Host, attempts: Attempt[], macs: Set<string>, done: () => boolean): Promise<void> {
  while (!done()) {
    const start = Date.now();
    const mac = randomLocalMac();
    macs.add(mac);
    await host.segment.ip(host.netns, 'link', 'set', host.ifname, 'down');
    await host.segment.ip(host.netns, 'link', 'set', host.ifname, 'address', mac);
    await host.segment.ip(host.netns, 'addr', 'flush', 'dev', host.ifname);
    await host.segment.ip(host.netns, 'link', 'set', host.ifname, 'up');
    const client = await startUdhcpc(host, { oneShot: true, discoverTries: 3, discoverIntervalSeconds: 1, retryAfterSeconds: 1 });
    let ok = false;
    try {
      await client.waitFor('bound', 10_000);
      ok = true;
    } catch {
      // leasefail, or it gave up: no lease this time
    }
    const end = Date.now();
    await client.stop();
    attempts.push({ start, end, ok });
    const rest = 1000 - (Date.now() - start);
    if (rest > 0) await sleep(rest);
  }
}

function randomLocalMac(): string {
  const b = [...Array(6)].map(() => Math.floor(Math.random() * 256));
  b[0] = (b[0] & 0xfc) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The longest stretch between `from` and `to` with no lease obtained (lease times = ends of successful attempts). */
function longestWithout(attempts: Attempt[], from: number, to: number): number {
  const points = [from, ...attempts.filter((a) => a.ok && a.end > from && a.end <= to).map((a) => a.end), to];
  let longest = 0;
  for (let i = 1; i < points.length; i++) longest = Math.max(longest, points[i] - points[i - 1]);
  return longest / 1000;
}

function timesToLease(attempts: Attempt[]): string {
  const ok = ascending(attempts.filter((a) => a.ok).map((a) => (a.end - a.start) / 1000));
  const failed = attempts.length - ok.length;
  if (ok.length === 0) return `no lease in ${attempts.length} attempts`;
  return `p50 ${fmt(percentile(ok, 0.5))} s, p95 ${fmt(percentile(ok, 0.95))} s, max ${fmt(ok[ok.length - 1])} s (${ok.length} leases, ${failed} attempts without)`;
}

interface FloodFigures {
  maxWithout: number;
  maxWithoutAfter: number;
}

async function oneFlood(bench: Bench, hosts: { srv: Host; fld: Host; prb: Host }, server: DoraServer, flood: Flood, o: Options): Promise<FloodFigures> {
  const label = `[${server.name}] ${flood.count}@${flood.rate}/s`;
  return withFreshServer(server, hosts.srv, benchServerConfig(), async (running) => {
    const pid = running.processes[0].pid;
    const attempts: Attempt[] = [];
    const macs = new Set<string>();
    let stop = false;
    const probing = probe(hosts.prb, attempts, macs, () => stop);
    try {
      const warmupEnds = Date.now() + 30_000;
      while (attempts.filter((a) => a.ok).length < WARMUP_LEASES) {
        if (Date.now() > warmupEnds) throw new ServerFailure(`${server.name}: the probe got no lease before the flood (${attempts.length} attempts)`);
        await sleep(200);
      }
      const rssBefore = rssMb(pid);
      const flooder: TrackedProcess = hosts.fld.segment.spawnIn(hosts.fld.netns, [
        'node', '--import=tsx', 'test/fixtures/flood/flood.ts', hosts.fld.ifname,
        '--count', String(flood.count), '--rate', String(flood.rate), '--mix', o.mix,
        '--server-id', SRV_ADDR, '--addresses', `${POOL_START}-${POOL_END}`, '--seed', String(flood.count + flood.rate),
      ], { label: 'flood', cwd: REPO_ROOT });
      await flooder.waitForOutput(/"sending":true/, 120_000);
      const floodStart = Date.now();
      const cpu0 = cpuTicks(pid);
      const host0 = hostTicks();
      const [line] = await flooder.waitForOutput(/\{"sent".*\}/, ((flood.count / flood.rate) * 3 + 60) * 1000);
      const floodEnd = Date.now();
      const cpu1 = cpuTicks(pid);
      const host1 = hostTicks();
      const rssAtEnd = rssMb(pid);
      const sent = JSON.parse(line) as { framesSent: number; sendErrors: number; seconds: number };
      await sleep(o.after * 1000);
      stop = true;
      await probing;
      const runEnd = Date.now();
      const cpu2 = cpuTicks(pid);
      const host2 = hostTicks();
      const rssAfter = rssMb(pid);
      const leases: ServerLease[] = await running.leases();
      const floodBound = leases.filter((l) => l.state === 'bound' && !macs.has(l.hwAddress)).length;
      const pct = (ticks: number, h0: { total: number }, h1: { total: number }) => (100 * NCPU * ticks) / Math.max(1, h1.total - h0.total);
      const otherPct = (server: number, h0: { busy: number; total: number }, h1: { busy: number; total: number }) =>
        pct(h1.busy - h0.busy - server, h0, h1);
      const during = attempts.filter((a) => a.start >= floodStart && a.start < floodEnd);
      const after = attempts.filter((a) => a.start >= floodEnd);
      const figures = { maxWithout: longestWithout(attempts, floodStart, runEnd), maxWithoutAfter: longestWithout(attempts, floodEnd, runEnd) };
      bench.log(`${label} flood: ${sent.framesSent} frames in ${fmt(sent.seconds)} s (${fmt(sent.framesSent / sent.seconds, 0)}/s), ${sent.sendErrors} send errors`);
      bench.log(`${label} time to lease during the flood: ${timesToLease(during)}`);
      bench.log(`${label} time to lease after the flood (${o.after} s): ${timesToLease(after)}`);
      bench.log(`${label} longest without a lease: ${fmt(figures.maxWithout)} s from the flood's start, ${fmt(figures.maxWithoutAfter)} s after its end`);
      bench.log(
        `${label} server cpu ${fmt(pct(cpu1 - cpu0, host0, host1), 0)}% of one CPU during the flood ` +
          `(${fmt(((cpu1 - cpu0) / CLK_TCK / Math.max(1, sent.framesSent)) * 1e6, 1)} us/frame), ${fmt(pct(cpu2 - cpu1, host1, host2), 0)}% after; ` +
          `other ${fmt(otherPct(cpu1 - cpu0, host0, host1), 0)}% / ${fmt(otherPct(cpu2 - cpu1, host1, host2), 0)}% (of ${NCPU * 100}, flooder and probe included)`,
      );
      bench.log(`${label} rss ${fmt(rssBefore, 0)} MB before, ${fmt(rssAtEnd, 0)} MB at the flood's end, ${fmt(rssAfter, 0)} MB ${o.after} s later; pool addresses bound by the flood: ${floodBound} of ${POOL_SIZE}`);
      if (running.kind === 'leasehold') {
        const proc = running.processes[0];
        const lines = proc.output.split('\n');
        // Counted before the stop, which may not be clean while replies are still queued.
        const warnings = new Map<string, number>();
        for (const l of lines) {
          const event = l.includes('"level":"warn"') ? /"event":"([^"]+)"/.exec(l)?.[1] : undefined;
          if (event) warnings.set(event, (warnings.get(event) ?? 0) + 1);
        }
        const total = [...warnings.values()].reduce((a, b) => a + b, 0);
        bench.log(`${label} warn lines logged: ${total}${total ? ` (${[...warnings].map(([e, n]) => `${e} ${n}`).join(', ')})` : ''}`);
        let stopNote = '';
        try {
          await running.stop();
        } catch (e) {
          stopNote = ` [no clean stop: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}]`;
        }
        const stopped = proc.output.split('\n').find((l) => l.includes('"event":"stopped"'));
        const counters = stopped ? (JSON.parse(stopped) as { counters: Record<string, number> }).counters : undefined;
        const keys = ['packets_received', 'packets_malformed', 'dropped', 'offer_holds_evicted', 'pool_exhausted', 'packets_dropped', 'requests_unanswered', 'replies_offer', 'replies_ack', 'replies_nak', 'send_errors'];
        bench.log(`${label} counters: ${counters ? keys.map((k) => `${k}=${counters[k] ?? 0}`).join(' ') : 'n/a (no "stopped" line)'}${stopNote}`);
      } else {
        bench.log(`${label} counters: n/a (Kea's statistics are not read by this bench)`);
      }
      return figures;
    } finally {
      stop = true;
      await probing.catch(() => undefined);
    }
  });
}

runBench<Options>({
  name: 'flood-bench',
  usage: USAGE,
  defaults: { floods: '20000@1000,60000@3000,100000@10000', after: 40, mix: DEFAULT_MIX },
  flags: {
    '--only': { key: 'only', choices: SERVER_NAMES },
    '--floods': { key: 'floods', text: true },
    '--after': { key: 'after', number: { min: 1, max: 3600 } },
    '--mix': { key: 'mix', text: true },
    '--quick': { preset: { floods: '3000@1000', after: 35 } },
  },
  check(o) {
    parseFloods(o.floods);
  },
  needs: () => ['ip', 'python3', 'busybox'],
  async run(o, bench) {
    const floods = parseFloods(o.floods);
    const busy = await hostBusyPct();
    bench.log(`# flood-bench: floods ${o.floods} (frames@frames/s), mix ${o.mix}`);
    bench.log(`#   server in ${PREFIX}-srv on ${IFACE} ${SRV_ADDR}/${PREFIX_LEN}, pool ${POOL_START}-${POOL_END} (${POOL_SIZE}), offers held 30 s; flooder ${PREFIX}-fld, probe ${PREFIX}-prb, one bridge.`);
    bench.log(`#   probe: busybox udhcpc -q -n -t 3 -T 1 with a fresh MAC about once a second; a lease = its "bound" event. Fresh server per flood.`);
    bench.log(`#   ${NCPU} CPU(s), shared by the server, the flooder (python3) and the probe.`);
    warnIfBusy(bench, busy);
    const { hosts } = await bench.segment(PREFIX, [{ name: 'srv', ipv4: `${SRV_ADDR}/${PREFIX_LEN}` }, { name: 'fld' }, { name: 'prb' }]);
    const topo = { srv: hosts[0], fld: hosts[1], prb: hosts[2] };
    const servers = doraServers(bench, { describe: { leasehold: 'Leasehold (SQLite lease store, default protection)', kea: 'kea-dhcp4 (memfile, raw socket)' } });
    const { outcomes, ok } = await measureServers(
      bench,
      servers,
      o.only,
      async (s) => {
        const out: Record<string, FloodFigures> = {};
        for (const f of floods) out[`${f.count}@${f.rate}`] = await oneFlood(bench, topo, s, f, o);
        return { floods: out };
      },
      (r) => r.floods !== undefined,
    );
    for (const f of floods) {
      const key = `${f.count}@${f.rate}`;
      const figure = (name: string) => {
        const r = (outcomes as Record<string, { floods?: Record<string, FloodFigures> }>)[name].floods?.[key];
        return r ? `max_no_lease=${fmt(r.maxWithout, 1)}s after_end=${fmt(r.maxWithoutAfter, 1)}s` : 'n/a';
      };
      bench.log(`dhcp4-flood ${key}/s leasehold ${figure('leasehold')} kea ${figure('kea')}`);
    }
    return ok ? 0 : 1;
  },
});
