import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DnsMessage } from '../../lib/dns/dns-message.ts';
import type { DnsRecord } from '../../lib/dns/dns-record.ts';
import type { TsigKey } from '../../lib/dns/tsig.ts';
import type { UpdateRequest } from '../../lib/dns/update-request.ts';
import type { DnsServerAddress } from '../../lib/dns/dns-client.ts';
import type { Host } from './netns.ts';
import type { TrackedProcess } from './tracked-process.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = 'test/harness/dns-runner-child.ts';

/** Per-call client settings (see DnsClientOptions); `clockOffsetMs` skews the client's clock. */
export interface RunnerSettings {
  server: DnsServerAddress;
  key?: { name: string; algorithm: TsigKey['algorithm']; secret: string };
  timeoutMs?: number;
  attempts?: number;
  clockOffsetMs?: number;
}

export type RunnerCall = RunnerSettings &
  (
    | { op: 'update'; request: UpdateRequest }
    | { op: 'query'; name: string; type: number }
    | { op: 'exchange'; message: DnsMessage }
  );

/** What crossed the socket: errors as their own enumerable fields (code, rcodeName, problem…). */
export type RunnerReply =
  | { ok: true; transport?: 'udp' | 'tcp'; answers: DnsRecord[] }
  | { ok: false; error: { name: string; message: string; code?: string; [field: string]: unknown } };

/** An error the client raised inside the namespace, rebuilt with its fields, so `t.throwsAsync(…, { code })` works. */
export class RemoteDnsError extends Error {
  readonly code: string | undefined;

  constructor(readonly fields: Extract<RunnerReply, { ok: false }>['error']) {
    super(fields.message);
    this.name = fields.name;
    this.code = fields.code;
  }
}

export interface ClientOptions {
  key?: TsigKey;
  timeoutMs?: number;
  attempts?: number;
  clockOffsetMs?: number;
}

/** JSON turns Buffers into { type: 'Buffer', data }; this turns them back. */
function revive(_key: string, value: unknown): unknown {
  const v = value as { type?: unknown; data?: unknown };
  return v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data as number[]) : value;
}

/**
 * Server/net/dns-client.ts running inside a test namespace, so its packets
 * never leave the namespaces the test made. Each call starts a client with
 * the given key and settings and returns what it returned, or throws a
 * RemoteDnsError carrying the client error's fields.
 */
export class DnsRunner {
  constructor(
    private readonly socketPath: string,
    readonly server: DnsServerAddress,
    readonly process: TrackedProcess,
  ) {}

  async update(request: UpdateRequest, options: ClientOptions = {}): Promise<'udp' | 'tcp'> {
    const reply = await this.#call({ op: 'update', request, ...this.#settings(options) });
    return reply.transport ?? 'udp';
  }

  async query(name: string, type: number, options: ClientOptions = {}): Promise<DnsRecord[]> {
    return (await this.#call({ op: 'query', name, type, ...this.#settings(options) })).answers;
  }

  async exchange(message: DnsMessage, options: ClientOptions = {}): Promise<{ transport: 'udp' | 'tcp'; answers: DnsRecord[] }> {
    const reply = await this.#call({ op: 'exchange', message, ...this.#settings(options) });
    return { transport: reply.transport ?? 'udp', answers: reply.answers };
  }

  #settings(options: ClientOptions): RunnerSettings {
    const { key, ...rest } = options;
    return { server: this.server, ...rest, ...(key && { key: { ...key, secret: key.secret.toString('base64') } }) };
  }

  async #call(call: RunnerCall): Promise<Extract<RunnerReply, { ok: true }>> {
    const text = await new Promise<string>((resolve, reject) => {
      let out = '';
      const socket = connect(this.socketPath, () => socket.write(`${JSON.stringify(call)}\n`));
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (out += chunk));
      socket.on('end', () => resolve(out));
      socket.on('error', (err) => reject(new Error(`dns runner: ${err.message}\n${this.process.tail()}`)));
    });
    const reply = JSON.parse(text, revive) as RunnerReply;
    if (!reply.ok) throw new RemoteDnsError(reply.error);
    return reply;
  }
}

/** Starts the runner in `host`'s namespace, talking to `server`; the segment's teardown stops it. */
export async function startDnsRunner(host: Host, server: DnsServerAddress): Promise<DnsRunner> {
  const socketPath = join(host.segment.tmpDir, `dns-runner-${host.name}.sock`);
  const child = host.segment.spawnIn(host.netns, ['node', '--import=tsx', CHILD, socketPath], {
    label: `dns-runner@${host.netns}`,
    cwd: REPO_ROOT,
  });
  await child.waitForOutput(/dns-runner ready/, 30_000);
  return new DnsRunner(socketPath, server, child);
}
