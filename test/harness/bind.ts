import type { ExecutionContext } from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { LAB_ZONES, STATIC_ADDRESS, writeBindConfig, type BindZone } from '../../lab/bind-config.ts';
import { join } from 'node:path';
import { parseTsigKeyFile } from '../../lib/dns/tsig-key-file.ts';
import type { TsigAlgorithm, TsigKey } from '../../lib/dns/tsig.ts';
import { execIn, type Host } from './netns.ts';
import { pollUntil } from './poll.ts';
import type { TrackedProcess } from './tracked-process.ts';

export interface BindKeySpec {
  name: string;
  algorithm: TsigAlgorithm;
}

export interface BindOptions {
  /** Default: `LEASEHOLD_TEST_ZONES`. */
  zones?: BindZone[];
  /** The key every zone accepts updates with (default `leasehold-key`, hmac-sha256). */
  keyName?: string;
  algorithm?: TsigAlgorithm;
  /** More keys every zone accepts updates with (another algorithm, another name). */
  extraKeys?: BindKeySpec[];
  port?: number;
  /** Serve BIND's statistics (`statistics()`) over HTTP on 127.0.0.1 in its namespace at this port. */
  statisticsPort?: number;
}

/** BIND's own counts since it started (its statistics channel, /json/v1/server). */
export interface BindStatistics {
  /** Requests by opcode: UPDATE messages received. */
  updates: number;
  /** nsstats: updates applied, refused or failed, and failed on a prerequisite. */
  updateDone: number;
  updateFail: number;
  updateBadPrereq: number;
  /** Requests over TCP, of every opcode. */
  tcpRequests: number;
}

export { STATIC_ADDRESS };

/** The lab's zones (lab/bind-config.ts): the tests run against the same BIND the lab runs. */
export const LEASEHOLD_TEST_ZONES = LAB_ZONES;

/**
 * BIND 9 (`named -g`, foreground) in a test namespace, with its own config,
 * zones, journals and PID file in a directory inside the segment's temp dir.
 * The segment's teardown stops it if the test does not.
 */
export class BindServer {
  #process: TrackedProcess | undefined;

  constructor(
    readonly host: Host,
    /** Address named listens on (besides 127.0.0.1). */
    readonly address: string,
    readonly port: number,
    readonly dir: string,
    /** Every key the zones accept updates with; `key` is the first. */
    readonly keys: readonly TsigKey[],
    readonly zones: readonly BindZone[],
    readonly statisticsPort?: number,
  ) {}

  get key(): TsigKey {
    return this.keys[0];
  }

  get process(): TrackedProcess {
    if (!this.#process) throw new Error('named was never started');
    return this.#process;
  }

  async start(): Promise<void> {
    if (this.#process?.running) throw new Error('named is already running');
    const child = this.host.segment.spawnIn(this.host.netns, ['named', '-g', '-4', '-c', join(this.dir, 'named.conf')], {
      label: `named@${this.host.netns}`,
      cwd: this.dir,
    });
    this.#process = child;
    const zone = this.zones[0].name;
    await pollUntil(`named to answer SOA ${zone}`, async () => {
      if (!child.running) throw new Error(`named exited before answering\n${child.tail()}`);
      return (await this.dig(zone, 'SOA').catch(() => [])).length > 0;
    }, { timeoutMs: 20_000, intervalMs: 100, describe: () => child.tail() });
  }

  /** SIGTERM: named writes its journals and exits. */
  async stop(): Promise<void> {
    const child = this.#process;
    if (!child?.running) return;
    const status = await child.stop(5000);
    if (status.code !== 0) throw new Error(`named did not stop cleanly on SIGTERM: ${JSON.stringify(status)}\n${child.tail()}`);
  }

  /** SIGKILL: what a crash leaves (journals as far as they were written). */
  async kill(): Promise<void> {
    await this.#process?.kill9();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** `dig +short` from inside the namespace: one string per answer record, in presentation form. */
  async dig(name: string, type: string, options: { tcp?: boolean } = {}): Promise<string[]> {
    const { stdout } = await execIn(this.host.netns, [
      'dig', `@${this.address}`, '-p', String(this.port), '+short', '+time=2', '+tries=1', ...(options.tcp ? ['+tcp'] : []), name, type,
    ]);
    return stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  }

  /** Reads the statistics channel from inside the namespace (the test process cannot enter it), with Node's fetch. */
  async statistics(): Promise<BindStatistics> {
    if (this.statisticsPort === undefined) throw new Error('named was started without statisticsPort');
    const url = `http://127.0.0.1:${this.statisticsPort}/json/v1/server`;
    const { stdout } = await execIn(this.host.netns, [process.execPath, '-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`]);
    const json = JSON.parse(stdout) as { opcodes?: Record<string, number>; nsstats?: Record<string, number> };
    const ns = json.nsstats ?? {};
    return {
      updates: json.opcodes?.UPDATE ?? 0,
      updateDone: ns.UpdateDone ?? 0,
      updateFail: ns.UpdateFail ?? 0,
      updateBadPrereq: ns.UpdateBadPrereq ?? 0,
      tcpRequests: ns.ReqTCP ?? 0,
    };
  }

  /**
   * Changes the zone behind our back, as an operator (or an accident) would:
   * BIND's own `nsupdate`, signed with the first key, one command per line
   * (`update add name ttl type data`, `update delete name type`…).
   */
  async nsupdate(commands: string[]): Promise<void> {
    const script = join(this.dir, `nsupdate-${Date.now()}.txt`);
    await writeFile(script, [`server ${this.address} ${this.port}`, ...commands, 'send', ''].join('\n'));
    await execIn(this.host.netns, ['nsupdate', '-y', `${this.key.algorithm}:${this.key.name}:${this.key.secret.toString('base64')}`, script]);
  }
}

async function generateKey(host: Host, spec: BindKeySpec): Promise<{ text: string; key: TsigKey }> {
  const { stdout } = await execIn(host.netns, ['tsig-keygen', '-a', spec.algorithm, spec.name]);
  const [key] = parseTsigKeyFile(stdout, `tsig-keygen ${spec.name}`);
  return { text: stdout, key };
}

/**
 * Starts named on `host` (which needs a static IPv4 address) and resolves
 * once it answers SOA for its first zone. Keys come from `tsig-keygen`, run
 * at start; every zone accepts updates signed by any of them.
 */
export async function startBind(host: Host, options: BindOptions = {}): Promise<BindServer> {
  const address = host.ipv4?.split('/')[0];
  if (!address) throw new Error(`host ${host.name} has no static IPv4 address for named`);
  const port = options.port ?? 53;
  const zones = options.zones ?? LEASEHOLD_TEST_ZONES;
  const specs = [
    { name: options.keyName ?? 'leasehold-key', algorithm: options.algorithm ?? 'hmac-sha256' },
    ...(options.extraKeys ?? []),
  ];
  const dir = await mkdtemp(join(host.segment.tmpDir, 'named-'));
  const generated = await Promise.all(specs.map((spec) => generateKey(host, spec)));
  writeBindConfig(dir, address, port, zones, generated.map((g) => g.text).join(''), { statisticsPort: options.statisticsPort });
  const keys = generated.map((g) => g.key);
  const server = new BindServer(host, address, port, dir, keys, zones, options.statisticsPort);
  await server.start();
  return server;
}

/** Polls dig until the answer for name/type is `want` (sorted lines); [] means "no such record". */
export async function expectDns(t: ExecutionContext, bind: BindServer, name: string, type: string, want: string[], timeoutMs = 10_000): Promise<void> {
  let last: string[] = [];
  await pollUntil(`${name} ${type} = [${want.join(', ')}]`, async () => {
    last = (await bind.dig(name, type)).sort();
    return JSON.stringify(last) === JSON.stringify([...want].sort());
  }, { timeoutMs, intervalMs: 100, describe: () => `dig says [${last.join(', ')}]` });
  t.pass(`${name} ${type} = [${want.join(', ')}]`);
}

/** The in-addr.arpa name (RFC 1035 §3.5) of an IPv4 address, for dig. */
export function reverseV4(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}
