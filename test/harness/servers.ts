import type { Host } from './netns.ts';
import { KeaServer } from './kea-server.ts';
import { LeaseholdServer } from './leasehold-server.ts';

/**
 * A small, neutral description of what the tests need from a DHCPv4 server,
 * translated by each implementation into its own configuration.
 */
export interface TestServerConfig {
  /** The server's interface inside its namespace (`eth0`). */
  interface: string;
  /** More interfaces to serve on (a server on several links); their addresses are discovered. */
  extraInterfaces?: string[];
  subnets: TestSubnet[];
  declineQuarantineSeconds?: number;
  offerHoldSeconds?: number;
  /** Leasehold's `leaseStore.commitWaitUs` (the SQLite group commit's gather window; Kea ignores it). */
  commitWaitUs?: number;
  /** Leasehold's `dhcp4Sockets` section (Kea has no such thing and ignores it). */
  dhcp4Sockets?: { implementation?: 'auto' | 'native' | 'dgram'; requestDeadlineMs?: number; replyDeadlineMs?: number; maxQueuedReplies?: number };
  /** Dynamic DNS for every subnet; absent: no updates. */
  ddns?: TestDdns;
}

/**
 * DNS updates (RFC 2136, TSIG-signed) to one DNS server. A client that
 * leaves its name to the server (option 81 with an empty name) gets one the
 * server makes up, `dhcp-<…>.<defaultApp>.<domain>`: Leasehold's name
 * policy, and Kea's `ddns-replace-client-name: when-not-present` with
 * `ddns-generated-prefix: dhcp`.
 */
export interface TestDdns {
  domain: string;
  defaultApp: string;
  /** The forward zone and the reverse zones (`….in-addr.arpa`, `….ip6.arpa`) to update. */
  zones: readonly string[];
  /** The DNS server's address (port 53). */
  server: string;
  key: { name: string; algorithm: string; /** base64 */ secret: string };
}

/** How a server under test runs, beside what it serves. */
export interface TestServerOptions {
  /**
   * Its log level (default: Leasehold debug, Kea INFO). `warn` keeps only
   * what a test waits for at start-up: a benchmark's server must not spend
   * its time logging every packet.
   */
  logLevel?: 'debug' | 'info' | 'warn';
  /** A command the server runs under, e.g. `['taskset', '-c', '0']`. */
  launcher?: readonly string[];
}

export interface TestSubnet {
  cidr: string;
  pools: Array<{ start: string; end: string }>;
  leaseTime: number;
  renewTime?: number;
  rebindTime?: number;
  /** Set for the subnet on the server's own link; relayed subnets leave it out. */
  interface?: string;
  options?: {
    routers?: string[];
    dnsServers?: string[];
    domainName?: string;
    domainSearch?: string[];
    mtu?: number;
  };
  reservations?: Array<{ hwAddress?: string; clientId?: string; ip: string }>;
}

export type LeaseState = 'bound' | 'declined' | 'released' | 'expired';

export interface ServerLease {
  ip: string;
  /** Lower-case colon hex; empty when the server dropped it (Kea does on DECLINE). */
  hwAddress: string;
  /** Lower-case hex without separators, type byte included. */
  clientId?: string;
  hostname?: string;
  state: LeaseState;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** The name the server publishes in DNS for it, when it does. */
  fqdn?: string;
}

export interface DhcpServerUnderTest {
  readonly kind: 'kea' | 'leasehold';
  start(host: Host, config: TestServerConfig): Promise<void>;
  /** Graceful stop (SIGTERM). */
  stop(): Promise<void>;
  /** Crash: SIGKILL, nothing flushed by the server itself. */
  kill9(): Promise<void>;
  /** Stops if running, then starts again on the same host, config and lease file. */
  restart(): Promise<void>;
  leases(): Promise<ServerLease[]>;
}

export type ServerKind = DhcpServerUnderTest['kind'];

/** `LEASEHOLD_TEST_SERVER=kea|leasehold` (default leasehold) picks the server the tests run against. */
export function serverKindFromEnv(env: NodeJS.ProcessEnv = process.env): ServerKind {
  const kind = env.LEASEHOLD_TEST_SERVER ?? 'leasehold';
  if (kind !== 'kea' && kind !== 'leasehold') {
    throw new Error(`LEASEHOLD_TEST_SERVER must be "kea" or "leasehold", not "${kind}"`);
  }
  return kind;
}

export function createServer(kind: ServerKind = serverKindFromEnv(), options: TestServerOptions = {}): DhcpServerUnderTest {
  return kind === 'kea' ? new KeaServer(options) : new LeaseholdServer(options);
}
