// Agent benchmark: how long `agent attach <container>` takes from the command
// to a bound IPv4 lease, and how much memory `agent watch` holds with 200
// attachments.
//
//   node --import=tsx test/bench/agent-bench.ts [--containers 50] [--attachments 200] [--samples 20] [--quick]
//
// The last line printed is always:
//   attach p50=<ms> p95=<ms> rss=<MB>@<attachments>
//
// Needs root, iproute2, busybox, and `make docker` (the engine and the
// leasehold/busybox image). Runs the built agent (`bin/agent`, `make
// build`); with a stale build it falls back to the sources through tsx and
// says so, since the figures then include compiling.
//
// Setup: the harness's agent lab with prefix `lt-agb` (bridge netns
// `lt-agb-core` with a bridge named for this run, 198.18.0.11/16 on it; our
// DHCP server in `lt-agb-srv`), containers run with --net none and labelled
// for the sweep. Everything is removed on exit, also on failure or Ctrl-C.
//
// What is measured:
// 1. attach: `bin/agent attach <id> --json` for each of N running
//    containers, one after another, timed from spawn to exit (the agent
//    exits once the DHCP client's hook has recorded the lease), with
//    `agent watch` running for the run dir, as on a worker: the CLI has
//    the daemon do the attach over its control socket. One warm-up attach
//    first, not counted. p50 and p95 over the N; the daemon's own time per
//    attach (its `served` log lines) is printed under it.
// 2. Breakdown (printed, not in the last line): the same CLI attach with
//    no `agent watch` (the CLI does the work itself), a CLI that does
//    nothing (`inspect --all` on an empty run dir: node + module loading),
//    `attach --netns` through the CLI, `inspect` of a container not
//    attached (start-up with the Docker client and one Docker call), and
//    the Agent class in this process for both kinds of target (no process
//    start), so the container-specific cost (Docker inspect, netns naming)
//    and the start-up cost show apart.
// 3. rss: the in-process agent attaches M netns targets; then one of their
//    clients is killed and `bin/agent watch --interval 2` is started. Its
//    log line for the restart of that client marks the end of its first
//    full reconcile pass (over all M); VmRSS from /proc/<pid>/status is read
//    then and again after each of `--passes` more passes. The figure is the
//    last one. The watch's CPU time per pass (its own, and that of the ip
//    and nsenter processes it runs) is printed too.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, type AttachRequest } from '../../agent/app/agent.ts';
import { createLogger } from '../../lib/core/logger.ts';
import {
  createAgentLab,
  isAlive,
  jsonOf,
  runAgent,
  uniqueBridgeName,
} from '../harness/agent.ts';
import { ensureDockerReady, startNetNoneContainer, sweepTestContainers, TEST_IMAGES, testRunId, type NetNoneContainer } from '../harness/docker.ts';
import { mapLimit } from '../harness/map-limit.ts';
import { ipBatch, sweepStale } from '../harness/netns.ts';
import { pollUntil } from '../harness/poll.ts';
import { ourCommand } from '../harness/run-command.ts';
import { ascending, CLK_TCK, cpuTicks, fmt, percentile, REPO_ROOT, runBench, timed, type Bench } from './bench-driver.ts';
import type { InspectJson } from '../../agent/core/attachment.ts';

const PREFIX = 'lt-agb';

interface Options {
  containers: number;
  attachments: number;
  samples: number;
  passes: number;
}

const USAGE = [
  'usage: node --import=tsx test/bench/agent-bench.ts [options]',
  '  --containers N         containers attached through the CLI (default 50)',
  '  --attachments M        netns attachments the watch holds for the memory figure (default 200, at most 700:',
  '                         the pool holds 768 addresses)',
  '  --samples K            attaches per breakdown row (default 20)',
  '  --passes P             watch passes after the first, for the memory figure (default 5)',
  '  --quick                10 containers, 50 attachments, 5 samples, 2 passes',
].join('\n');

/** bin/agent when the build is fresh (what the harness would run built), else the sources. */
function benchCommand(): { command: string[]; built: boolean } {
  const { argv, built } = ourCommand('agent');
  return { command: built ? [join(REPO_ROOT, 'bin', 'agent')] : argv, built };
}

function summary(ms: readonly number[]): string {
  const sorted = ascending(ms);
  return `p50 ${fmt(percentile(sorted, 0.5), 0)} ms, p95 ${fmt(percentile(sorted, 0.95), 0)} ms, min ${fmt(sorted[0], 0)}, max ${fmt(sorted[sorted.length - 1], 0)} (n=${sorted.length})`;
}

async function vm(pid: number): Promise<{ rssMb: number; hwmMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

// ---------------------------------------------------------------------------

async function createTargets(names: string[]): Promise<void> {
  await ipBatch(undefined, names.map((n) => `netns add ${n}`));
}

async function run(opts: Options, bench: Bench): Promise<number> {
  const log = bench.log;
  const runId = `${testRunId()}-agent-bench`;
  const containers: NetNoneContainer[] = [];
  // Run last to first: the lab (below), then the containers, then what is
  // left under the prefix: the netns targets are lt-agb-*, the sweep deletes
  // them and anything left inside.
  bench.onCleanup(() => sweepStale(PREFIX));
  bench.onCleanup(() => sweepTestContainers(runId));
  await ensureDockerReady();
  const { command, built } = benchCommand();
  if (!built) log('WARNING: dist/ is older than agent/ or lib/: running the agent from source through tsx (run `make build`); figures include compiling');
  log(`agent: ${command.join(' ')}`);

  await sweepStale(PREFIX);
  await sweepTestContainers();
  // A bridge name of this run's own: another run's `agent watch` never attaches our containers, nor ours theirs.
  const l = await createAgentLab(PREFIX, { bridge: uniqueBridgeName('ltagb') });
  bench.onCleanup(() => l.destroy());
  const attachArgs = (target: string[]) => ['--run-dir', l.runDir, ...l.attachArgs(target, ['--json'])];

  // -- 1. CLI attach of N containers ------------------------------------------
  log(`starting ${opts.containers + 1} containers (--net none)…`);
  containers.push(...(await mapLimit(Array.from({ length: opts.containers + 1 }), 4, () =>
    startNetNoneContainer({ image: TEST_IMAGES.busybox, command: ['sleep', '3600'], runId }))));
  for (const c of containers) l.track(c.id);

  // The deployed set-up: `agent watch` runs on the worker, and the CLI has
  // it do the attach over its control socket (core/control-protocol.ts).
  const daemon = await l.startWatch([], { intervalSeconds: 5 });
  const warm = await runAgent(attachArgs([containers[0].id]), { command });
  jsonOf(warm);
  log(`warm-up attach: ${fmt(warm.ms, 0)} ms (not counted)`);
  const attachMs: number[] = [];
  for (const c of containers.slice(1)) {
    const r = await runAgent(attachArgs([c.id]), { command });
    const json = jsonOf<InspectJson>(r);
    if (!json.NetworkSettings.IPAddress) throw new Error(`attach ${c.shortId} printed no address`);
    attachMs.push(r.ms);
  }
  const served = [...daemon.output.matchAll(/"event":"served","command":"attach","exitCode":0,"ms":(\d+)/g)].map((m) => Number(m[1]));
  if (served.length !== containers.length) throw new Error(`agent watch served ${served.length} of ${containers.length} attaches`);
  log(`CLI attach <container> (bound IPv4), agent watch running:  ${summary(attachMs)}`);
  log(`  of which the attach in agent watch:                      ${summary(served.slice(1))}`);
  await daemon.stop();

  // -- 2. Breakdown ------------------------------------------------------------
  const agent = new Agent({ runDir: l.runDir, defaultApp: 'app' }, createLogger({ level: 'warn', write: (line) => process.stderr.write(line + '\n') }));
  await agent.init();
  // The same attach with no agent watch: the CLI does the work itself.
  const alone = containers.slice(1, 1 + Math.min(opts.samples, opts.containers));
  for (const c of alone) await agent.detach({ container: c.id });
  const aloneMs: number[] = [];
  for (const c of alone) {
    const r = await runAgent(attachArgs([c.id]), { command });
    jsonOf(r);
    aloneMs.push(r.ms);
  }
  log(`CLI attach <container>, no agent watch:  ${summary(aloneMs)}`);

  // -- 2. Breakdown ------------------------------------------------------------
  const emptyRunDir = join(l.runDir, 'empty');
  const noop: number[] = [];
  for (let i = 0; i < opts.samples; i++) noop.push((await runAgent(['--run-dir', emptyRunDir, 'inspect', '--all'], { command })).ms);
  log(`CLI doing nothing (inspect --all):    ${summary(noop)}`);

  const base: Omit<AttachRequest, 'container' | 'netns'> = {
    bridge: l.bridge,
    bridgeNetns: l.bridgeNetns,
    ifname: 'eth0',
    macScheme: 'random',
    ipv6: 'slaac',
    waitIpv6: false,
    timeoutMs: 30_000,
  };

  const detachMs: number[] = [];
  for (const c of containers) detachMs.push((await timed(() => agent.detach({ container: c.id }))).ms);
  log(`in-process detach <container>:       ${summary(detachMs)}`);

  // Not attached any more: inspect asks Docker, so this is start-up with the Docker client loaded and one call.
  const dockerNoop: number[] = [];
  for (const c of containers.slice(0, opts.samples)) {
    const r = await runAgent(['--run-dir', l.runDir, 'inspect', c.id], { command });
    if (r.code !== 1 || !/not attached/.test(r.stderr)) throw new Error(`inspect of a detached container: ${r.stderr}`);
    dockerNoop.push(r.ms);
  }
  log(`CLI + Docker client (inspect, 1 call): ${summary(dockerNoop)}`);

  const sample = containers.slice(1, 1 + Math.min(opts.samples, opts.containers));
  const inDocker: number[] = [];
  for (const c of sample) inDocker.push((await timed(() => agent.attach({ ...base, container: c.id }))).ms);
  log(`in-process attach <container>:       ${summary(inDocker)}`);
  for (const c of sample) await agent.detach({ container: c.id });

  const probeNames = Array.from({ length: opts.samples }, (_, i) => `${PREFIX}-p${String(i).padStart(3, '0')}`);
  await createTargets(probeNames);
  const inNetns: number[] = [];
  for (const n of probeNames) inNetns.push((await timed(() => agent.attach({ ...base, netns: n }))).ms);
  log(`in-process attach --netns:           ${summary(inNetns)}`);
  for (const n of probeNames) await agent.detach({ netns: n });
  const cliNetns: number[] = [];
  for (const n of probeNames) {
    const r = await runAgent(attachArgs(['--netns', n]), { command });
    jsonOf(r);
    cliNetns.push(r.ms);
  }
  log(`CLI attach --netns:                  ${summary(cliNetns)}`);
  for (const n of probeNames) await agent.detach({ netns: n });

  // -- 3. watch's memory with M attachments ----------------------------------
  const names = Array.from({ length: opts.attachments }, (_, i) => `${PREFIX}-m${String(i).padStart(3, '0')}`);
  await createTargets(names);
  const fill = await timed(() => mapLimit(names, 10, (n) => agent.attach({ ...base, ipv6: 'off', netns: n })));
  const ips = new Set(fill.value.map((j) => j.NetworkSettings.IPAddress));
  if (ips.size !== names.length) throw new Error(`${names.length} attachments got only ${ips.size} distinct addresses`);
  log(`${names.length} netns attachments made in-process in ${fmt(fill.ms / 1000, 1)} s (10 at a time)`);

  // One dead client: the watch's restart of it is logged at the end of its first full pass.
  const marker = fill.value[0].NetworkSettings.DHCP_PID;
  process.kill(marker, 'SIGKILL');
  await pollUntil('the marker client to exit', () => !isAlive(marker), { timeoutMs: 5000 });
  const intervalS = 2;
  const watch = await l.startWatch([], { intervalSeconds: intervalS });
  await watch.waitForOutput(/"event":"reconciled".*"kind":"restart-client"/, 60_000);
  const first = await vm(watch.pid);
  log(`watch after its first reconcile pass: VmRSS ${fmt(first.rssMb, 1)} MB (VmHWM ${fmt(first.hwmMb, 1)} MB)`);
  // CPU of the watch and of the processes it ran and reaped (ip, nsenter).
  const cpu = (pid: number) => {
    const own = cpuTicks(pid);
    return { own, children: cpuTicks(pid, { children: true }) - own };
  };
  const cpuBefore = cpu(watch.pid);
  const samples: number[] = [];
  for (let i = 0; i < opts.passes; i++) {
    await new Promise((r) => setTimeout(r, intervalS * 1000));
    if (!watch.running) throw new Error(`agent watch exited:\n${watch.tail()}`);
    samples.push((await vm(watch.pid)).rssMb);
  }
  const cpuAfter = cpu(watch.pid);
  const steady = await vm(watch.pid);
  const shown = samples.length <= 10 ? samples : [...samples.slice(0, 5), NaN, ...samples.slice(-4)];
  log(`watch over ${opts.passes} more passes: VmRSS ${shown.map((s) => (Number.isNaN(s) ? '…' : fmt(s, 1))).join(', ')} MB (VmHWM ${fmt(steady.hwmMb, 1)} MB)`);
  const perPass = (ticks: number) => fmt((ticks / CLK_TCK / opts.passes) * 1000, 0);
  log(`watch CPU per ${intervalS} s pass: ${perPass(cpuAfter.own - cpuBefore.own)} ms own + ${perPass(cpuAfter.children - cpuBefore.children)} ms in the processes it runs (ip, nsenter)`);
  const stillBound = (await l.inspectAll()).filter((j) => j.NetworkSettings.IPAddress && j.NetworkSettings.DHCP_PID > 0).length;
  log(`attachments with a lease and a live client after the passes: ${stillBound}/${names.length}`);

  const sorted = ascending(attachMs);
  log(`attach p50=${fmt(percentile(sorted, 0.5), 0)} p95=${fmt(percentile(sorted, 0.95), 0)} rss=${fmt(samples[samples.length - 1], 1)}@${names.length}`);
  return 0;
}

runBench<Options>({
  name: 'agent-bench',
  usage: USAGE,
  defaults: { containers: 50, attachments: 200, samples: 20, passes: 5 },
  flags: {
    '--containers': { key: 'containers', number: { min: 1, integer: true } },
    '--attachments': { key: 'attachments', number: { min: 1, max: 700, integer: true } },
    '--samples': { key: 'samples', number: { min: 1, integer: true } },
    '--passes': { key: 'passes', number: { min: 1, integer: true } },
    '--quick': { preset: { containers: 10, attachments: 50, samples: 5, passes: 2 } },
  },
  needs: () => ['ip', 'busybox'],
  run,
});
