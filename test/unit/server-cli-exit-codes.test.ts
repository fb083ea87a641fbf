// leasehold-server's client subcommands as a script sees them, without root:
// bad arguments print usage and exit 2; no server to answer is one line and
// exit 1; the API's result codes map to exit codes (0 on success, 1
// otherwise, an empty listing being a success). The server's side is a
// peer on a unix socket in a temp dir that answers what each case wants and
// records what the CLI sent; the real server's answers are the integration
// tests' (test/integration/ops-control.test.ts).
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../harness/server-cli.ts';

const EXAMPLE = 'config/leasehold.example.yaml';

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lt-cliexit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A control socket answering `reply` (a Kea answer, or raw text) to every request; `requests` is what came in. */
async function peer(t: ExecutionContext, reply: object | string): Promise<{ socket: string; requests: Array<Record<string, unknown>> }> {
  const socket = join(await tempDir(t), 'control.sock');
  const requests: Array<Record<string, unknown>> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(typeof reply === 'string' ? reply : JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { socket, requests };
}

test('bad arguments print usage and exit 2, before any server is asked', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['stats'], /Missing required argument: config/],
    [['stats', '--config', EXAMPLE, '--frobnicate'], /Unknown argument: frobnicate/],
    [['lease', '--config', EXAMPLE], /name the action: del/],
    [['lease', 'del', '--config', EXAMPLE], /Not enough non-option arguments/],
    [['reservation', 'add', '--config', EXAMPLE, '--subnet', 'lab', '--ip', '198.18.1.5'], /give --hw-address or --client-id/],
    [['reservation', 'add', '--config', EXAMPLE, '--subnet', 'lab', '--ip', '198.18.1.5', '--hw-address', '02:00:00:00:00:01', '--client-id', '01aa'], /mutually exclusive/],
    [['reservation', 'frob', '--config', EXAMPLE], /Unknown arguments?: .*frob/],
  ];
  await Promise.all(cases.map(async ([args, message]) => {
    const r = await cli(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(' '));
    t.regex(r.stderr, /leasehold-server/, `${args.join(' ')}: the usage is shown`);
    t.is(r.stdout, '', args.join(' '));
  }));
});

test('no server answering: one line naming the socket and exit 1', async (t) => {
  const dir = await tempDir(t);
  const socket = join(dir, 'control.sock');
  for (const args of [['stats'], ['reload'], ['lease', 'del', '198.18.1.5'], ['reservation', 'list', '--subnet', 'lab']]) {
    const r = await cli([...args, '--config', EXAMPLE, '--store', join(dir, 'leases.db')]);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stderr, `leasehold-server: no server answers on the control socket ${socket}: ${{ stats: 'statistic-get-all', reload: 'config-reload', lease: 'lease4-del', reservation: 'reservation-get-all' }[args[0]]} needs the running server\n`);
  }
});

test('a PostgreSQL store and no control.socket: there is no socket to ask, and the line says to set one', async (t) => {
  const dir = await tempDir(t);
  const config = join(dir, 'pg.json');
  await writeFile(config, JSON.stringify({
    interfaces: [{ name: 'eth0' }],
    subnets: [{ id: 'lan', subnet: '198.18.0.0/24', interface: 'eth0', pools: [{ start: '198.18.0.100', end: '198.18.0.150' }], leaseTime: 600 }],
    leaseStore: { type: 'postgresql', url: 'postgresql://leasehold@198.18.0.5:5432/leasehold' },
  }));
  const r = await cli(['stats', '--config', config]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^leasehold-server: the config sets no control\.socket \(leaseStore\.type postgresql has no default one\): statistic-get-all needs .*set control\.socket or give --socket\n$/);
});

test('result 0 is exit 0 with the text; the command and its arguments are what the subcommand names', async (t) => {
  const { socket, requests } = await peer(t, { result: 0, text: 'IPv4 lease deleted.' });
  const r = await cli(['lease', 'del', '198.18.1.5', '--config', EXAMPLE, '--socket', socket]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'IPv4 lease deleted.\n');
  const add = await cli(['reservation', 'add', '--config', EXAMPLE, '--socket', socket, '--subnet', 'lab', '--ip', '198.18.1.7', '--client-id', '01aabb', '--hostname', 'fixed']);
  t.is(add.code, 0, add.stderr);
  t.deepEqual(requests, [
    { command: 'lease4-del', arguments: { 'ip-address': '198.18.1.5' } },
    { command: 'reservation-add', arguments: { reservation: { 'subnet-id': 'lab', 'ip-address': '198.18.1.7', 'client-id': '01aabb', hostname: 'fixed' } } },
  ]);
});

test('result 1 (error) and 2 (unknown command) are exit 1 with the text on stderr; --json prints the whole answer, same exit', async (t) => {
  for (const result of [1, 2]) {
    const answer = { result, text: result === 1 ? 'arguments.ip-address: not an IPv4 address' : "'config-reload' command not supported." };
    const { socket } = await peer(t, answer);
    const plain = await cli(['reload', '--config', EXAMPLE, '--socket', socket]);
    t.is(plain.code, 1, `result ${result}`);
    t.is(plain.stderr, `leasehold-server: ${answer.text}\n`);
    t.is(plain.stdout, '');
    const json = await cli(['reload', '--config', EXAMPLE, '--socket', socket, '--json']);
    t.is(json.code, 1, `result ${result} --json`);
    t.deepEqual(JSON.parse(json.stdout), answer);
  }
});

test('result 3 (empty): a failure for lease del, a success for a listing', async (t) => {
  const { socket } = await peer(t, { result: 3, text: 'IPv4 lease not found.', arguments: { hosts: [] } });
  const del = await cli(['lease', 'del', '198.18.1.5', '--config', EXAMPLE, '--socket', socket]);
  t.is(del.code, 1);
  t.is(del.stderr, 'leasehold-server: IPv4 lease not found.\n');
  const list = await cli(['reservation', 'list', '--subnet', 'lab', '--config', EXAMPLE, '--socket', socket]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /0 reservation\(s\)/);
});

test('an answer that is not JSON is exit 1, naming the socket and the HTTP status', async (t) => {
  const { socket } = await peer(t, '<html>not the API</html>');
  const r = await cli(['stats', '--config', EXAMPLE, '--socket', socket]);
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`^leasehold-server: the server answered on ${socket.replace(/[.]/g, '\\.')} with something that is not JSON \\(HTTP 200\\): <html>`));
});
