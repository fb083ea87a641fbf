import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execIn, type Host } from './netns.ts';
import { ServerProcess } from './server-process.ts';
import type { ServerLease, TestServerConfig, TestSubnet } from './servers.ts';
import type { TrackedProcess } from './tracked-process.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = ['node', '--import=tsx', 'server/cli/main.ts'];
const CONFIG_FILE = 'leasehold.json';

/** Our own server, driven through its CLI exactly as an operator would. */
export class LeaseholdServer extends ServerProcess {
  readonly kind = 'leasehold' as const;

  protected async launch(host: Host, config: TestServerConfig, dir: string): Promise<TrackedProcess> {
    const configPath = join(dir, CONFIG_FILE);
    await writeFile(configPath, JSON.stringify(leaseholdConfig(host, config, dir), null, 2));
    const child = host.segment.spawnIn(host.netns, [...CLI, 'serve', '--config', configPath], {
      label: `leasehold@${host.netns}`,
      cwd: REPO_ROOT,
    });
    await child.waitForOutput(/"event":"ready"/, 30_000);
    return child;
  }

  async leases(): Promise<ServerLease[]> {
    // From the repo root, where `--import=tsx` resolves.
    const { stdout } = await execIn(this.host.netns, [...CLI, 'leases', '--config', join(this.dir, CONFIG_FILE), '--json'], {
      cwd: REPO_ROOT,
    });
    return JSON.parse(stdout) as ServerLease[];
  }
}

function leaseholdConfig(host: Host, config: TestServerConfig, dir: string): object {
  const address = host.ipv4?.split('/')[0];
  return {
    interfaces: [{ name: config.interface, ...(address && { address }) }, ...(config.extraInterfaces ?? []).map((name) => ({ name }))],
    subnets: config.subnets.map((subnet, index) => leaseholdSubnet(subnet, index + 1)),
    leaseStore: { type: 'sqlite', path: join(dir, 'leases.sqlite') },
    ...(config.offerHoldSeconds !== undefined && { offerHoldSeconds: config.offerHoldSeconds }),
    ...(config.declineQuarantineSeconds !== undefined && { declineQuarantineSeconds: config.declineQuarantineSeconds }),
    log: { level: 'debug' },
  };
}

function leaseholdSubnet(subnet: TestSubnet, index: number): object {
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
  };
}
