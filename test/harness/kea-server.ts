import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Host } from './netns.ts';
import { ServerProcess } from './server-process.ts';
import type { LeaseState, ServerLease, TestDdns, TestServerConfig, TestServerOptions, TestSubnet } from './servers.ts';
import type { TrackedProcess } from './tracked-process.ts';

const LEASE_FILE = 'leases4.csv';
const CONFIG_FILE = 'kea-dhcp4.json';
const D2_CONFIG_FILE = 'kea-dhcp-ddns.json';
/** Where kea-dhcp4 sends its name change requests to D2, inside the server's namespace. */
export const D2_ADDRESS = '127.0.0.1';
export const D2_PORT = 53001;

export interface KeaServerOptions extends TestServerOptions {
  /**
   * Kea's `lease-database` instead of the memfile (a PostgreSQL database
   * made ready by `kea-admin db-init pgsql`); leases() then finds none.
   */
  leaseDatabase?: object;
}

/**
 * ISC Kea as the reference server. Documented differences the tests allow
 * for: Kea 2.2 has no offer hold time (`offerHoldSeconds` is ignored), it
 * forgets hardware address and client id of a DECLINEd lease, and it removes
 * a lease on RELEASE rather than keeping it as released. With `ddns`, its
 * DNS side runs too: kea-dhcp-ddns (D2), started first, which kea-dhcp4
 * hands name change requests over UDP on the namespace's loopback.
 */
export class KeaServer extends ServerProcess {
  readonly kind = 'kea' as const;

  constructor(private readonly options: KeaServerOptions = {}) {
    super();
  }

  protected async launch(host: Host, config: TestServerConfig, dir: string): Promise<TrackedProcess[]> {
    const started: TrackedProcess[] = [];
    // Kea keeps its PID and logger lock files in /run/kea by default; one
    // directory per instance lets several run at once and leaves no trace.
    const env = { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
    // The daemon's argv (its program first), then `-c <its config file>`.
    const spawn = async (daemon: readonly string[], file: string, config: object, ready: RegExp): Promise<void> => {
      const configPath = join(dir, file);
      await writeFile(configPath, JSON.stringify(config, null, 2));
      const child = host.segment.spawnIn(host.netns, [...(this.options.launcher ?? []), ...daemon, '-c', configPath], {
        label: `${daemon[0]}@${host.netns}`,
        env,
      });
      started.push(child);
      await child.waitForOutput(ready, 15_000);
    };
    try {
      if (config.ddns) await spawn(['kea-dhcp-ddns'], D2_CONFIG_FILE, d2Config(config.ddns, this.options), /DHCP_DDNS_STARTED/);
      await spawn(['kea-dhcp4'], CONFIG_FILE, keaConfig(config, join(dir, LEASE_FILE), this.options), /DHCP4_STARTED/);
    } catch (error) {
      await Promise.all(started.map((child) => child.stop()));
      throw error;
    }
    return started;
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

/**
 * Kea's loggers for a log level. At `warn` the one logger that says a
 * daemon has started (`<daemon>.<logger>`) stays at INFO, since start()
 * waits for that line; the per-packet and per-lease messages are all INFO
 * or DEBUG in other loggers.
 */
function loggers(daemon: string, startLogger: string, options: TestServerOptions): object[] {
  const out = [{ output: 'stdout' }];
  switch (options.logLevel ?? 'info') {
    case 'debug':
      return [{ name: daemon, output_options: out, severity: 'DEBUG', debuglevel: 99 }];
    case 'info':
      return [{ name: daemon, output_options: out, severity: 'INFO' }];
    case 'warn':
      return [
        { name: daemon, output_options: out, severity: 'WARN' },
        { name: `${daemon}.${startLogger}`, output_options: out, severity: 'INFO' },
      ];
  }
}

function keaConfig(config: TestServerConfig, leaseFile: string, options: KeaServerOptions): object {
  return {
    Dhcp4: {
      'interfaces-config': { interfaces: [config.interface, ...(config.extraInterfaces ?? [])], 'dhcp-socket-type': 'raw' },
      // persist + no LFC: every change is appended to one CSV that leases() reads.
      'lease-database': options.leaseDatabase ?? { type: 'memfile', persist: true, name: leaseFile, 'lfc-interval': 0 },
      // Without it Kea ignores an INIT-REBOOT REQUEST for an address on the
      // wrong network instead of the NAK RFC 2131 §4.3.2 asks for.
      authoritative: true,
      ...(config.declineQuarantineSeconds !== undefined && { 'decline-probation-period': config.declineQuarantineSeconds }),
      // Reclaim every second (default 10 s), so an address comes back soon
      // after its decline quarantine ends.
      'expired-leases-processing': { 'reclaim-timer-wait-time': 1 },
      ...(config.ddns && keaDdns(config.ddns)),
      subnet4: config.subnets.map((subnet, index) => keaSubnet(subnet, index + 1)),
      loggers: loggers('kea-dhcp4', 'dhcp4', options),
    },
  };
}

/** kea-dhcp4's side of DDNS: what it asks D2 to do, and the names it makes up (see TestDdns). */
function keaDdns(ddns: TestDdns): object {
  return {
    'dhcp-ddns': { 'enable-updates': true, 'server-ip': D2_ADDRESS, 'server-port': D2_PORT },
    'ddns-send-updates': true,
    'ddns-replace-client-name': 'when-not-present',
    'ddns-generated-prefix': 'dhcp',
    'ddns-qualifying-suffix': `${ddns.defaultApp}.${ddns.domain}.`,
    'hostname-char-set': '[^A-Za-z0-9.-]',
    'hostname-char-replacement': '-',
  };
}

/** kea-dhcp-ddns: the zones, forward and reverse, each on the one DNS server with the one key. */
function d2Config(ddns: TestDdns, options: TestServerOptions): object {
  const dnsServers = [{ 'ip-address': ddns.server, port: 53 }];
  const domains = (reverse: boolean) =>
    ddns.zones
      .filter((zone) => /\.(in-addr|ip6)\.arpa$/.test(zone) === reverse)
      .map((zone) => ({ name: `${zone}.`, 'key-name': ddns.key.name, 'dns-servers': dnsServers }));
  return {
    DhcpDdns: {
      'ip-address': D2_ADDRESS,
      port: D2_PORT,
      'tsig-keys': [{ name: ddns.key.name, algorithm: ddns.key.algorithm.toUpperCase(), secret: ddns.key.secret }],
      'forward-ddns': { 'ddns-domains': domains(false) },
      'reverse-ddns': { 'ddns-domains': domains(true) },
      // 'dhcpddns' reports its start and the request queue.
      loggers: loggers('kea-dhcp-ddns', 'dhcpddns', options),
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
  const [address, hwaddr, clientId, validLifetime, expire, hostname, state, fqdnFwd] = [
    'address', 'hwaddr', 'client_id', 'valid_lifetime', 'expire', 'hostname', 'state', 'fqdn_fwd',
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
      // The hostname column holds the FQDN; fqdn_fwd says it went to DNS.
      ...(cells[hostname] && cells[fqdnFwd] === '1' && { fqdn: cells[hostname].toLowerCase() }),
    });
  }
  return [...byIp.values()].filter((lease): lease is ServerLease => lease !== undefined);
}

/** Kea writes a comma inside a field as `&#x2c` (CSVLeaseFile4). */
function unescapeCsv(cell: string): string {
  return cell.replaceAll('&#x2c', ',');
}
