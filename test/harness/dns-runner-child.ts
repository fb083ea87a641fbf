// Runs inside a test namespace (started by dns-runner.ts): our DnsClient,
// driven over a Unix socket, since the test process itself cannot enter a
// network namespace. One JSON request per connection, one JSON reply.
import { createServer } from 'node:net';
import { DnsClient } from '../../lib/dns/dns-client.ts';
import type { RunnerCall, RunnerReply } from './dns-runner.ts';

async function run(call: RunnerCall): Promise<RunnerReply> {
  const client = new DnsClient({
    server: call.server,
    key: call.key && { ...call.key, secret: Buffer.from(call.key.secret, 'base64') },
    timeoutMs: call.timeoutMs,
    attempts: call.attempts,
    clock: { now: () => Date.now() + (call.clockOffsetMs ?? 0) },
  });
  try {
    if (call.op === 'update') return { ok: true, transport: (await client.update(call.request)).transport, answers: [] };
    if (call.op === 'query') return { ok: true, answers: await client.query(call.name, call.type) };
    const { response, transport } = await client.exchange(call.message);
    return { ok: true, transport, answers: response.answers };
  } catch (err) {
    const e = err as Error & Record<string, unknown>;
    return { ok: false, error: { ...e, name: e.name, message: e.message } };
  }
}

const server = createServer((socket) => {
  let input = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    input += chunk;
    if (!input.endsWith('\n')) return;
    void run(JSON.parse(input) as RunnerCall).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
  });
});
server.listen(process.argv[2], () => console.log('dns-runner ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
