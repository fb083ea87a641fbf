import { writeFile } from 'node:fs/promises';
import { execIn, type Host } from './netns.ts';
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
        pools: [{ start: '198.18.1.10', end: '198.18.1.200' }],
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
  };
  await writeFile(path, JSON.stringify(config));
}

/** `leasehold serve` in the server's namespace, once it logged `ready`. */
export async function startCliServer(host: Host, configPath: string): Promise<TrackedProcess> {
  const child = host.segment.spawnIn(host.netns, [...CLI, '--config', configPath], { cwd: REPO_ROOT });
  await child.waitForOutput(/"event":"ready"/, 30_000);
  return child;
}

/** `leasehold leases --json`, beside the running server. */
export async function cliLeases(host: Host, configPath: string): Promise<Array<{ ip: string; state: string; fqdn?: string }>> {
  const { stdout } = await execIn(host.netns, [...CLI, 'leases', '--config', configPath, '--json'], { cwd: REPO_ROOT });
  return JSON.parse(stdout) as Array<{ ip: string; state: string; fqdn?: string }>;
}
