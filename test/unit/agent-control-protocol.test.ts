// The CLI ↔ `agent watch` control protocol (agent/core/control-protocol.ts):
// which command lines the daemon may run and in which run directory, and
// the checks on what crosses the socket in each direction. No root, no
// sockets: the pure half only.
import test from 'ava';
import fc from 'fast-check';
import {
  controlSocketPath,
  DEFAULT_RUN_DIR,
  parseRequest,
  parseResponse,
  PROTOCOL_VERSION,
  routeArgs,
  SERVED_COMMANDS,
  type ControlRequest,
} from '../../agent/core/control-protocol.ts';

const CWD = '/srv/work';

test('constants: the socket sits in the run dir, default run dir, version 1, the four one-shot commands', (t) => {
  t.is(controlSocketPath('/run/x'), '/run/x/agent.sock');
  t.is(DEFAULT_RUN_DIR, '/run/leasehold/agent');
  t.is(PROTOCOL_VERSION, 1);
  t.deepEqual([...SERVED_COMMANDS].sort(), ['attach', 'detach', 'gc', 'inspect']);
});

// ---------------------------------------------------------------------------
// routeArgs: served, and where

for (const command of ['attach', 'detach', 'inspect', 'gc']) {
  test(`routeArgs: ${command} goes to the daemon of the default run dir`, (t) => {
    t.deepEqual(routeArgs([command, '--netns', 'n1'], undefined, CWD), { command, runDir: DEFAULT_RUN_DIR });
  });
}

for (const [what, args, env, runDir] of [
  ['LEASEHOLD_AGENT_RUN_DIR', ['inspect', '--all'], '/var/lib/lh-agent', '/var/lib/lh-agent'],
  ['a relative LEASEHOLD_AGENT_RUN_DIR, against the cwd', ['gc'], 'state/agent', `${CWD}/state/agent`],
  ['--run-dir X', ['--run-dir', '/tmp/a', 'attach', '--netns', 'n1'], undefined, '/tmp/a'],
  ['--run-dir=X', ['--run-dir=/tmp/a', 'detach', '--netns', 'n1'], undefined, '/tmp/a'],
  ['--run-dir over LEASEHOLD_AGENT_RUN_DIR', ['--run-dir', '/tmp/a', 'gc'], '/var/lib/lh-agent', '/tmp/a'],
  ['--run-dir after the command', ['attach', '--netns', 'n1', '--run-dir', '/tmp/b'], undefined, '/tmp/b'],
  ['--run-dir=X after the command', ['inspect', '--all', '--run-dir=/tmp/b'], '/var/lib/lh-agent', '/tmp/b'],
  ['a relative --run-dir, against the cwd', ['--run-dir', 'run/agent', 'gc'], undefined, `${CWD}/run/agent`],
  ['a relative --run-dir=./X, against the cwd', ['--run-dir=./run', 'gc'], undefined, `${CWD}/run`],
  ['a relative --run-dir with .., normalised', ['--run-dir', '../other', 'gc'], undefined, '/srv/other'],
  ['an absolute --run-dir with .. and a trailing slash, normalised', ['--run-dir', '/tmp/a/../b/', 'gc'], undefined, '/tmp/b'],
  ['--runDir X (camel case)', ['--runDir', '/tmp/c', 'inspect', '--all'], undefined, '/tmp/c'],
  ['--runDir=X (camel case)', ['--runDir=/tmp/c', 'inspect', '--all'], undefined, '/tmp/c'],
] as const) {
  test(`routeArgs: run dir from ${what}`, (t) => {
    const route = routeArgs(args, env, CWD);
    t.truthy(route, 'routed');
    t.is(route?.runDir, runDir);
  });
}

for (const [what, args, command] of [
  ['--json', ['--json', 'inspect', '--all'], 'inspect'],
  ['--no-json', ['--no-json', 'gc'], 'gc'],
  ['--log-level debug (its value is not the command)', ['--log-level', 'debug', 'attach', '--netns', 'n1'], 'attach'],
  ['--log-level=debug', ['--log-level=debug', 'detach', '--netns', 'n1'], 'detach'],
  ['--json and --log-level debug together', ['--json', '--log-level', 'debug', 'inspect', '--netns', 'n1'], 'inspect'],
  ['--default-app whose value is a command word', ['--default-app', 'attach', 'inspect', '--all'], 'inspect'],
  ['--docker-socket X', ['--docker-socket', '/run/d.sock', 'inspect', 'web'], 'inspect'],
  ['--dockerSocket=X and --logLevel X', ['--dockerSocket=/run/d.sock', '--logLevel', 'warn', 'gc'], 'gc'],
] as const) {
  test(`routeArgs: global option before the command: ${what}`, (t) => {
    t.deepEqual(routeArgs(args, undefined, CWD), { command, runDir: DEFAULT_RUN_DIR });
  });
}

test('routeArgs: options after the command are the command\'s own (the daemon judges them), a container named like a command is a container', (t) => {
  t.deepEqual(routeArgs(['attach', '--netns', 'n1', '--timeout', '-1'], undefined, CWD), { command: 'attach', runDir: DEFAULT_RUN_DIR });
  t.deepEqual(routeArgs(['attach', 'x', '--frobnicate'], undefined, CWD), { command: 'attach', runDir: DEFAULT_RUN_DIR });
  t.deepEqual(routeArgs(['detach', 'gc'], undefined, CWD), { command: 'detach', runDir: DEFAULT_RUN_DIR });
  t.deepEqual(routeArgs(['inspect', 'watch'], undefined, CWD), { command: 'inspect', runDir: DEFAULT_RUN_DIR });
});

for (const [what, args] of [
  ['watch (the daemon itself)', ['watch']],
  ['watch with a run dir', ['--run-dir', '/tmp/a', 'watch', '--interval', '1']],
  ['no command', []],
  ['only global options', ['--json', '--run-dir', '/tmp/a']],
  ['an unknown command', ['frob']],
  ['an unknown command before a served one', ['frob', 'attach']],
  ['--help', ['--help']],
  ['--help after the command', ['attach', '--help']],
  ['--help at the end', ['attach', '--netns', 'n1', '--help']],
  ['--help=true', ['gc', '--help=true']],
  ['-h', ['-h']],
  ['-h after the command', ['inspect', '-h']],
  ['--version', ['--version']],
  ['--version after the command', ['attach', '--netns', 'n1', '--version']],
  ['--', ['attach', '--', '--netns']],
  ['-- before the command', ['--', 'attach']],
  ['an unknown option before the command', ['--frobnicate', 'attach', '--netns', 'n1']],
  ['an unknown option with a value before the command', ['--frob=1', 'gc']],
  ['a command option before the command', ['--netns', 'n1', 'attach']],
  ['a short option before the command', ['-v', 'attach']],
  ['two --run-dir', ['--run-dir', '/tmp/a', 'gc', '--run-dir', '/tmp/b']],
  ['two --run-dir with the same value', ['--run-dir', '/tmp/a', '--run-dir', '/tmp/a', 'gc']],
  ['--run-dir and --runDir', ['--run-dir=/tmp/a', 'inspect', '--runDir', '/tmp/a']],
  ['--run-dir without a value', ['gc', '--run-dir']],
] as const) {
  test(`routeArgs: not routed: ${what}`, (t) => {
    t.is(routeArgs(args, '/var/lib/lh-agent', CWD), undefined);
  });
}

test('routeArgs: property: --run-dir X and --run-dir=X route alike, and global flags before the command change nothing', (t) => {
  const segment = fc.stringMatching(/^[a-z0-9_.-]{1,8}$/).filter((s) => s !== '.' && s !== '..');
  fc.assert(
    fc.property(
      fc.array(segment, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.constantFrom('attach', 'detach', 'inspect', 'gc'),
      fc.subarray(['--json', '--log-level=info', '--no-json']),
      (parts, absolute, command, flags) => {
        const dir = (absolute ? '/' : '') + parts.join('/');
        const expected = absolute ? dir : `${CWD}/${dir}`;
        const spaced = routeArgs([...flags, '--run-dir', dir, command], undefined, CWD);
        const inline = routeArgs([`--run-dir=${dir}`, ...flags, command], '/elsewhere', CWD);
        t.deepEqual(spaced, { command, runDir: expected });
        t.deepEqual(inline, spaced);
        return true;
      },
    ),
  );
});

// ---------------------------------------------------------------------------
// parseRequest

const good: ControlRequest = {
  version: 1,
  args: ['--run-dir', '/tmp/a', 'attach', '--netns', 'n1'],
  stdoutIsTTY: false,
  stderrIsTTY: true,
  netns: 'net:[4026531840]',
  mntns: 'mnt:[4026531841]',
  cwd: '/home/op',
};
const line = (value: unknown) => JSON.stringify(value);
const without = (field: keyof ControlRequest) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== field));

test('parseRequest: a good request comes back as it was sent, with or without dockerSocketEnv', (t) => {
  t.deepEqual(parseRequest(line(good)), good);
  t.deepEqual(parseRequest(line({ ...good, dockerSocketEnv: '/run/other.sock' })), { ...good, dockerSocketEnv: '/run/other.sock' });
  // What the client sends when DOCKER_SOCKET is unset: the key is dropped by JSON.
  t.deepEqual(parseRequest(line({ ...good, dockerSocketEnv: undefined })), good);
  t.deepEqual(parseRequest(line({ ...good, args: [] })), { ...good, args: [] });
  t.deepEqual(parseRequest(`  ${line(good)}  \r`), good, 'surrounding whitespace is JSON\'s to ignore');
});

for (const [what, text, problem] of [
  ['not JSON', 'not json', /^not JSON$/],
  ['truncated JSON', line(good).slice(0, 30), /^not JSON$/],
  ['an empty line', '', /^not JSON$/],
  ['JSON null', 'null', /^not an object$/],
  ['a JSON string', '"attach"', /^not an object$/],
  ['a JSON number', '1', /^not an object$/],
  ['version 2', line({ ...good, version: 2 }), /^version 2, expected 1$/],
  ['version 0', line({ ...good, version: 0 }), /^version 0, expected 1$/],
  ['no version', line(without('version')), /^version undefined, expected 1$/],
  ['version "1" (a string)', line({ ...good, version: '1' }), /^version "1", expected 1$/],
  ['args missing', line(without('args')), /^args: not a list of strings$/],
  ['args a string', line({ ...good, args: 'attach --netns n1' }), /^args: not a list of strings$/],
  ['args with a number', line({ ...good, args: ['attach', 1] }), /^args: not a list of strings$/],
  ['args with null', line({ ...good, args: ['attach', null] }), /^args: not a list of strings$/],
  ['stdoutIsTTY missing', line(without('stdoutIsTTY')), /^stdoutIsTTY: not a boolean$/],
  ['stdoutIsTTY a string', line({ ...good, stdoutIsTTY: 'true' }), /^stdoutIsTTY: not a boolean$/],
  ['stderrIsTTY missing', line(without('stderrIsTTY')), /^stderrIsTTY: not a boolean$/],
  ['stderrIsTTY a number', line({ ...good, stderrIsTTY: 1 }), /^stderrIsTTY: not a boolean$/],
  ['netns missing', line(without('netns')), /^netns: not a string$/],
  ['netns a number', line({ ...good, netns: 4026531840 }), /^netns: not a string$/],
  ['mntns missing', line(without('mntns')), /^mntns: not a string$/],
  ['mntns null', line({ ...good, mntns: null }), /^mntns: not a string$/],
  ['cwd missing', line(without('cwd')), /^cwd: not an absolute path$/],
  ['cwd relative', line({ ...good, cwd: 'home/op' }), /^cwd: not an absolute path$/],
  ['cwd a number', line({ ...good, cwd: 7 }), /^cwd: not an absolute path$/],
  ['dockerSocketEnv a number', line({ ...good, dockerSocketEnv: 5 }), /^dockerSocketEnv: not a string$/],
  ['dockerSocketEnv null', line({ ...good, dockerSocketEnv: null }), /^dockerSocketEnv: not a string$/],
  ['dockerSocketEnv a list', line({ ...good, dockerSocketEnv: ['/a'] }), /^dockerSocketEnv: not a string$/],
] as const) {
  test(`parseRequest: ${what} is refused and named`, (t) => {
    const result = parseRequest(text);
    t.is(typeof result, 'string', `refused: ${JSON.stringify(result)}`);
    t.regex(result as string, problem);
  });
}

// ---------------------------------------------------------------------------
// parseResponse

const done = { version: 1, kind: 'done', stdout: '{"a":1}\n', stderr: 'agent: warning\n', exitCode: 0 } as const;
const runLocally = { version: 1, kind: 'run-locally', reason: 'the CLI runs in other namespaces' } as const;

test('parseResponse: both kinds are accepted as sent', (t) => {
  t.deepEqual(parseResponse(line(done)), done);
  t.deepEqual(parseResponse(line({ ...done, stdout: '', stderr: '', exitCode: 2 })), { ...done, stdout: '', stderr: '', exitCode: 2 });
  t.deepEqual(parseResponse(line(runLocally)), runLocally);
  t.deepEqual(parseResponse(line({ ...runLocally, reason: '' })), { ...runLocally, reason: '' });
});

for (const [what, text] of [
  ['not JSON', 'garbage'],
  ['nothing (the daemon closed without answering)', ''],
  ['truncated', line(done).slice(0, -5)],
  ['JSON null', 'null'],
  ['a JSON list', '[]'],
  ['version 2', line({ ...done, version: 2 })],
  ['no version', line({ kind: 'done', stdout: '', stderr: '', exitCode: 0 })],
  ['an unknown kind', line({ ...done, kind: 'maybe' })],
  ['no kind', line({ version: 1, stdout: '', stderr: '', exitCode: 0 })],
  ['done without stdout', line({ version: 1, kind: 'done', stderr: '', exitCode: 0 })],
  ['done with stdout a number', line({ ...done, stdout: 1 })],
  ['done without stderr', line({ version: 1, kind: 'done', stdout: '', exitCode: 0 })],
  ['done with stderr null', line({ ...done, stderr: null })],
  ['done without exitCode', line({ version: 1, kind: 'done', stdout: '', stderr: '' })],
  ['done with exitCode a string', line({ ...done, exitCode: '0' })],
  ['done with exitCode 1.5', line({ ...done, exitCode: 1.5 })],
  ['done with exitCode null', line({ ...done, exitCode: null })],
  ['run-locally without a reason', line({ version: 1, kind: 'run-locally' })],
  ['run-locally with a reason not a string', line({ ...runLocally, reason: 42 })],
] as const) {
  test(`parseResponse: ${what} is refused`, (t) => {
    t.is(parseResponse(text), undefined);
  });
}
