import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Host } from './netns.ts';
import { ServerProcess } from './server-process.ts';
import type { LeaseState, ServerLease, TestServerConfig, TestSubnet } from './servers.ts';
import type { TrackedProcess } from './tracked-process.ts';

const LEASE_FILE = 'leases4.csv';
const CONFIG_FILE = 'kea-dhcp4.json';

/**
 * ISC Kea as the reference server. Documented differences the tests allow
 * for: Kea 2.2 has no offer hold time (`offerHoldSeconds` is ignored), it
 * forgets hardware address and client id of a DECLINEd lease, and it removes
 * a lease on RELEASE rather than keeping it as released.
 */
export class KeaServer extends ServerProcess {
  readonly kind = 'kea' as const;

  protected async launch(host: Host, config: TestServerConfig, dir: string): Promise<TrackedProcess> {
    const configPath = join(dir, CONFIG_FILE);
    await writeFile(configPath, JSON.stringify(keaConfig(config, join(dir, LEASE_FILE)), null, 2));
    const child = host.segment.spawnIn(host.netns, ['kea-dhcp4', '-c', configPath], {
      label: `kea-dhcp4@${host.netns}`,
      // Kea keeps its PID and logger lock files in /run/kea by default; one
      // directory per instance lets several run at once and leaves no trace.
      env: { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir },
    });
    await child.waitForOutput(/DHCP4_STARTED/, 15_000);
    return child;
  }

  async leases(): Promise<ServerLease[]> {
    let text: string;
    try {
      text = await readFile(join(this.dir, LEASE_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return parseMemfile(text, Date.now());
  }
}

function keaConfig(config: TestServerConfig, leaseFile: string): object {
  return {
    Dhcp4: {
      'interfaces-config': { interfaces: [config.interface, ...(config.extraInterfaces ?? [])], 'dhcp-socket-type': 'raw' },
      // persist + no LFC: every change is appended to one CSV that leases() reads.
      'lease-database': { type: 'memfile', persist: true, name: leaseFile, 'lfc-interval': 0 },
      // Without it Kea ignores an INIT-REBOOT REQUEST for an address on the
      // wrong network instead of the NAK RFC 2131 §4.3.2 asks for.
      authoritative: true,
      ...(config.declineQuarantineSeconds !== undefined && { 'decline-probation-period': config.declineQuarantineSeconds }),
      // Reclaim every second (default 10 s), so an address comes back soon
      // after its decline quarantine ends.
      'expired-leases-processing': { 'reclaim-timer-wait-time': 1 },
      subnet4: config.subnets.map((subnet, index) => keaSubnet(subnet, index + 1)),
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
    },
  };
}

function keaSubnet(subnet: TestSubnet, id: number): object {
  const options = subnet.options ?? {};
  const optionData = [
    options.routers && { name: 'routers', data: options.routers.join(', ') },
    options.dnsServers && { name: 'domain-name-servers', data: options.dnsServers.join(', ') },
    options.domainName && { name: 'domain-name', data: options.domainName },
    options.domainSearch && { name: 'domain-search', data: options.domainSearch.join(', ') },
    options.mtu !== undefined && { name: 'interface-mtu', data: String(options.mtu) },
  ].filter(Boolean);
  return {
    id,
    subnet: subnet.cidr,
    ...(subnet.interface && { interface: subnet.interface }),
    pools: subnet.pools.map((pool) => ({ pool: `${pool.start} - ${pool.end}` })),
    'valid-lifetime': subnet.leaseTime,
    ...(subnet.renewTime !== undefined && { 'renew-timer': subnet.renewTime }),
    ...(subnet.rebindTime !== undefined && { 'rebind-timer': subnet.rebindTime }),
    'option-data': optionData,
    reservations: (subnet.reservations ?? []).map((r) => ({
      ...(r.hwAddress && { 'hw-address': r.hwAddress }),
      ...(r.clientId && { 'client-id': r.clientId }),
      'ip-address': r.ip,
    })),
  };
}

// Kea memfile lease states (src/lib/dhcpsrv/lease.h).
const KEA_STATES: Record<string, LeaseState> = { '0': 'bound', '1': 'declined', '2': 'expired' };

/**
 * The memfile is a journal: each change appends the whole lease, so the last
 * row for an address wins; a row with valid_lifetime 0 records a deletion.
 */
function parseMemfile(text: string, now: number): ServerLease[] {
  const [headerLine, ...rows] = text.split('\n').filter((line) => line.trim() !== '');
  if (headerLine === undefined) return [];
  const header = headerLine.split(',');
  const column = (name: string) => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`Kea lease file has no "${name}" column: ${headerLine}`);
    return index;
  };
  const [address, hwaddr, clientId, validLifetime, expire, hostname, state] = [
    'address', 'hwaddr', 'client_id', 'valid_lifetime', 'expire', 'hostname', 'state',
  ].map(column);
  const byIp = new Map<string, ServerLease | undefined>();
  for (const row of rows) {
    const cells = row.split(',').map(unescapeCsv);
    if (cells[validLifetime] === '0') {
      byIp.set(cells[address], undefined);
      continue;
    }
    const expiresAt = Number(cells[expire]) * 1000;
    const keaState = KEA_STATES[cells[state]] ?? 'expired';
    byIp.set(cells[address], {
      ip: cells[address],
      hwAddress: cells[hwaddr].toLowerCase(),
      ...(cells[clientId] && { clientId: cells[clientId].replaceAll(':', '').toLowerCase() }),
      ...(cells[hostname] && { hostname: cells[hostname] }),
      state: keaState === 'bound' && expiresAt <= now ? 'expired' : keaState,
      expiresAt,
    });
  }
  return [...byIp.values()].filter((lease): lease is ServerLease => lease !== undefined);
}

/** Kea writes a comma inside a field as `&#x2c` (CSVLeaseFile4). */
function unescapeCsv(cell: string): string {
  return cell.replaceAll('&#x2c', ',');
}
