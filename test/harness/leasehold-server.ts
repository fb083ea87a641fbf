import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execIn, type Host } from './netns.ts';
import { REPO_ROOT } from './run-command.ts';
import { ServerProcess } from './server-process.ts';
import type { ServerLease, TestDdns, TestServerConfig, TestServerOptions, TestSubnet } from './servers.ts';
import type { TrackedProcess } from './tracked-process.ts';

const SOURCE_CLI = ['node', '--import=tsx', 'server/cli/main.ts'];
const CONFIG_FILE = 'leasehold.json';
const STORE_FILE = 'leases.sqlite';

export interface LeaseholdServerOptions extends TestServerOptions {
  /** The server's command (default: the sources through tsx); a benchmark runs the build. */
  command?: readonly string[];
  /** The `leaseStore` section instead of an SQLite file in the server's directory (a PostgreSQL database). */
  leaseStore?: object;
  /** Run `db init` on that store before `serve` (the first of several servers on one new database). */
  initStore?: boolean;
  /** Further top-level config sections, as they are (e.g. `ha` for one of several servers). */
  extraConfig?: object;
}

/** Our own server, driven through its CLI exactly as an operator would. */
export class LeaseholdServer extends ServerProcess {
  readonly kind = 'leasehold' as const;
  readonly #command: readonly string[];

  constructor(private readonly options: LeaseholdServerOptions = {}) {
    super();
    this.#command = options.command ?? SOURCE_CLI;
  }

  protected async launch(host: Host, config: TestServerConfig, dir: string): Promise<TrackedProcess> {
    const configPath = join(dir, CONFIG_FILE);
    const serverConfig = leaseholdConfig(host, config, dir, this.options.logLevel ?? 'debug');
    const body = { ...serverConfig, ...(this.options.leaseStore && { leaseStore: this.options.leaseStore }), ...this.options.extraConfig };
    await writeFile(configPath, JSON.stringify(body, null, 2));
    if (this.options.initStore) await execIn(host.netns, [...this.#command, 'db', 'init', '--config', configPath], { cwd: REPO_ROOT });
    const child = host.segment.spawnIn(host.netns, [...(this.options.launcher ?? []), ...this.#command, 'serve', '--config', configPath], {
      label: `leasehold@${host.netns}`,
      cwd: REPO_ROOT,
    });
    try {
      await child.waitForOutput(/"event":"ready"/, 30_000);
    } catch (error) {
      await child.stop();
      throw error;
    }
    return child;
  }

  /** The SQLite lease store, for a reader that cannot wait for the CLI (a benchmark polling it). */
  get storePath(): string {
    return join(this.dir, STORE_FILE);
  }

  async leases(): Promise<ServerLease[]> {
    // From the repo root, where `--import=tsx` resolves.
    const { stdout } = await execIn(this.host.netns, [...this.#command, 'leases', '--config', join(this.dir, CONFIG_FILE), '--json'], {
      cwd: REPO_ROOT,
    });
    return JSON.parse(stdout) as ServerLease[];
  }
}

function leaseholdConfig(host: Host, config: TestServerConfig, dir: string, logLevel: string): object {
  const address = host.ipv4?.split('/')[0];
  return {
    interfaces: [{ name: config.interface, ...(address && { address }) }, ...(config.extraInterfaces ?? []).map((name) => ({ name }))],
    subnets: config.subnets.map((subnet, index) => leaseholdSubnet(subnet, index + 1, config.ddns)),
    leaseStore: { type: 'sqlite', path: join(dir, STORE_FILE), ...(config.commitWaitUs !== undefined && { commitWaitUs: config.commitWaitUs }) },
    ...(config.offerHoldSeconds !== undefined && { offerHoldSeconds: config.offerHoldSeconds }),
    ...(config.declineQuarantineSeconds !== undefined && { declineQuarantineSeconds: config.declineQuarantineSeconds }),
    log: { level: logLevel },
    ...(config.dhcp4Sockets && { dhcp4Sockets: config.dhcp4Sockets }),
    ...(config.ddns && { ddns: leaseholdDdns(config.ddns) }),
  };
}

function leaseholdSubnet(subnet: TestSubnet, index: number, ddns: TestDdns | undefined): object {
  return {
    id: `s${index}`,
    subnet: subnet.cidr,
    ...(subnet.interface && { interface: subnet.interface }),
    pools: subnet.pools,
    leaseTime: subnet.leaseTime,
    ...(subnet.renewTime !== undefined && { renewTime: subnet.renewTime }),
    ...(subnet.rebindTime !== undefined && { rebindTime: subnet.rebindTime }),
    options: subnet.options ?? {},
    reservations: subnet.reservations ?? [],
    ...(ddns && { ddns: { domain: ddns.domain, defaultApp: ddns.defaultApp } }),
  };
}

function leaseholdDdns(ddns: TestDdns): object {
  const key = { name: ddns.key.name, algorithm: ddns.key.algorithm, secret: ddns.key.secret };
  return { zones: ddns.zones.map((name) => ({ name, servers: [{ address: ddns.server }], key })) };
}
