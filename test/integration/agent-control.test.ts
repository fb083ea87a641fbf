// The CLI ↔ `agent watch` control socket (<run-dir>/agent.sock): with a
// watch running, one-shot commands through bin/agent are run by the daemon
// (a `served` line on its stdout, the DHCP client its child) and print what
// the CLI itself would; anything the daemon must not run — another network
// namespace, another Docker socket — and a dead or stopped daemon leave the
// command to the CLI, which still gives the right answer. Needs root; netns
// targets (plain named namespaces), so no Docker.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import type { InspectJson } from '../../agent/core/attachment.ts';
import { controlSocketPath, parseResponse, type ControlResponse } from '../../agent/core/control-protocol.ts';
import { followsScheme } from '../../agent/core/mac.ts';
import { clientFqdn, dhcpHostname, hostVethName, stateKey } from '../../agent/core/target.ts';
import {
  agentCommand,
  isAlive,
  jsonOf,
  LAB_OPTIONS,
  netnsList,
  POOL,
  PREFIX_LEN,
  REPO_ROOT,
  runAgent,
  SERVER_IP,
  uniqueBridgeName,
  useAgentLab,
  WORKER_IP,
  type AgentLab,
  type AgentResult,
} from '../harness/agent.ts';
import { sweepAround } from '../harness/fixture.ts';
import { ipBatch as ipBatchIn, SYSTEM_PATH } from '../harness/netns.ts';
import { pollUntil } from '../harness/poll.ts';
import { runCommand } from '../harness/run-command.ts';
import { TrackedProcess } from '../harness/tracked-process.ts';

const PREFIX = 'lt-ag-c';
sweepAround(test, PREFIX);

const BIN_AGENT = join(REPO_ROOT, 'bin', 'agent');
const execFileAsync = promisify(execFile);

// bin/agent runs dist/: a stale build would test yesterday's agent.
test.before(() => {
  const [, entry] = agentCommand();
  if (entry !== join(REPO_ROOT, 'dist', 'agent', 'cli', 'main.js')) {
    throw new Error('dist/ is older than agent/: run `make build` first (bin/agent runs the build)');
  }
});

// ---------------------------------------------------------------------------
// Helpers

/** Named network namespaces `lt-ag-c-<name>` as netns targets; removed after the lab's teardown (registered first, runs last). */
async function netnsTargets(t: ExecutionContext, names: readonly string[]): Promise<string[]> {
  const full = names.map((n) => `${PREFIX}-${n}`);
  t.teardown(() => ipBatch(full.map((n) => `netns del ${n}`)).catch(() => undefined));
  await ipBatch(full.map((n) => `netns add ${n}`));
  return full;
}

async function ipBatch(lines: string[]): Promise<void> {
  await ipBatchIn(undefined, lines, true);
}

interface Watched {
  lab: AgentLab;
  watch: TrackedProcess;
  socket: string;
}

/**
 * A lab and its `agent watch`. The bridge has a name of its own and the
 * watch a --worker nobody labels containers with: it never attaches a
 * labelled container of another run.
 */
async function watchedLab(t: ExecutionContext): Promise<Watched> {
  const lab = await useAgentLab(t, PREFIX, { bridge: uniqueBridgeName('ltagc') });
  const watch = await lab.startWatch(['--worker', `${PREFIX}-${randomBytes(4).toString('hex')}`]);
  const socket = controlSocketPath(lab.runDir);
  await pollUntil('the control socket', () => existsSync(socket), { timeoutMs: 5000, describe: () => watch.tail() });
  return { lab, watch, socket };
}

/**
 * An `agent watch` the test starts itself (lab.startWatch waits for it to
 * come up, and runs it in the repository): stopped by PID in the test's
 * teardown, which runs before the lab's.
 */
function spawnWatch(t: ExecutionContext, lab: AgentLab, label: string, cwd = REPO_ROOT): TrackedProcess {
  const [cmd, ...pre] = agentCommand();
  const watch = new TrackedProcess(
    label,
    [cmd, ...pre, '--run-dir', lab.runDir, 'watch', '--bridge-netns', lab.bridgeNetns, '--interval', '1', '--worker', `${PREFIX}-${randomBytes(4).toString('hex')}`],
    { cwd, env: { ...process.env, PATH: SYSTEM_PATH } },
  );
  t.teardown(async () => {
    await watch.stop(3000);
    if (!t.passed) t.log(watch.tail(40));
  });
  return watch;
}

/** `bin/agent --run-dir <lab's> <args>` in the root namespace, stdout a pipe. */
function cli(lab: AgentLab, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<AgentResult> {
  return runCommand([BIN_AGENT, '--run-dir', lab.runDir, ...args], { env: options.env, timeoutMs: options.timeoutMs ?? 60_000 });
}

/** The same, started inside another network namespace. */
function cliInNetns(netns: string, lab: AgentLab, args: readonly string[]): Promise<AgentResult> {
  return runCommand(['nsenter', `--net=/run/netns/${netns}`, BIN_AGENT, '--run-dir', lab.runDir, ...args], { timeoutMs: 60_000 });
}

interface ServedLine {
  event: 'served';
  command: string;
  exitCode: number;
  ms: number;
}

/** The `served` lines the watch has logged so far, in order. */
function served(watch: TrackedProcess): ServedLine[] {
  return watch.output.split('\n').flatMap((line) => {
    try {
      const value = JSON.parse(line) as { event?: string };
      return value?.event === 'served' ? [value as ServedLine] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Waits until the watch has logged `count` served lines and returns them
 * (the CLI can exit a moment before the line reaches our pipe). Then gives
 * any further line a moment to show up, so "exactly these" can be asserted.
 */
async function waitServed(watch: TrackedProcess, count: number): Promise<ServedLine[]> {
  await pollUntil(`${count} served line(s)`, () => served(watch).length >= count, { timeoutMs: 10_000, describe: () => watch.tail() });
  await new Promise((resolve) => setTimeout(resolve, 200));
  return served(watch);
}

const brief = (lines: ServedLine[]) => lines.map((l) => ({ command: l.command, exitCode: l.exitCode }));

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function inPool(ip: string): boolean {
  const n = ipToNumber(ip);
  return /^\d+\.\d+\.\d+\.\d+$/.test(ip) && n >= ipToNumber(POOL.start) && n <= ipToNumber(POOL.end);
}

/** Parent PID (/proc/<pid>/stat field 4): the daemon is the parent of a DHCP client it started. */
function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

async function eth0Ipv4(netns: string): Promise<string[]> {
  const { stdout } = await execFileAsync('ip', ['-n', netns, '-4', '-o', 'addr', 'show', 'dev', 'eth0'], { env: { ...process.env, PATH: SYSTEM_PATH } })
    .catch(() => ({ stdout: '' }));
  return [...stdout.matchAll(/inet (\S+)/g)].map((m) => m[1]);
}

interface Snapshot {
  links: string[];
  netns: string[];
  stateFiles: string[];
  clients: number[];
}

async function snapshot(lab: AgentLab): Promise<Snapshot> {
  return {
    links: await lab.bridgeLinks(),
    netns: (await netnsList()).filter((n) => n.startsWith(`${PREFIX}-`) || n.startsWith('lhc-')).sort(),
    stateFiles: await lab.stateFiles(),
    clients: lab.clients(),
  };
}

/**
 * One raw exchange on the control socket, as bin/agent does it (the request
 * written, the connection left open, unless `halfClose`): what the daemon
 * sent back before it closed.
 */
function rawExchange(socketPath: string, payload: string | Buffer, { timeoutMs = 10_000, halfClose = false } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // halfClose: shut our side down after the request, as `socat` or `nc -N` do.
    const socket = createConnection(socketPath, () => (halfClose ? socket.end(payload) : socket.write(payload)));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer on ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** `agent inspect --all`'s request as bin/agent would send it from this process's namespaces. */
const INSPECT_ALL = { op: 'inspect', request: { all: true } };

function requestLine(operation: Record<string, unknown> = INSPECT_ALL, over: Record<string, unknown> = {}): string {
  const ns = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`);
  return JSON.stringify({
    version: 2, ...operation, netns: ns('net'), mntns: ns('mnt'), dockerSocket: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock',
    log: { level: 'warn', pretty: false }, ...over,
  }) + '\n';
}

// ---------------------------------------------------------------------------
// Tests

test('a: attach, inspect and detach through bin/agent are served by the watch, with the right answers and real effects', async (t) => {
  const [target] = await netnsTargets(t, ['a']);
  const { lab, watch } = await watchedLab(t);
  const before = await snapshot(lab);

  const attached = await cli(lab, lab.attachArgs(['--netns', target]));
  const json = jsonOf<InspectJson>(attached);
  const n = json.NetworkSettings;
  t.is(attached.stderr, '');
  t.is(json.Container, target);
  t.true(inPool(n.IPAddress), `${n.IPAddress} in the pool ${POOL.start}–${POOL.end}`);
  t.like(n, { Bridge: lab.bridge, IPPrefixLen: PREFIX_LEN, Gateway: SERVER_IP, Netns: target });
  t.deepEqual(n.DNS, LAB_OPTIONS.dnsServers);
  t.is(n.FQDN, `${clientFqdn(dhcpHostname({ kind: 'netns', id: target }), 'app')}.${LAB_OPTIONS.domainName}`);
  t.true(followsScheme(n.HWAddr, WORKER_IP), n.HWAddr);
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'attach', exitCode: 0 }]);
  t.true(Number.isInteger(served(watch)[0].ms) && served(watch)[0].ms >= 0);
  // The daemon did the work: the DHCP client is its child, not an orphan of an exited CLI.
  t.true(isAlive(n.DHCP_PID));
  t.is(ppidOf(n.DHCP_PID), watch.pid, 'the watch started the DHCP client');
  t.deepEqual(await eth0Ipv4(target), [`${n.IPAddress}/${PREFIX_LEN}`]);
  t.true((await lab.bridgeLinks()).includes(n.HostVeth));
  t.like(await lab.serverLease(n.IPAddress), { state: 'bound', hwAddress: n.HWAddr });

  const inspected = jsonOf<InspectJson>(await cli(lab, ['inspect', '--netns', target]));
  t.deepEqual(inspected, json);
  t.deepEqual(brief(await waitServed(watch, 2)), [{ command: 'attach', exitCode: 0 }, { command: 'inspect', exitCode: 0 }]);

  const detached = jsonOf<InspectJson>(await cli(lab, ['detach', '--netns', target]));
  t.is(detached.NetworkSettings.IPAddress, n.IPAddress, 'detach prints the attachment it removed');
  t.deepEqual(brief(await waitServed(watch, 3)), [
    { command: 'attach', exitCode: 0 },
    { command: 'inspect', exitCode: 0 },
    { command: 'detach', exitCode: 0 },
  ]);
  await lab.waitForServerLease(n.IPAddress, 'released');
  t.false(isAlive(n.DHCP_PID), 'client stopped');
  t.deepEqual(await snapshot(lab), before, 'no veth, state or client left');
  t.deepEqual(await eth0Ipv4(target), [], 'the target lost its address and eth0');
});

// Usage errors are the CLI's own (it parses its arguments before it asks the
// daemon): never sent, and the same text as with no daemon at all.
test('b: usage and operational errors with a daemon: the CLI\'s exit codes and messages, nothing left behind', async (t) => {
  const { lab, watch } = await watchedLab(t);
  // The same commands with no watch (a run dir of its own), to compare against.
  const lonelyRunDir = join(lab.segment.tmpDir, 'no-watch');
  await mkdir(lonelyRunDir);
  const local = (args: readonly string[]) => runAgent(['--run-dir', lonelyRunDir, ...args], { command: [BIN_AGENT] });

  const usageArgs = lab.attachArgs(['--netns', `${PREFIX}-u`], ['--timeout', '-1']);
  const usage = await cli(lab, usageArgs);
  t.is(usage.code, 2, usage.stderr);
  t.is(usage.stdout, '');
  t.regex(usage.stderr, /agent attach \[container\]/, 'the attach usage');
  t.regex(usage.stderr, /Options:/);
  t.regex(usage.stderr, /\n\nerror: --timeout must be a positive number of seconds\n$/);
  const usageLocal = await local(usageArgs);
  t.deepEqual({ code: usage.code, stdout: usage.stdout, stderr: usage.stderr }, { code: usageLocal.code, stdout: usageLocal.stdout, stderr: usageLocal.stderr }, 'same as without the daemon');

  const before = await snapshot(lab);
  const missingArgs = lab.attachArgs(['--netns', `${PREFIX}-nope`]);
  const missing = await cli(lab, missingArgs);
  t.is(missing.code, 1, missing.stderr);
  t.is(missing.stdout, '');
  t.is(missing.stderr, `agent: netns ${PREFIX}-nope does not exist\n`);
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'attach', exitCode: 1 }], 'the operational error was served, the usage error not');
  t.deepEqual(await snapshot(lab), before, 'nothing left behind');
  t.deepEqual(await lab.records(), []);
  const missingLocal = await local(missingArgs);
  t.deepEqual({ code: missing.code, stdout: missing.stdout, stderr: missing.stderr }, { code: missingLocal.code, stdout: missingLocal.stdout, stderr: missingLocal.stderr });

  // An unknown option, and help: the CLI's answer, never sent to the daemon.
  const unknown = await cli(lab, ['attach', 'x', '--frobnicate']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /Unknown argument: frobnicate/);
  t.deepEqual({ code: unknown.code, stderr: unknown.stderr }, { code: 2, stderr: (await local(['attach', 'x', '--frobnicate'])).stderr });
  const help = await cli(lab, ['inspect', '--help']);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /^agent inspect \[container\]\n/);
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'attach', exitCode: 1 }], 'nothing more was sent to the daemon');
  t.true(watch.running, 'the watch survives its commands\' errors');
});

test('c: a stale socket (watch killed with SIGKILL): the CLI runs the command itself, and a new watch takes the socket over', async (t) => {
  const [target] = await netnsTargets(t, ['c']);
  const { lab, watch, socket } = await watchedLab(t);
  t.deepEqual(jsonOf<InspectJson[]>(await cli(lab, ['inspect', '--all'])), []);
  t.is((await waitServed(watch, 1)).length, 1);

  await watch.kill9();
  t.true(existsSync(socket), 'the dead daemon\'s socket file stays');
  const r = await cli(lab, lab.attachArgs(['--netns', target]));
  const n = jsonOf<InspectJson>(r).NetworkSettings;
  t.is(r.stderr, '', 'no complaint about the stale socket');
  t.true(inPool(n.IPAddress));
  t.deepEqual(await eth0Ipv4(target), [`${n.IPAddress}/${PREFIX_LEN}`]);
  t.like(await lab.serverLease(n.IPAddress), { state: 'bound', hwAddress: n.HWAddr });
  t.not(ppidOf(n.DHCP_PID), watch.pid);
  t.is(served(watch).length, 1, 'nothing new served');
  t.true(existsSync(socket), 'the CLI leaves the socket file alone');

  // A new watch replaces the stale socket and serves.
  const second = await lab.startWatch(['--worker', `${PREFIX}-${randomBytes(4).toString('hex')}`]);
  await pollUntil('the new watch to listen', async () => {
    const reply = parseResponse(await rawExchange(socket, requestLine()).catch(() => ''));
    return reply?.kind === 'result';
  }, { timeoutMs: 10_000, describe: () => second.tail() });
  const again = jsonOf<InspectJson>(await cli(lab, ['inspect', '--netns', target]));
  t.is(again.NetworkSettings.IPAddress, n.IPAddress);
  t.deepEqual(brief(await waitServed(second, 2)), [{ command: 'inspect', exitCode: 0 }, { command: 'inspect', exitCode: 0 }]);
});

test('d: a CLI in another network namespace is not served, and still gives the right answers', async (t) => {
  const [target, elsewhere] = await netnsTargets(t, ['d', 'dx']);
  const { lab, watch } = await watchedLab(t);
  const attached = jsonOf<InspectJson>(await cli(lab, lab.attachArgs(['--netns', target])));
  const n = attached.NetworkSettings;
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'attach', exitCode: 0 }]);
  const linksBefore = (await lab.bridgeLinks()).filter((l) => l !== n.HostVeth);

  const all = await cliInNetns(elsewhere, lab, ['inspect', '--all']);
  t.is(all.code, 0, all.stderr);
  t.deepEqual(jsonOf<InspectJson[]>(all), [attached], 'the attachment made before, as the daemon reported it');
  // A command with effects, run there: the run dir is a path and --bridge-netns a name, both valid from any netns.
  const detached = await cliInNetns(elsewhere, lab, ['detach', '--netns', target]);
  t.is(jsonOf<InspectJson>(detached).NetworkSettings.IPAddress, n.IPAddress);
  await lab.waitForServerLease(n.IPAddress, 'released');
  t.false(isAlive(n.DHCP_PID));
  t.deepEqual(await lab.bridgeLinks(), linksBefore, 'veth removed');
  t.deepEqual(await lab.stateFiles(), []);

  // A served command after them: had the daemon run either, its line would come first.
  t.deepEqual(jsonOf<InspectJson[]>(await cli(lab, ['inspect', '--all'])), []);
  t.deepEqual(brief(await waitServed(watch, 2)), [{ command: 'attach', exitCode: 0 }, { command: 'inspect', exitCode: 0 }]);
});

test('e: another Docker socket (--docker-socket or $DOCKER_SOCKET) is not served; the CLI\'s own answer, as with no watch', async (t) => {
  const { lab, watch } = await watchedLab(t);
  const args = ['--docker-socket', '/nonexistent/docker.sock', 'inspect', `${PREFIX}-somecontainer`];
  const withWatch = await cli(lab, args);
  const viaEnv = await cli(lab, ['inspect', `${PREFIX}-somecontainer`], { env: { DOCKER_SOCKET: '/nonexistent/docker.sock' } });
  t.is(withWatch.code, 1, withWatch.stderr);
  t.is(withWatch.stdout, '');
  t.regex(withWatch.stderr, /^agent: [^\n]+\n$/, 'one agent: line');
  t.log(`the local CLI says: ${withWatch.stderr.trim()}`);
  t.deepEqual(viaEnv, { ...viaEnv, code: withWatch.code, stdout: withWatch.stdout, stderr: withWatch.stderr });

  // Sentinel: a served command naming the daemon's own engine; had the
  // daemon run either of the above, its line would come first.
  const sameEngine = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
  t.deepEqual(jsonOf<InspectJson[]>(await cli(lab, ['--docker-socket', sameEngine, 'inspect', '--all'])), []);
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'inspect', exitCode: 0 }]);

  // And the same command with no watch at all.
  await watch.stop(10_000);
  const noWatch = await cli(lab, args);
  t.deepEqual({ code: withWatch.code, stdout: withWatch.stdout, stderr: withWatch.stderr }, { code: noWatch.code, stdout: noWatch.stdout, stderr: noWatch.stderr });
});

test('f: a second watch on the same run dir refuses to start; the first keeps serving', async (t) => {
  const { lab, watch, socket } = await watchedLab(t);
  const second = spawnWatch(t, lab, 'agent watch (second)');
  const ended = await Promise.race([second.exited, new Promise<'running'>((resolve) => setTimeout(resolve, 30_000, 'running'))]);
  t.not(ended, 'running', `the second watch is still running\n${second.tail()}`);
  if (ended !== 'running') t.not(ended.code, 0, `exit status ${JSON.stringify(ended)}`);
  t.regex(second.output, /another agent watch serves/);
  t.regex(second.output, new RegExp(socket.replaceAll('/', '\\/').replaceAll('.', '\\.')), 'names the socket');

  t.true(watch.running, 'the first watch still runs');
  t.true(existsSync(socket), 'its socket is still there');
  t.true(statSync(socket).isSocket());
  t.is(statSync(socket).mode & 0o777, 0o600);
  t.deepEqual(jsonOf<InspectJson[]>(await cli(lab, ['inspect', '--all'])), []);
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'inspect', exitCode: 0 }]);
  t.notRegex(watch.output, /control-request-(dropped|invalid)/, 'the second watch\'s probe is not logged as a bad request');
});

test('g: SIGTERM to the watch removes the socket; the CLI then runs commands itself', async (t) => {
  const [target] = await netnsTargets(t, ['g']);
  const { lab, watch, socket } = await watchedLab(t);
  const n = jsonOf<InspectJson>(await cli(lab, lab.attachArgs(['--netns', target]))).NetworkSettings;
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'attach', exitCode: 0 }]);

  watch.signal('SIGTERM');
  const status = await Promise.race([watch.exited, new Promise<'running'>((resolve) => setTimeout(resolve, 15_000, 'running'))]);
  t.deepEqual(status, { code: 0, signal: null }, watch.tail());
  t.regex(watch.output, /"event":"stopped"/);
  t.false(existsSync(socket), 'socket file removed');
  t.true(isAlive(n.DHCP_PID), 'stopping the watch leaves the client running');

  const inspected = await cli(lab, ['inspect', '--netns', target]);
  t.is(jsonOf<InspectJson>(inspected).NetworkSettings.IPAddress, n.IPAddress);
  const detached = await cli(lab, ['detach', '--netns', target]);
  t.is(jsonOf<InspectJson>(detached).NetworkSettings.IPAddress, n.IPAddress);
  await lab.waitForServerLease(n.IPAddress, 'released');
  t.false(isAlive(n.DHCP_PID));
  t.deepEqual(await lab.stateFiles(), []);
  t.is(served(watch).length, 1, 'nothing served after the stop');
});

test('h: a malformed request is answered invalid, naming the problem, and logged; requests the daemon must not run get run-locally; it keeps serving', async (t) => {
  const { lab, watch, socket } = await watchedLab(t);

  const bad = parseResponse(await rawExchange(socket, 'not json\n'));
  t.deepEqual(bad, { version: 2, kind: 'invalid', problem: 'not JSON' });
  await watch.waitForOutput(/"event":"control-request-invalid"[^\n]*"problem":"not JSON"/, 5000);

  // The argv protocol of old: refused by its version.
  const wrongVersion = parseResponse(await rawExchange(socket, requestLine({ args: ['inspect', '--all'] }, { version: 1 })));
  t.like(wrongVersion, { kind: 'invalid', problem: 'version 1, expected 2' });
  await watch.waitForOutput(/"event":"control-request-invalid"[^\n]*"problem":"version 1, expected 2"/, 5000);

  // A field of the wrong type is named.
  const badField = parseResponse(await rawExchange(socket, requestLine({ op: 'attach', request: { netns: 'n1', bridge: 'br0', ifname: 'eth0', macScheme: 'random', ipv6: 'slaac', waitIpv6: false, timeoutMs: '30' } })));
  t.like(badField, { kind: 'invalid', problem: 'request.timeoutMs: not a positive number' });
  await watch.waitForOutput(/"event":"control-request-invalid"[^\n]*"problem":"request\.timeoutMs: not a positive number"/, 5000);

  // watch is the daemon itself: not an operation it serves.
  const watchOp = parseResponse(await rawExchange(socket, requestLine({ op: 'watch', request: {} })));
  t.is(watchOp?.kind, 'invalid');
  t.regex((watchOp as Extract<ControlResponse, { kind: 'invalid' }>).problem, /^op: "watch" is not an operation the daemon serves/);
  await watch.waitForOutput(/"event":"control-request-invalid"[^\n]*"problem":"op: \\"watch\\" is not/, 5000);

  // Well-formed, but not for this daemon to run.
  t.like(parseResponse(await rawExchange(socket, requestLine(INSPECT_ALL, { netns: 'net:[1]' }))), { kind: 'run-locally' });
  t.like(parseResponse(await rawExchange(socket, requestLine(INSPECT_ALL, { mntns: 'mnt:[1]' }))), { kind: 'run-locally' });
  t.like(parseResponse(await rawExchange(socket, requestLine(INSPECT_ALL, { dockerSocket: '/nonexistent/docker.sock' }))), { kind: 'run-locally' });

  // Too long without a newline: dropped, no answer, the daemon lives on.
  t.is(await rawExchange(socket, Buffer.alloc(70 * 1024, 'x')), '');
  await watch.waitForOutput(/"event":"control-request-dropped"/, 5000);

  t.true(watch.running);
  t.deepEqual(jsonOf<InspectJson[]>(await cli(lab, ['inspect', '--all'])), []);
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'inspect', exitCode: 0 }], 'only the real command was served');
});

// A client that shuts its side down after the request (`printf '{…}\n' |
// socat - UNIX-CONNECT:agent.sock`, `nc -N`) is a normal one-request client.
// The daemon runs the command (and logs it served) but loses the answer:
// control-server.ts creates its server without allowHalfOpen, so Node ends
// the connection on the client's FIN, before an async command has answered.
test('h2: a client that half-closes after its request still gets the answer of the command that ran', async (t) => {
  const { watch, socket } = await watchedLab(t);
  const reply = await rawExchange(socket, requestLine(), { halfClose: true });
  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'inspect', exitCode: 0 }], 'the command ran');
  t.deepEqual(parseResponse(reply), { version: 2, kind: 'result', result: [], stderr: '' }, `answer: ${JSON.stringify(reply)}`);
});

test('i: ten CLI attaches at once through the daemon all succeed with distinct addresses', async (t) => {
  const COUNT = 10;
  const targets = await netnsTargets(t, Array.from({ length: COUNT }, (_, i) => `i${i}`));
  const { lab, watch } = await watchedLab(t);
  const linksBefore = await lab.bridgeLinks();

  const results = await Promise.all(targets.map((target) => cli(lab, lab.attachArgs(['--netns', target], ['--timeout', '60']), { timeoutMs: 120_000 })));
  const jsons = results.map((r) => jsonOf<InspectJson>(r));
  t.deepEqual(jsons.map((j) => j.Container), targets);
  const ips = jsons.map((j) => j.NetworkSettings.IPAddress);
  t.is(new Set(ips).size, COUNT, `distinct addresses: ${ips.join(' ')}`);
  t.is(new Set(jsons.map((j) => j.NetworkSettings.HWAddr)).size, COUNT, 'distinct MACs');
  t.true(ips.every(inPool), ips.join(' '));
  t.deepEqual(brief(await waitServed(watch, COUNT)), Array.from({ length: COUNT }, () => ({ command: 'attach', exitCode: 0 })));
  const bound = new Map((await lab.server.leases()).filter((l) => l.state === 'bound').map((l) => [l.ip, l.hwAddress]));
  for (const [i, j] of jsons.entries()) {
    t.is(bound.get(j.NetworkSettings.IPAddress), j.NetworkSettings.HWAddr, `server lease for ${targets[i]}`);
    t.deepEqual(await eth0Ipv4(targets[i]), [`${j.NetworkSettings.IPAddress}/${PREFIX_LEN}`]);
    t.is(ppidOf(j.NetworkSettings.DHCP_PID), watch.pid);
  }
  t.is((await lab.bridgeLinks()).length, linksBefore.length + COUNT);

  const detached = await Promise.all(targets.map((target) => cli(lab, ['detach', '--netns', target])));
  t.deepEqual(detached.map((r) => jsonOf<InspectJson>(r).NetworkSettings.IPAddress), ips);
  t.is((await waitServed(watch, 2 * COUNT)).length, 2 * COUNT);
  for (const ip of ips) await lab.waitForServerLease(ip, 'released');
  t.deepEqual(await lab.bridgeLinks(), linksBefore);
  t.deepEqual(await lab.stateFiles(), []);
  t.deepEqual(lab.clients(), []);
});

test('j: a watch killed during a served attach: the CLI says so, runs the attach itself, and it succeeds', async (t) => {
  const [target] = await netnsTargets(t, ['j']);
  const { lab, watch } = await watchedLab(t);
  // No DHCP server while the daemon works: the attach waits for its lease.
  await lab.server.stop();
  const pending = cli(lab, lab.attachArgs(['--netns', target], ['--timeout', '45']), { timeoutMs: 90_000 });
  const record = await pollUntil('the daemon to start the DHCP client', async () => {
    const r = await lab.record(stateKey({ kind: 'netns', id: target }));
    return r && r.client.pid > 0 && r;
  }, { timeoutMs: 15_000, describe: () => watch.tail() });
  t.is(ppidOf(record.client.pid), watch.pid, 'the daemon started the client');
  await watch.kill9();
  await lab.server.restart();

  const r = await pending;
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /^agent: agent watch went away during the command \([^)]+\); running it here\n/);
  const n = jsonOf<InspectJson>(r).NetworkSettings;
  t.true(inPool(n.IPAddress));
  t.is(n.HWAddr, record.mac, 'the attachment the daemon began');
  t.is(n.DHCP_PID, record.client.pid, 'its client, still running');
  t.deepEqual(await eth0Ipv4(target), [`${n.IPAddress}/${PREFIX_LEN}`]);
  t.like(await lab.serverLease(n.IPAddress), { state: 'bound', hwAddress: n.HWAddr });
  t.is((await lab.records()).length, 1);
  t.is((await lab.bridgeLinks()).filter((l) => l === n.HostVeth).length, 1);
  t.deepEqual(served(watch), [], 'the daemon never answered');
});

test('k: a CLI interrupted mid-command (Ctrl-C) does not take the daemon down; the command still runs', async (t) => {
  const [target] = await netnsTargets(t, ['k']);
  const { lab, watch } = await watchedLab(t);
  const veth = hostVethName({ kind: 'netns', id: target });
  const interrupted = new TrackedProcess('agent attach (interrupted)', [BIN_AGENT, '--run-dir', lab.runDir, ...lab.attachArgs(['--netns', target])], {
    cwd: REPO_ROOT,
    env: { ...process.env, PATH: SYSTEM_PATH },
  });
  t.teardown(() => interrupted.stop(3000).then(() => undefined));
  // Interrupted once the daemon is at work on it.
  await pollUntil(`the daemon to create ${veth}`, async () => (await lab.bridgeLinks()).includes(veth), {
    timeoutMs: 15_000,
    intervalMs: 20,
    describe: () => `${watch.tail()}\n${interrupted.tail()}`,
  });
  interrupted.signal('SIGINT');
  const status = await interrupted.exited;
  t.not(status.code, 0, 'the CLI was interrupted before its answer');

  t.deepEqual(brief(await waitServed(watch, 1)), [{ command: 'attach', exitCode: 0 }], 'the attach finished all the same');
  t.true(watch.running, `the watch survives\n${watch.tail()}`);
  t.notRegex(watch.output, /uncaught|ECONNRESET|EPIPE/i);
  const n = jsonOf<InspectJson>(await cli(lab, ['inspect', '--netns', target])).NetworkSettings;
  t.deepEqual(brief(await waitServed(watch, 2)).at(-1), { command: 'inspect', exitCode: 0 }, 'and it serves the next command');
  t.true(inPool(n.IPAddress));
  t.deepEqual(await eth0Ipv4(target), [`${n.IPAddress}/${PREFIX_LEN}`]);
  t.like(await lab.serverLease(n.IPAddress), { state: 'bound', hwAddress: n.HWAddr });
});

test('k2: clients that hang up right after their request (bad, refused and served ones) do not take the daemon down', async (t) => {
  const { lab, watch, socket } = await watchedLab(t);
  const hangUp = (payload: string) =>
    new Promise<void>((resolve) => {
      const conn = createConnection(socket, () => {
        conn.write(payload);
        conn.destroy();
      });
      conn.on('error', () => undefined);
      conn.on('close', () => resolve());
    });
  // The answer then goes to a closed peer (EPIPE): an 'error' nobody listens to would end the daemon.
  for (const payload of ['not json\n', requestLine(INSPECT_ALL, { netns: 'net:[1]' }), requestLine()]) {
    for (let i = 0; i < 30; i++) await hangUp(payload);
  }
  await pollUntil('the 30 hung-up inspects to be served', () => served(watch).length >= 30 || !watch.running, { timeoutMs: 10_000, describe: () => watch.tail() });
  t.true(watch.running, `the watch survives\n${watch.tail()}`);
  t.deepEqual(jsonOf<InspectJson[]>(await cli(lab, ['inspect', '--all'])), []);
  t.is((await waitServed(watch, 31)).length, 31, 'and it serves the next command');
});

// A relative path in a served command's arguments (here --resolv-conf) is
// the CLI's: relative to its cwd, as when the CLI runs the command itself.
// The request carries the CLI's cwd; the daemon must resolve against it,
// not its own (the watch here runs in a directory of its own, holding a
// decoy file).
test('l: a relative --resolv-conf names the file in the CLI\'s cwd, served or not', async (t) => {
  const [served1, local1] = await netnsTargets(t, ['l', 'l2']);
  const lab = await useAgentLab(t, PREFIX, { bridge: uniqueBridgeName('ltagc') });
  const daemonCwd = join(lab.segment.tmpDir, 'daemon-cwd');
  const cliCwd = join(lab.segment.tmpDir, 'cli-cwd');
  const ORIGINAL = '# original\n';
  for (const dir of [daemonCwd, cliCwd]) {
    await mkdir(dir);
    for (const name of ['resolv.conf', 'resolv2.conf']) await writeFile(join(dir, name), ORIGINAL);
  }
  const watch = spawnWatch(t, lab, 'agent watch (own cwd)', daemonCwd);
  await watch.waitForOutput(/"event":"watching"/, 30_000);
  await pollUntil('the control socket', () => existsSync(controlSocketPath(lab.runDir)), { timeoutMs: 5000 });
  const attachFrom = (target: string, file: string) =>
    runCommand([BIN_AGENT, '--run-dir', lab.runDir, ...lab.attachArgs(['--netns', target], ['--resolv-conf', file])], { cwd: cliCwd, timeoutMs: 60_000 });
  const written = (path: string) =>
    pollUntil(`the hook to write ${path}`, async () => /nameserver 198\.18\.0\.2/.test(await readFile(path, 'utf8')), { timeoutMs: 5000 }).then(() => true, () => false);

  // Without the daemon (stopped), for reference: the CLI's cwd.
  watch.signal('SIGTERM');
  await watch.exited;
  jsonOf<InspectJson>(await attachFrom(local1, 'resolv2.conf'));
  t.true(await written(join(cliCwd, 'resolv2.conf')), 'run locally: the file in the CLI\'s cwd');
  t.is(await readFile(join(daemonCwd, 'resolv2.conf'), 'utf8'), ORIGINAL);

  // Through a daemon started in another directory.
  const second = spawnWatch(t, lab, 'agent watch (own cwd) #2', daemonCwd);
  await second.waitForOutput(/"event":"watching"/, 30_000);
  jsonOf<InspectJson>(await attachFrom(served1, 'resolv.conf'));
  t.deepEqual(brief(await waitServed(second, 1)), [{ command: 'attach', exitCode: 0 }]);
  const cliWritten = await written(join(cliCwd, 'resolv.conf'));
  t.deepEqual(
    { cliCwdFileWritten: cliWritten, daemonCwdFile: await readFile(join(daemonCwd, 'resolv.conf'), 'utf8') },
    { cliCwdFileWritten: true, daemonCwdFile: ORIGINAL },
    'served: the file in the CLI\'s cwd is written, the one in the daemon\'s is not',
  );
});
