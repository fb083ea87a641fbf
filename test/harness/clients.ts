import { chmod, copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventLog, type ClientEvent } from './event-log.ts';
import { execIn, type Host } from './netns.ts';
import type { TrackedProcess } from './tracked-process.ts';

const HOOKS = join(dirname(fileURLToPath(import.meta.url)), 'hooks');

export interface ClientIdentity {
  hostname?: string;
  /** Option 61 payload as hex, type byte first (`01` + MAC for an Ethernet id). */
  clientId?: string;
  /** Client FQDN (option 81). */
  fqdn?: string;
}

/** A real DHCP client running in a host's namespace, observed through its hook's events. */
export abstract class DhcpClient {
  readonly events: EventLog;

  constructor(
    readonly host: Host,
    readonly process: TrackedProcess,
    readonly dir: string,
  ) {
    this.events = new EventLog(join(dir, 'events.jsonl'), () => process.running, () => process.tail());
  }

  waitFor(events: string | readonly string[], timeoutMs = 15_000): Promise<ClientEvent> {
    return this.events.waitFor(events, timeoutMs);
  }

  /** Stops the client without a RELEASE (what a crash or a reboot does). */
  async stop(): Promise<void> {
    await this.process.stop();
  }
}

/** Copies the hooks into the client's directory: their mode in a checkout cannot be relied on. */
async function installHooks(dir: string, hook: string): Promise<string> {
  await copyFile(join(HOOKS, 'record-event.sh'), join(dir, 'record-event.sh'));
  const target = join(dir, hook);
  await copyFile(join(HOOKS, hook), target);
  await chmod(target, 0o755);
  return target;
}

export interface UdhcpcOptions extends ClientIdentity {
  /** `-r`: ask for this address in DISCOVER (option 50). */
  requestedIp?: string;
  /** `-t`: DISCOVERs per attempt (default 3). */
  discoverTries?: number;
  /** `-T`: seconds between DISCOVERs (default 1). */
  discoverIntervalSeconds?: number;
  /** `-A`: seconds to wait after a failed attempt (default 1). */
  retryAfterSeconds?: number;
  /** `-q -n`: exit after the first lease, or when none was obtained. */
  oneShot?: boolean;
  /** `-a`: ARP-probe the offered address and DECLINE it when someone answers. */
  arpCheck?: boolean;
}

/** busybox udhcpc in the foreground; events: deconfig, bound, renew, nak, leasefail. */
export class UdhcpcClient extends DhcpClient {
  /** SIGUSR1: renew now (unicast to the server when bound). */
  renew(): void {
    this.process.signal('SIGUSR1');
  }

  /** SIGUSR2: send DHCPRELEASE and deconfigure; the client stays running, idle. */
  release(): void {
    this.process.signal('SIGUSR2');
  }
}

export async function startUdhcpc(host: Host, options: UdhcpcOptions = {}): Promise<UdhcpcClient> {
  const dir = await mkdtemp(join(host.segment.tmpDir, `${host.name}-udhcpc-`));
  const hook = await installHooks(dir, 'udhcpc-hook.sh');
  const argv = [
    'busybox', 'udhcpc', '-f', '-i', host.ifname, '-s', hook,
    '-t', String(options.discoverTries ?? 3),
    '-T', String(options.discoverIntervalSeconds ?? 1),
    '-A', String(options.retryAfterSeconds ?? 1),
    // Not in udhcpc's default parameter request list; the tests check both.
    '-O', 'search', '-O', 'mtu',
  ];
  if (options.oneShot) argv.push('-q', '-n');
  if (options.arpCheck) argv.push('-a');
  if (options.requestedIp) argv.push('-r', options.requestedIp);
  if (options.hostname) argv.push('-x', `hostname:${options.hostname}`);
  if (options.clientId) argv.push('-x', `0x3d:${options.clientId}`);
  if (options.fqdn) argv.push('-F', options.fqdn);
  const child = host.segment.spawnIn(host.netns, argv, {
    label: `udhcpc@${host.netns}`,
    // udhcpc hands its own environment to the hook: keep it to what the hook needs.
    env: { LT_EVENTS: join(dir, 'events.jsonl') },
  });
  return new UdhcpcClient(host, child, dir);
}

export interface DhclientOptions extends ClientIdentity {
  /** Probe each new address with ARP and DECLINE it when another host answers. */
  arpCheck?: boolean;
  /** A lease file to start from (dhclient then begins in INIT-REBOOT, RFC 2131 §3.2). */
  leaseFile?: string;
}

/** ISC dhclient in the foreground; events are dhclient-script reasons: PREINIT, BOUND, RENEW, REBIND, REBOOT, EXPIRE… */
export class DhclientClient extends DhcpClient {
  constructor(
    host: Host,
    process: TrackedProcess,
    dir: string,
    private readonly fileArgs: readonly string[],
  ) {
    super(host, process, dir);
  }

  get leaseFile(): string {
    return join(this.dir, 'leases');
  }

  /** `dhclient -r`: stops the running instance (via its PID file) and sends DHCPRELEASE. */
  async release(): Promise<void> {
    await execIn(this.host.netns, ['dhclient', '-r', ...this.fileArgs]);
    await this.process.exited;
  }
}

export async function startDhclient(host: Host, options: DhclientOptions = {}): Promise<DhclientClient> {
  const dir = await mkdtemp(join(host.segment.tmpDir, `${host.name}-dhclient-`));
  const hook = await installHooks(dir, 'dhclient-hook.sh');
  const config = join(dir, 'dhclient.conf');
  await writeFile(config, dhclientConfig(options));
  const leaseFile = join(dir, 'leases');
  await writeFile(leaseFile, options.leaseFile ?? '');
  // Every file dhclient would otherwise take from /etc or /var is ours; its
  // default script would rewrite /etc/resolv.conf.
  const fileArgs = [
    '-4', '-sf', hook, '-cf', config, '-lf', leaseFile, '-pf', join(dir, 'pid'),
    '-e', `LT_EVENTS=${join(dir, 'events.jsonl')}`,
    '-e', `LT_ARP_CHECK=${options.arpCheck ? 1 : 0}`,
    host.ifname,
  ];
  const child = host.segment.spawnIn(host.netns, ['dhclient', '-d', ...fileArgs], { label: `dhclient@${host.netns}` });
  return new DhclientClient(host, child, dir, fileArgs);
}

function dhclientConfig(options: DhclientOptions): string {
  const lines = [
    // Retry fast and give INIT-REBOOT little time: the tests run against a
    // server on the same segment (defaults: 10 s initial interval, 10 s reboot).
    'initial-interval 1;',
    'backoff-cutoff 2;',
    'reboot 3;',
    'timeout 30;',
    'retry 1;',
    'request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, domain-search,',
    '  host-name, interface-mtu, dhcp-lease-time, dhcp-renewal-time, dhcp-rebinding-time;',
  ];
  if (options.hostname) lines.push(`send host-name "${options.hostname}";`);
  if (options.clientId) lines.push(`send dhcp-client-identifier ${options.clientId.match(/../g)?.join(':')};`);
  if (options.fqdn) lines.push(`send fqdn.fqdn "${options.fqdn}";`);
  return `${lines.join('\n')}\n`;
}

/** A dhclient lease file holding one lease, e.g. a stale one from another subnet. */
export function dhclientLeaseFile(lease: { ifname: string; ip: string; mask: string; serverId: string; expiresAt: Date }): string {
  // dhclient.leases(5): "<weekday> <yyyy/mm/dd> <hh:mm:ss>" in UTC.
  const when = (d: Date) => `${d.getUTCDay()} ${d.toISOString().slice(0, 19).replace('T', ' ').replaceAll('-', '/')}`;
  return [
    'lease {',
    `  interface "${lease.ifname}";`,
    `  fixed-address ${lease.ip};`,
    `  option subnet-mask ${lease.mask};`,
    `  option dhcp-server-identifier ${lease.serverId};`,
    `  renew ${when(lease.expiresAt)};`,
    `  rebind ${when(lease.expiresAt)};`,
    `  expire ${when(lease.expiresAt)};`,
    '}',
    '',
  ].join('\n');
}
