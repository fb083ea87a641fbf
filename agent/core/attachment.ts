import { LeaseholdError } from '../../lib/core/errors.ts';
import type { TargetKind } from './target.ts';

/** The agent's state on disk is unreadable or held: a broken record, a lock that does not come free. */
export class StateError extends LeaseholdError {
  readonly code = 'E_STATE';
}

/**
 * One attachment as the agent records it on disk (one JSON file per
 * attachment under the run directory). Everything needed to find, repair
 * or undo the attachment after the agent itself restarted is here.
 */
export interface Attachment {
  version: 1;
  key: string;
  kind: TargetKind;
  /** Full container id, or the netns name. */
  targetId: string;
  /** Container name (without Docker's leading slash), or the netns name. */
  name: string;
  /** Named netns the container's interface lives in. */
  netns: string;
  /** True when the agent made `netns` (ip netns attach) and must delete it. */
  ownsNetns: boolean;
  bridge: string;
  /** Netns holding the bridge; undefined for the agent's own. */
  bridgeNetns?: string;
  hostVeth: string;
  ifname: string;
  mac: string;
  app: string;
  hostname: string;
  fqdn: string;
  clientIdHex: string;
  ipv6: 'slaac' | 'off';
  /** Host path the hook writes the container's resolv.conf to, if any. */
  resolvConfPath?: string;
  client: ClientProcess;
  createdAt: string;
}

export interface ClientProcess {
  pid: number;
  /** Start time from /proc/<pid>/stat, so a recycled PID is never mistaken for our client. */
  startTicks: number;
  /** How many times the supervisor restarted it. */
  restarts: number;
}

/** A lease as the udhcpc hook recorded it (`key=value` lines). */
export interface RecordedLease {
  event: string;
  ip: string;
  prefixLen: number;
  router?: string;
  dns: string[];
  domain?: string;
  search: string[];
  serverId?: string;
  leaseSeconds: number;
  /** Unix seconds when the hook ran for this bind or renewal. */
  boundAt: number;
}

/** Parses the hook's lease file; undefined when it has no bound lease. */
export function parseLeaseFile(text: string): RecordedLease | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1));
  }
  const ip = fields.get('ip');
  const event = fields.get('event') ?? '';
  if (!ip || (event !== 'bound' && event !== 'renew')) return undefined;
  const words = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
  const prefixLen = prefixFrom(fields.get('mask'), fields.get('subnet'));
  return {
    event,
    ip,
    prefixLen,
    router: words('router')[0],
    dns: words('dns'),
    domain: fields.get('domain') || undefined,
    search: words('search'),
    serverId: fields.get('serverid') || undefined,
    leaseSeconds: Number(fields.get('lease') ?? 0),
    boundAt: Number(fields.get('bound_at') ?? 0),
  };
}

/** busybox exports `mask` as a prefix length and `subnet` as dotted quad. */
function prefixFrom(mask: string | undefined, subnet: string | undefined): number {
  if (mask && /^\d+$/.test(mask)) return Number(mask);
  if (subnet) {
    const bits = subnet
      .split('.')
      .map((o) => Number(o).toString(2).padStart(8, '0'))
      .join('');
    return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
  }
  return 32;
}

export interface InspectFacts {
  lease?: RecordedLease;
  globalIpv6?: { address: string; prefixLen: number };
  /** Set when the client process is not alive. */
  clientAlive: boolean;
}

/**
 * The seed's `inspect` JSON (docker-inspect style names), with the IPv6
 * address, FQDN and lease expiry added. Numbers are JSON numbers and DNS a
 * list, as in `docker inspect`; empty strings where nothing is known yet.
 */
export interface InspectJson {
  Container: string;
  Name: string;
  NetworkSettings: {
    HWAddr: string;
    Bridge: string;
    IPAddress: string;
    IPPrefixLen: number;
    Gateway: string;
    DNS: string[];
    DHCP_PID: number;
    GlobalIPv6Address: string;
    GlobalIPv6PrefixLen: number;
    FQDN: string;
    LeaseExpires: string;
    HostVeth: string;
    Netns: string;
  };
}

export function toInspectJson(a: Attachment, facts: InspectFacts): InspectJson {
  const lease = facts.lease;
  const domain = lease?.domain;
  return {
    Container: a.kind === 'docker' ? a.targetId.slice(0, 12) : a.targetId,
    Name: a.name,
    NetworkSettings: {
      HWAddr: a.mac,
      Bridge: a.bridge,
      IPAddress: lease?.ip ?? '',
      IPPrefixLen: lease?.prefixLen ?? 0,
      Gateway: lease?.router ?? '',
      DNS: lease?.dns ?? [],
      DHCP_PID: facts.clientAlive ? a.client.pid : 0,
      GlobalIPv6Address: facts.globalIpv6?.address ?? '',
      GlobalIPv6PrefixLen: facts.globalIpv6?.prefixLen ?? 0,
      FQDN: domain ? `${a.fqdn}.${domain}` : a.fqdn,
      LeaseExpires: lease ? new Date((lease.boundAt + lease.leaseSeconds) * 1000).toISOString() : '',
      HostVeth: a.hostVeth,
      Netns: a.netns,
    },
  };
}

/** Checks a state record read from disk; a broken one is reported, not trusted. */
export function parseAttachment(text: string, file: string): Attachment {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new StateError(`${file}: not JSON (${(err as Error).message})`);
  }
  const a = value as Partial<Attachment>;
  const need = ['key', 'kind', 'targetId', 'netns', 'bridge', 'hostVeth', 'ifname', 'mac', 'fqdn', 'clientIdHex'] as const;
  for (const field of need) {
    if (typeof a[field] !== 'string' || !a[field]) throw new StateError(`${file}: ${field}: missing or not a string`);
  }
  if (a.version !== 1) throw new StateError(`${file}: version: expected 1`);
  if (!a.client || typeof a.client.pid !== 'number') throw new StateError(`${file}: client.pid: missing`);
  return a as Attachment;
}
