// The CLI ↔ `agent watch` control protocol, the pure half: the command
// line parsed into a typed operation (agent/cli/command-line.ts) — what is
// served, in which run directory, with which paths — and the checks on what
// crosses the socket in each direction (agent/core/control-protocol.ts).
// No root, no sockets.
import test from 'ava';
import fc from 'fast-check';
import { isServed, parseCommandLine, type AgentCommand, type GlobalSettings, type ParsedCommandLine } from '../../agent/cli/command-line.ts';
import {
  controlSocketPath,
  DEFAULT_RUN_DIR,
  parseRequest,
  parseResponse,
  PROTOCOL_VERSION,
  type ControlRequest,
} from '../../agent/core/control-protocol.ts';
import { CNI_OPERATIONS, OPERATIONS } from '../../agent/core/requests.ts';

const CWD = '/srv/work';
const ENV = {};

function parse(args: readonly string[], env: NodeJS.ProcessEnv = ENV, cwd = CWD): ParsedCommandLine {
  return parseCommandLine(args, { cwd, env });
}

function command(args: readonly string[], env: NodeJS.ProcessEnv = ENV, cwd = CWD): { globals: GlobalSettings; command: AgentCommand } {
  const parsed = parse(args, env, cwd);
  if (parsed.kind !== 'command') throw new Error(`not a command: ${JSON.stringify(parsed)}`);
  return parsed;
}

test('constants: the socket sits in the run dir, default run dir, version 2, the CLI\'s four one-shot operations and the CNI plugin\'s five', (t) => {
  t.is(controlSocketPath('/run/x'), '/run/x/agent.sock');
  t.is(DEFAULT_RUN_DIR, '/run/leasehold/agent');
  t.is(PROTOCOL_VERSION, 2);
  t.deepEqual([...OPERATIONS].sort(), ['attach', 'cni-add', 'cni-check', 'cni-del', 'cni-list', 'cni-status', 'detach', 'gc', 'inspect']);
  t.deepEqual([...CNI_OPERATIONS].sort(), ['cni-add', 'cni-check', 'cni-del', 'cni-list', 'cni-status']);
});

// ---------------------------------------------------------------------------
// What is served, as which typed request

test('attach: every option into its typed field, with the defaults', (t) => {
  t.deepEqual(command(['attach', 'web1']).command, {
    op: 'attach',
    request: {
      container: 'web1', bridge: 'br0', bridgeNetns: undefined, ifname: 'eth0', mac: undefined, macScheme: 'random', workerIp: undefined,
      app: undefined, defaultApp: 'app', ipv6: 'slaac', waitIpv6: false, timeoutMs: 30_000, resolvConf: undefined,
    },
  });
  t.deepEqual(
    command([
      '--default-app', 'lab', 'attach', '--netns', 'n1', '--bridge', 'br1', '--bridge-netns', 'lh-w1', '--ifname', 'eth1', '--mac', '02:00:00:00:00:01',
      '--mac-scheme', 'stable', '--worker-ip', '198.18.0.12', '--app', 'web', '--ipv6', 'off', '--wait-ipv6', '--timeout', '2.5', '--resolv-conf', '/etc/r.conf',
    ]).command,
    {
      op: 'attach',
      request: {
        netns: 'n1', bridge: 'br1', bridgeNetns: 'lh-w1', ifname: 'eth1', mac: '02:00:00:00:00:01', macScheme: 'stable', workerIp: '198.18.0.12',
        app: 'web', defaultApp: 'lab', ipv6: 'off', waitIpv6: true, timeoutMs: 2500, resolvConf: '/etc/r.conf',
      },
    },
  );
});

test('detach, inspect, inspect --all, gc: their typed requests; all four are served', (t) => {
  const cases: [string[], AgentCommand][] = [
    [['detach', 'web1'], { op: 'detach', request: { container: 'web1' } }],
    [['detach', '--netns', 'n1'], { op: 'detach', request: { netns: 'n1' } }],
    [['inspect', 'web1'], { op: 'inspect', request: { all: false, container: 'web1' } }],
    [['inspect', '--netns', 'n1'], { op: 'inspect', request: { all: false, netns: 'n1' } }],
    [['inspect', '--all'], { op: 'inspect', request: { all: true } }],
    [['gc'], { op: 'gc', request: {} }],
    [['attach', '--netns', 'n1'], command(['attach', '--netns', 'n1']).command],
  ];
  for (const [args, expected] of cases) {
    const c = command(args).command;
    t.deepEqual(c, expected, args.join(' '));
    t.true(isServed(c), `${args.join(' ')} is served`);
  }
});

test('watch is never served (the daemon itself), and carries its own settings', (t) => {
  const parsed = command(['--default-app', 'lab', 'watch', '--bridge-netns', 'lh-w1', '--interval', '1', '--worker', 'w1', '--ipv6', 'off']);
  const c = parsed.command;
  t.false(isServed(c));
  t.deepEqual(c, {
    op: 'watch',
    request: {
      attach: { bridgeNetns: 'lh-w1', ifname: 'eth0', macScheme: 'random', workerIp: undefined, app: undefined, defaultApp: 'lab', ipv6: 'off', waitIpv6: false, timeoutMs: 30_000 },
      intervalMs: 1000,
      worker: 'w1',
      metrics: { socket: `${parsed.globals.runDir}/metrics.sock` },
      plugin: undefined,
      dockerRoot: '/var/lib/docker',
    },
  });
  const tcp = command(['watch', '--metrics', '127.0.0.1:9101']).command;
  t.like(tcp, { op: 'watch', request: { metrics: { host: '127.0.0.1', port: 9101 } } });
});

test('watch --plugin NAME serves the Docker driver of that name; --docker-root is absolute against the cwd; a bad name is a usage error', (t) => {
  t.like(command(['watch', '--plugin', 'leasehold', '--docker-root', 'var/docker']).command, { op: 'watch', request: { plugin: 'leasehold', dockerRoot: `${CWD}/var/docker` } });
  const bad = parse(['watch', '--plugin', '../x']);
  t.is(bad.kind, 'usage-error');
  t.like(bad, { message: '--plugin must be a driver name: lower-case letters, digits, _ . -' });
});

test('a container named like a command is a container; options after the command word are its own', (t) => {
  t.like(command(['detach', 'gc']).command, { op: 'detach', request: { container: 'gc' } });
  t.like(command(['inspect', 'watch']).command, { op: 'inspect', request: { container: 'watch' } });
  t.like(command(['--default-app', 'attach', 'inspect', '--all']), { globals: { defaultApp: 'attach' }, command: { op: 'inspect' } });
});

// ---------------------------------------------------------------------------
// Run directory, Docker socket, paths: absolute, against the CLI's cwd

for (const [what, args, env, runDir] of [
  ['the default', ['gc'], {}, DEFAULT_RUN_DIR],
  ['LEASEHOLD_AGENT_RUN_DIR', ['inspect', '--all'], { LEASEHOLD_AGENT_RUN_DIR: '/var/lib/lh-agent' }, '/var/lib/lh-agent'],
  ['a relative LEASEHOLD_AGENT_RUN_DIR, against the cwd', ['gc'], { LEASEHOLD_AGENT_RUN_DIR: 'state/agent' }, `${CWD}/state/agent`],
  ['--run-dir X', ['--run-dir', '/tmp/a', 'attach', '--netns', 'n1'], {}, '/tmp/a'],
  ['--run-dir=X', ['--run-dir=/tmp/a', 'detach', '--netns', 'n1'], {}, '/tmp/a'],
  ['--run-dir over LEASEHOLD_AGENT_RUN_DIR', ['--run-dir', '/tmp/a', 'gc'], { LEASEHOLD_AGENT_RUN_DIR: '/var/lib/lh-agent' }, '/tmp/a'],
  ['--run-dir after the command', ['attach', '--netns', 'n1', '--run-dir', '/tmp/b'], {}, '/tmp/b'],
  ['a relative --run-dir, against the cwd', ['--run-dir', 'run/agent', 'gc'], {}, `${CWD}/run/agent`],
  ['a relative --run-dir=./X, against the cwd', ['--run-dir=./run', 'gc'], {}, `${CWD}/run`],
  ['a relative --run-dir with .., normalised', ['--run-dir', '../other', 'gc'], {}, '/srv/other'],
  ['an absolute --run-dir with .. and a trailing slash, normalised', ['--run-dir', '/tmp/a/../b/', 'gc'], {}, '/tmp/b'],
  ['--runDir X (camel case)', ['--runDir', '/tmp/c', 'inspect', '--all'], {}, '/tmp/c'],
  ['two --run-dir: the last', ['--run-dir', '/tmp/a', 'gc', '--run-dir', '/tmp/b'], {}, '/tmp/b'],
] as const) {
  test(`run dir from ${what}`, (t) => {
    t.is(command(args, env).globals.runDir, runDir);
  });
}

for (const [what, args, env, socket] of [
  ['the default', ['gc'], {}, '/var/run/docker.sock'],
  ['$DOCKER_SOCKET', ['gc'], { DOCKER_SOCKET: '/run/d.sock' }, '/run/d.sock'],
  ['a relative $DOCKER_SOCKET, against the cwd', ['gc'], { DOCKER_SOCKET: 'd.sock' }, `${CWD}/d.sock`],
  ['--docker-socket over $DOCKER_SOCKET', ['--docker-socket', '/run/e.sock', 'gc'], { DOCKER_SOCKET: '/run/d.sock' }, '/run/e.sock'],
  ['a relative --docker-socket, against the cwd', ['inspect', 'web', '--docker-socket', '../e.sock'], {}, '/srv/e.sock'],
] as const) {
  test(`Docker socket from ${what}`, (t) => {
    t.is(command(args, env).globals.dockerSocket, socket);
  });
}

test('a relative --resolv-conf is the file in the CLI\'s cwd', (t) => {
  t.like(command(['attach', '--netns', 'n1', '--resolv-conf', 'resolv.conf']).command, { request: { resolvConf: `${CWD}/resolv.conf` } });
  t.like(command(['attach', '--netns', 'n1', '--resolv-conf', 'x/../r.conf'], ENV, '/home/op').command, { request: { resolvConf: '/home/op/r.conf' } });
});

for (const [what, args, expected] of [
  ['--json', ['--json', 'inspect', '--all'], { json: true }],
  ['--no-json', ['--no-json', 'gc'], { json: false }],
  ['--json=false', ['gc', '--json=false'], { json: false }],
  ['--log-level debug (its value is not the command)', ['--log-level', 'debug', 'attach', '--netns', 'n1'], { logLevel: 'debug' }],
  ['--log-level=warn after the command', ['detach', '--netns', 'n1', '--log-level=warn'], { logLevel: 'warn' }],
  ['--logLevel (camel case)', ['--logLevel', 'error', 'gc'], { logLevel: 'error' }],
] as const) {
  test(`global option: ${what}`, (t) => {
    t.like(command(args).globals, expected);
  });
}

test('property: --run-dir X and --run-dir=X parse alike, and global flags before or after the command change nothing', (t) => {
  const segment = fc.stringMatching(/^[a-z0-9_.-]{1,8}$/).filter((s) => s !== '.' && s !== '..' && !s.startsWith('-'));
  fc.assert(
    fc.property(
      fc.array(segment, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.constantFrom(['attach', '--netns', 'n1'], ['detach', 'web'], ['inspect', '--all'], ['gc']),
      fc.subarray(['--json', '--log-level=info', '--default-app=x']),
      (parts, absolute, words, flags) => {
        const dir = (absolute ? '/' : '') + parts.join('/');
        const spaced = command([...flags, '--run-dir', dir, ...words]);
        const inline = command([...words, `--run-dir=${dir}`, ...flags], { LEASEHOLD_AGENT_RUN_DIR: '/elsewhere' });
        t.is(spaced.globals.runDir, absolute ? dir : `${CWD}/${dir}`);
        t.deepEqual(inline, spaced);
        return true;
      },
    ),
  );
});

// ---------------------------------------------------------------------------
// Help and usage errors: found by the CLI, never sent anywhere

for (const args of [['--help'], ['-h'], ['attach', '--help'], ['attach', '--netns', 'n1', '--help'], ['gc', '--help=true'], ['inspect', '-h'], ['watch', '--help'], ['frob', '--help']]) {
  test(`help is never an operation: ${args.join(' ')}`, (t) => {
    const parsed = parse(args);
    t.is(parsed.kind, 'help');
    const text = (parsed as { text: string }).text;
    const named = ['attach', 'inspect', 'gc', 'watch'].find((c) => args.includes(c));
    t.regex(text, named ? new RegExp(`^agent ${named}\\b`) : /^agent <command> \[options\]\n\nCommands:\n/);
    t.regex(text, /\nOptions:\n {2}--run-dir /);
  });
}

test('help text: from the table, every option of the command with its type and default', (t) => {
  const text = (parse(['attach', '--help']) as { text: string }).text;
  t.regex(text, /^agent attach \[container\]\n\nattach a container \(run with --net none\) to a bridge and wait for its lease\n\nPositionals:\n {2}container {2}container name, id or id prefix +\[string\]\n\nOptions:\n/);
  for (const option of ['run-dir', 'json', 'default-app', 'docker-socket', 'log-level', 'help', 'netns', 'bridge-netns', 'ifname', 'mac-scheme', 'worker-ip', 'app', 'ipv6', 'wait-ipv6', 'timeout', 'bridge', 'mac', 'resolv-conf']) {
    t.regex(text, new RegExp(`\n  --${option} `), option);
  }
  t.regex(text, /--timeout +seconds to wait for the lease +\[number\] \[default: 30\]/);
  t.regex(text, /\[choices: "random", "stable"\] \[default: "random"\]/);
  t.regex(text, /--run-dir +state directory +\[string\] \[default: "\/run\/leasehold\/agent"\]/);
  t.regex((parse(['attach', '--help'], { LEASEHOLD_AGENT_RUN_DIR: '/var/lib/x' }) as { text: string }).text, /\[default: "\/var\/lib\/x"\]/);
  for (const line of text.split('\n')) t.true(line.length <= 80, `at most 80 columns: ${line}`);
});

for (const [what, args, message, usage] of [
  ['no command', [], 'give a command', /^agent <command> \[options\]/],
  ['an unknown command', ['frob'], 'Unknown argument: frob', /^agent <command> \[options\]/],
  ['--version (there is none)', ['--version'], 'give a command', /^agent <command>/],
  ['neither a container nor --netns', ['attach'], 'give a container or --netns NAME (one of them)', /^agent attach \[container\]/],
  ['both a container and --netns', ['attach', 'x', '--netns', 'y'], 'give a container or --netns NAME (one of them)', /^agent attach/],
  ['an unknown option', ['attach', 'x', '--frobnicate'], 'Unknown argument: frobnicate', /^agent attach/],
  ['an unknown option before the command', ['--frob=1', 'gc'], 'Unknown argument: frob', /^agent gc/],
  ['an option of another command', ['gc', '--netns', 'n1'], 'Unknown argument: netns', /^agent gc/],
  ['a short option', ['gc', '-v'], 'Unknown argument: v', /^agent gc/],
  ['an extra positional', ['attach', 'a', 'b'], 'Unknown argument: b', /^agent attach/],
  ['several unknown', ['gc', 'x', '--frob'], 'Unknown arguments: x, frob', /^agent gc/],
  ['--ipv6 maybe', ['attach', 'x', '--ipv6', 'maybe'], 'Invalid values:\n  Argument: ipv6, Given: "maybe", Choices: "slaac", "off"', /^agent attach/],
  ['two bad choices', ['attach', 'x', '--ipv6', 'maybe', '--mac-scheme', 'seq'], 'Invalid values:\n  Argument: mac-scheme, Given: "seq", Choices: "random", "stable"\n  Argument: ipv6, Given: "maybe", Choices: "slaac", "off"', /^agent attach/],
  ['--log-level loud', ['--log-level', 'loud', 'gc'], 'Invalid values:\n  Argument: log-level, Given: "loud", Choices: "debug", "info", "warn", "error"', /^agent gc/],
  ['--timeout 0', ['attach', 'x', '--timeout', '0'], '--timeout must be a positive number of seconds', /^agent attach/],
  ['--timeout -1', ['attach', 'x', '--timeout', '-1'], '--timeout must be a positive number of seconds', /^agent attach/],
  ['--timeout abc', ['attach', 'x', '--timeout', 'abc'], '--timeout must be a positive number of seconds', /^agent attach/],
  ['--timeout without a value', ['attach', 'x', '--timeout'], 'Not enough arguments following: timeout', /^agent attach/],
  ['--netns followed by an option', ['attach', '--netns', '--json'], 'Not enough arguments following: netns', /^agent attach/],
  ['--interval 0', ['watch', '--interval', '0'], '--interval must be a positive number of seconds', /^agent watch\n/],
  ['inspect --all with a container', ['inspect', 'x', '--all'], '--all takes no container', /^agent inspect/],
  ['inspect --all with --netns', ['inspect', '--all', '--netns', 'n1'], '--all takes no container', /^agent inspect/],
  ['detach of nothing', ['detach'], 'give a container or --netns NAME (one of them)', /^agent detach/],
] as const) {
  test(`usage error, never an operation: ${what}`, (t) => {
    const parsed = parse(args);
    t.deepEqual(parsed.kind === 'usage-error' && parsed.message, message);
    t.regex((parsed as { help: string }).help, usage);
  });
}

// ---------------------------------------------------------------------------
// parseRequest: the daemon checks every field

const ns = { netns: 'net:[4026531840]', mntns: 'mnt:[4026531841]' };
const envelope = { version: 2, ...ns, dockerSocket: '/var/run/docker.sock', log: { level: 'warn', pretty: false } } as const;
const attachRequest = {
  container: 'web1', bridge: 'br0', bridgeNetns: 'lh-w1', ifname: 'eth0', mac: '02:00:00:00:00:01', macScheme: 'random', workerIp: '198.18.0.11',
  app: 'web', defaultApp: 'app', ipv6: 'slaac', waitIpv6: false, timeoutMs: 30_000, resolvConf: '/etc/resolv.conf',
} as const;
const cniKey = { network: 'lhnet', containerId: 'c0ffee', ifname: 'eth0' } as const;
const cniAddRequest = {
  ...cniKey, netnsPath: '/var/run/netns/cni-1', bridge: 'br0', bridgeNetns: 'lh-w1', app: 'web', macScheme: 'stable', ipv6: 'slaac', waitIpv6: false, timeoutMs: 30_000,
} as const;
const goodRequests: ControlRequest[] = [
  { ...envelope, op: 'attach', request: attachRequest },
  { ...envelope, op: 'attach', request: { netns: 'n1', bridge: 'br0', ifname: 'eth0', macScheme: 'stable', ipv6: 'off', waitIpv6: true, timeoutMs: 0.5 } },
  { ...envelope, op: 'detach', request: { container: 'web1' } },
  { ...envelope, op: 'detach', request: { netns: 'n1' } },
  { ...envelope, op: 'inspect', request: { all: true } },
  { ...envelope, op: 'inspect', request: { all: false, netns: 'n1' } },
  { ...envelope, op: 'gc', request: {} },
  { ...envelope, op: 'cni-add', request: cniAddRequest },
  { ...envelope, op: 'cni-add', request: { ...cniKey, netnsPath: '/proc/42/ns/net', bridge: 'br0', mac: '02:00:00:00:00:02', macScheme: 'random', ipv6: 'off', waitIpv6: true, timeoutMs: 5 } },
  { ...envelope, op: 'cni-add', request: { ...cniAddRequest, hostname: 'web-0', app: 'shop' } },
  { ...envelope, op: 'cni-del', request: cniKey },
  { ...envelope, op: 'cni-check', request: { ...cniKey, mac: '12:00:0b:00:00:01', ips: ['198.18.1.2/16'] } },
  { ...envelope, op: 'cni-check', request: { ...cniKey, ips: [] } },
  { ...envelope, op: 'cni-list', request: { network: 'lhnet' } },
  { ...envelope, op: 'cni-status', request: { bridge: 'br0', bridgeNetns: 'lh-w1' } },
];
const line = (value: unknown) => JSON.stringify(value);

test('parseRequest: good requests of every operation come back as they were sent', (t) => {
  for (const r of goodRequests) t.deepEqual(parseRequest(line(r)), r);
  t.deepEqual(parseRequest(`  ${line(goodRequests[0])}  \r`), goodRequests[0], 'surrounding whitespace is JSON\'s to ignore');
});

test('property: whatever the CLI parses into an operation, the daemon accepts as it is', (t) => {
  const word = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/);
  fc.assert(
    fc.property(
      fc.constantFrom('attach', 'detach', 'inspect'),
      fc.oneof(word.map((w) => [w]), word.map((w) => ['--netns', w])),
      fc.subarray(['--json', '--wait-ipv6', '--ipv6=off', '--mac-scheme=stable', '--timeout=7', '--resolv-conf=r.conf', '--app=web', '--bridge-netns=lh-w1']),
      (op, target, extras) => {
        const args = [op, ...target, ...(op === 'attach' ? extras : [])];
        const { command: c, globals } = command(args);
        if (!isServed(c)) return false;
        const sent: ControlRequest = { ...envelope, dockerSocket: globals.dockerSocket, ...c };
        t.deepEqual(parseRequest(line(sent)), JSON.parse(line(sent)), args.join(' '));
        return true;
      },
    ),
  );
});

const bad = (over: Record<string, unknown>, request?: Record<string, unknown>) => line({ ...goodRequests[0], ...over, ...(request && { request: { ...attachRequest, ...request } }) });
const without = (field: string) => line(Object.fromEntries(Object.entries(goodRequests[0]).filter(([k]) => k !== field)));
const attachWithout = (field: string) => line({ ...goodRequests[0], request: Object.fromEntries(Object.entries(attachRequest).filter(([k]) => k !== field)) });

const cni = (op: string, request: Record<string, unknown>) => line({ ...envelope, op, request });
for (const [what, text, problem] of [
  ['cni-add without netnsPath', cni('cni-add', { ...cniAddRequest, netnsPath: undefined }), 'request.netnsPath: missing'],
  ['cni-add with a relative netnsPath', cni('cni-add', { ...cniAddRequest, netnsPath: 'netns/cni-1' }), 'request.netnsPath: not an absolute path'],
  ['cni-add with a container', cni('cni-add', { ...cniAddRequest, container: 'web1' }), 'request.container: not a field of this message'],
  ['cni-add with a hostname of two labels', cni('cni-add', { ...cniAddRequest, hostname: 'web.0' }), 'request.hostname: not a DNS label (letters, digits and inner hyphens, at most 63)'],
  ['cni-del without ifname', cni('cni-del', { network: 'lhnet', containerId: 'c0ffee' }), 'request.ifname: missing'],
  ['cni-check with ips a string', cni('cni-check', { ...cniKey, ips: '198.18.1.2/16' }), 'request.ips: not a list of strings'],
  ['cni-list with an empty network', cni('cni-list', { network: '' }), 'request.network: not a non-empty string'],
  ['cni-status without bridge', cni('cni-status', {}), 'request.bridge: missing'],
] as const) {
  test(`parseRequest refuses ${what}, naming the field`, (t) => {
    t.is(parseRequest(text), problem);
  });
}

for (const [what, text, problem] of [
  ['not JSON', 'not json', 'not JSON'],
  ['truncated JSON', line(goodRequests[0]).slice(0, 30), 'not JSON'],
  ['an empty line', '', 'not JSON'],
  ['JSON null', 'null', 'not an object'],
  ['a JSON list', '[]', 'not an object'],
  ['a JSON string', '"attach"', 'not an object'],
  ['version 1 (the argv protocol)', bad({ version: 1 }), 'version 1, expected 2'],
  ['no version', without('version'), 'version undefined, expected 2'],
  ['version "2" (a string)', bad({ version: '2' }), 'version "2", expected 2'],
  ['op watch', bad({ op: 'watch' }), 'op: "watch" is not an operation the daemon serves (attach, detach, inspect, gc, cni-add, cni-del, cni-check, cni-list, cni-status)'],
  ['no op', without('op'), 'op: undefined is not an operation the daemon serves (attach, detach, inspect, gc, cni-add, cni-del, cni-check, cni-list, cni-status)'],
  ['the old argv field', bad({ args: ['attach'] }), 'args: not a field of this message'],
  ['netns missing', without('netns'), 'netns: missing'],
  ['netns a number', bad({ netns: 4026531840 }), 'netns: not a non-empty string'],
  ['mntns null', bad({ mntns: null }), 'mntns: not a non-empty string'],
  ['mntns empty', bad({ mntns: '' }), 'mntns: not a non-empty string'],
  ['dockerSocket missing', without('dockerSocket'), 'dockerSocket: missing'],
  ['dockerSocket relative', bad({ dockerSocket: 'docker.sock' }), 'dockerSocket: not an absolute path'],
  ['log missing', without('log'), 'log: missing'],
  ['log a string', bad({ log: 'warn' }), 'log: not an object'],
  ['log.level loud', bad({ log: { level: 'loud', pretty: false } }), 'log.level: not one of debug, info, warn, error'],
  ['log.pretty missing', bad({ log: { level: 'warn' } }), 'log.pretty: missing'],
  ['log with an extra field', bad({ log: { level: 'warn', pretty: true, colour: 1 } }), 'log.colour: not a field of this message'],
  ['request missing', without('request'), 'request: missing'],
  ['request a list', bad({ request: [] }), 'request: not an object'],
  ['request.container empty', bad({}, { container: '' }), 'request.container: not a non-empty string'],
  ['request with container and netns', bad({}, { netns: 'n1' }), 'request: give container or netns (one of them)'],
  ['request with neither', bad({}, { container: undefined }), 'request: give container or netns (one of them)'],
  ['request.bridge missing', attachWithout('bridge'), 'request.bridge: missing'],
  ['request.bridge a number', bad({}, { bridge: 7 }), 'request.bridge: not a non-empty string'],
  ['request.bridgeNetns empty', bad({}, { bridgeNetns: '' }), 'request.bridgeNetns: not a non-empty string'],
  ['request.ifname missing', attachWithout('ifname'), 'request.ifname: missing'],
  ['request.mac a number', bad({}, { mac: 2 }), 'request.mac: not a string'],
  ['request.macScheme sequential', bad({}, { macScheme: 'sequential' }), 'request.macScheme: not one of random, stable'],
  ['request.workerIp a list', bad({}, { workerIp: ['198.18.0.11'] }), 'request.workerIp: not a string'],
  ['request.app a boolean', bad({}, { app: true }), 'request.app: not a string'],
  ['request.defaultApp a number', bad({}, { defaultApp: 1 }), 'request.defaultApp: not a string'],
  ['request.ipv6 maybe', bad({}, { ipv6: 'maybe' }), 'request.ipv6: not one of slaac, off'],
  ['request.waitIpv6 a string', bad({}, { waitIpv6: 'yes' }), 'request.waitIpv6: not a boolean'],
  ['request.timeoutMs 0', bad({}, { timeoutMs: 0 }), 'request.timeoutMs: not a positive number'],
  ['request.timeoutMs a string', bad({}, { timeoutMs: '30' }), 'request.timeoutMs: not a positive number'],
  ['request.timeoutMs missing', attachWithout('timeoutMs'), 'request.timeoutMs: missing'],
  ['request.resolvConf relative', bad({}, { resolvConf: 'resolv.conf' }), 'request.resolvConf: not an absolute path'],
  ['request with an unknown field', bad({}, { frob: 1 }), 'request.frob: not a field of this message'],
  ['detach with an attach field', line({ ...envelope, op: 'detach', request: { container: 'x', bridge: 'br0' } }), 'request.bridge: not a field of this message'],
  ['detach of nothing', line({ ...envelope, op: 'detach', request: {} }), 'request: give container or netns (one of them)'],
  ['inspect without all', line({ ...envelope, op: 'inspect', request: { container: 'x' } }), 'request.all: missing'],
  ['inspect all with a container', line({ ...envelope, op: 'inspect', request: { all: true, container: 'x' } }), 'request: all takes no container or netns'],
  ['inspect of nothing', line({ ...envelope, op: 'inspect', request: { all: false } }), 'request: give container or netns (one of them)'],
  ['gc with a field', line({ ...envelope, op: 'gc', request: { all: true } }), 'request.all: not a field of this message'],
] as const) {
  test(`parseRequest: ${what} is refused and named`, (t) => {
    t.is(parseRequest(text), problem);
  });
}

// ---------------------------------------------------------------------------
// parseResponse: the CLI checks the answer

const result = { version: 2, kind: 'result', result: { Container: 'n1' }, stderr: '' } as const;
const responses = [
  result,
  { ...result, result: [], stderr: 'warn line\n' },
  { version: 2, kind: 'failed', message: 'not attached: web1', stderr: '' },
  { version: 2, kind: 'invalid', problem: 'request.bridge: missing' },
  { version: 2, kind: 'run-locally', reason: 'the CLI runs in other namespaces' },
] as const;

test('parseResponse: every kind is accepted as sent', (t) => {
  for (const r of responses) t.deepEqual(parseResponse(line(r)), r);
});

for (const [what, text] of [
  ['not JSON', 'garbage'],
  ['nothing (the daemon closed without answering)', ''],
  ['truncated', line(result).slice(0, -5)],
  ['JSON null', 'null'],
  ['version 1 (an old daemon\'s answer)', line({ version: 1, kind: 'done', stdout: '', stderr: '', exitCode: 0 })],
  ['an unknown kind', line({ ...result, kind: 'maybe' })],
  ['a result without one', line({ version: 2, kind: 'result', stderr: '' })],
  ['a result that is a string', line({ ...result, result: 'ok' })],
  ['a result without stderr', line({ version: 2, kind: 'result', result: {} })],
  ['failed without a message', line({ version: 2, kind: 'failed', stderr: '' })],
  ['failed with stderr a number', line({ version: 2, kind: 'failed', message: 'x', stderr: 1 })],
  ['invalid without a problem', line({ version: 2, kind: 'invalid' })],
  ['run-locally with a reason not a string', line({ version: 2, kind: 'run-locally', reason: 42 })],
] as const) {
  test(`parseResponse: ${what} is refused`, (t) => {
    t.is(parseResponse(text), undefined);
  });
}
