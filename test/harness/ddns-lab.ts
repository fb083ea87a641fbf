import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { startBind, type BindServer } from './bind.ts';
import { useSegment } from './fixture.ts';
import { execIn, type Host, type Segment } from './netns.ts';
import { pollUntil } from './poll.ts';
import { REPO_ROOT } from './run-command.ts';
import type { TrackedProcess } from './tracked-process.ts';

/**
 * The DDNS integration tests' appliance: our server at 198.18.0.1 on a /16
 * segment with BIND at 198.18.0.2, configured by a JSON file and run from
 * the sources through its CLI, as an operator would run it.
 */
export const DDNS_SERVER_IP = '198.18.0.1';
export const DDNS_DNS_IP = '198.18.0.2';

const CLI = ['node', '--import=tsx', 'server/cli/main.ts'];

export interface DdnsLabConfig {
  storePath: string;
  /** The zones to update (BIND's), each with its `key` setting as the config file has it. */
  zones: ReadonlyArray<{ name: string; key: object }>;
  /** The subnet's `ddns.slaacPrefix`, when its clients also get an AAAA. */
  slaacPrefix?: string;
  /** More top-level `ddns` settings. */
  ddns?: Record<string, unknown>;
  /** The `control` section (the API and metrics), when the test talks to the server over HTTP. */
  control?: Record<string, unknown>;
  /** The subnet's pool (default 198.18.1.10–200). */
  pool?: { start: string; end: string };
}

/** One subnet, 198.18.1.10–200, named `<host>.lab.leasehold.test`; retries after 200 ms, at most 1 s apart. */
export async function writeDdnsLabConfig(path: string, c: DdnsLabConfig): Promise<void> {
  const config = {
    interfaces: [{ name: 'eth0', address: DDNS_SERVER_IP }],
    subnets: [
      {
        id: 'lab',
        subnet: '198.18.0.0/16',
        interface: 'eth0',
        pools: [c.pool ?? { start: '198.18.1.10', end: '198.18.1.200' }],
        leaseTime: 600,
        options: { routers: [DDNS_SERVER_IP], dnsServers: [DDNS_DNS_IP] },
        ddns: { domain: 'leasehold.test', defaultApp: 'lab', ...(c.slaacPrefix && { slaacPrefix: c.slaacPrefix }) },
      },
    ],
    leaseStore: { type: 'sqlite', path: c.storePath },
    log: { level: 'debug' },
    ddns: {
      zones: c.zones.map(({ name, key }) => ({ name, servers: [{ address: DDNS_DNS_IP }], key })),
      retry: { initialMs: 200, maxMs: 1000 },
      ...c.ddns,
    },
    ...(c.control && { control: c.control }),
  };
  await writeFile(path, JSON.stringify(config));
}

/** `leasehold serve` in the server's namespace, once it logged `ready`. */
export async function startCliServer(host: Host, configPath: string): Promise<TrackedProcess> {
  const child = host.segment.spawnIn(host.netns, [...CLI, '--config', configPath], { cwd: REPO_ROOT });
  await child.waitForOutput(/"event":"ready"/, 30_000);
  return child;
}

/** The CLI's argv (run from REPO_ROOT), for the subcommands a test runs itself. */
export const SERVER_CLI: readonly string[] = CLI;

/** `leasehold leases --json`, beside the running server. */
export async function cliLeases(host: Host, configPath: string): Promise<Array<{ ip: string; state: string; fqdn?: string }>> {
  const { stdout } = await execIn(host.netns, [...CLI, 'leases', '--config', configPath, '--json'], { cwd: REPO_ROOT });
  return JSON.parse(stdout) as Array<{ ip: string; state: string; fqdn?: string }>;
}

/** The A record of each of `names` in BIND, with one `dig -f` for all of them: name → address, for the names that have one. */
export async function publishedAddresses(bind: BindServer, names: readonly string[]): Promise<Map<string, string>> {
  const batch = join(bind.dir, `names-${names.length}.txt`);
  await writeFile(batch, names.map((n) => `${n} A`).join('\n') + '\n');
  const { stdout } = await execIn(bind.host.netns, ['dig', `@${bind.address}`, '-p', String(bind.port), '+noall', '+answer', '+time=2', '-f', batch]);
  return new Map(
    stdout.split('\n').filter(Boolean).map((line) => {
      const [name, , , , ip] = line.split(/\s+/);
      return [name.replace(/\.$/, ''), ip] as [string, string];
    }),
  );
}

/** Polls until BIND holds exactly `expected` (name → address) among `names`: every bound lease's name, no other. */
export async function waitForDnsToMatch(bind: BindServer, names: readonly string[], expected: ReadonlyMap<string, string>, timeoutMs = 10_000): Promise<void> {
  let seen = new Map<string, string>();
  const sorted = (m: ReadonlyMap<string, string>) => JSON.stringify([...m].sort());
  await pollUntil('DNS to match the lease table exactly', async () => sorted((seen = await publishedAddresses(bind, names))) === sorted(expected), {
    timeoutMs,
    intervalMs: 250,
    describe: () => `${seen.size} names in DNS, ${expected.size} bound; differing: ${[...new Set([...seen.keys(), ...expected.keys()])].filter((n) => seen.get(n) !== expected.get(n)).slice(0, 5).join(', ')}`,
  });
}

export interface DdnsLab {
  segment: Segment;
  bind: BindServer;
  /** The server's namespace. */
  srvHost: Host;
  configPath: string;
  storePath: string;
  /** `leasehold serve` with the lab's config, once it is ready (again after a kill: the same store). */
  startServer(): Promise<TrackedProcess>;
  leases(): Promise<Array<{ ip: string; state: string; fqdn?: string }>>;
}

/**
 * A segment `<prefix>-*` with BIND at DDNS_DNS_IP (the lab's zones) and the
 * server's namespace at DDNS_SERVER_IP, and the server's config: the key
 * file tsig-keygen wrote for BIND, read by the server as an operator would
 * configure it, unless `key` says otherwise. The server is not started.
 */
export async function useDdnsLab(
  t: ExecutionContext,
  prefix: string,
  o: { ddns?: Record<string, unknown>; key?: object; slaacPrefix?: string } = {},
): Promise<DdnsLab> {
  const segment = await useSegment(t, prefix);
  const dnsHost = await segment.addHost('dns', { ipv4: `${DDNS_DNS_IP}/16` });
  const srvHost = await segment.addHost('srv', { ipv4: `${DDNS_SERVER_IP}/16` });
  const bind = await startBind(dnsHost);
  const key = o.key ?? { name: bind.key.name, algorithm: bind.key.algorithm, secretFile: join(bind.dir, 'keys.conf') };
  const configPath = join(segment.tmpDir, 'leasehold.json');
  const storePath = join(segment.tmpDir, 'leases.db');
  await writeDdnsLabConfig(configPath, { storePath, zones: bind.zones.map((z) => ({ name: z.name, key })), slaacPrefix: o.slaacPrefix, ddns: o.ddns });
  return {
    segment,
    bind,
    srvHost,
    configPath,
    storePath,
    startServer: () => startCliServer(srvHost, configPath),
    leases: () => cliLeases(srvHost, configPath),
  };
}

/** The names the store's durable DNS queue holds, in queue order (read-only, beside the running server). */
export function queuedNames(storePath: string): string[] {
  const db = new Database(storePath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT change FROM dns_queue ORDER BY seq').all() as Array<{ change: string }>;
    return rows.map((r) => (JSON.parse(r.change) as { fqdn: string }).fqdn);
  } finally {
    db.close();
  }
}
