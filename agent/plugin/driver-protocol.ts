import { checkAppLabel } from '../core/target.ts';
import { MAC_SCHEMES, IPV6_MODES, type Ipv6Mode } from '../core/requests.ts';
import type { MacScheme } from '../core/mac.ts';

/**
 * Docker's remote network driver protocol (moby/moby libnetwork
 * docs/remote.md; field names from libnetwork drivers/remote/api/api.go),
 * as Docker 20.10 sends it, and Leasehold's answers: pure, no sockets.
 *
 * Leasehold wires a container in after Join ("adoption", agent/app/
 * docker-endpoints.ts): before Join Docker says nothing about the container
 * (CreateEndpoint carries only ids, and Join's SandboxKey does not exist
 * yet), and the stable MAC, client-id and hostname all follow from the
 * container. So CreateEndpoint makes nothing and returns no address, and
 * Join returns no interface and no gateway — a gateway without an address
 * makes Docker fail the start ("route for the gateway … could not be
 * found") — with DisableGatewayService, so libnetwork never adds its
 * docker_gwbridge (NAT on the host).
 */

export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';

export const OPTION_PREFIX = 'leasehold.';
/** The `-o` options of `docker network create -d leasehold`. */
export const NETWORK_OPTIONS = ['leasehold.bridge', 'leasehold.bridge-netns', 'leasehold.app', 'leasehold.mac-scheme', 'leasehold.ipv6', 'leasehold.worker-ip'] as const;

/** A Leasehold Docker network, as CreateNetwork's options give it. */
export interface DriverNetwork {
  networkId: string;
  bridge: string;
  bridgeNetns?: string;
  app?: string;
  macScheme: MacScheme;
  ipv6: Ipv6Mode;
  workerIp?: string;
}

/** An endpoint: one container's membership of one network (EndpointID), from CreateEndpoint to DeleteEndpoint. */
export interface DriverEndpoint {
  networkId: string;
  endpointId: string;
  /** Join's SandboxKey: the container's netns path, once joined. */
  sandboxKey?: string;
  /** The container the adoption found in that sandbox. */
  containerId?: string;
  /** A MAC the user gave (`docker run --mac-address`). */
  mac?: string;
}

export class DriverRequestError extends Error {}

function objectBody(body: unknown, call: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new DriverRequestError(`leasehold: ${call}: the request body is not a JSON object`);
  return body as Record<string, unknown>;
}

function idField(body: Record<string, unknown>, field: string, call: string): string {
  const v = body[field];
  if (typeof v !== 'string' || !/^[0-9a-f]{12,64}$/.test(v)) throw new DriverRequestError(`leasehold: ${call}: ${field} missing or not a hex id`);
  return v;
}

export function endpointIds(body: unknown, call: string): { networkId: string; endpointId: string } {
  const b = objectBody(body, call);
  return { networkId: idField(b, 'NetworkID', call), endpointId: idField(b, 'EndpointID', call) };
}

export function joinRequest(body: unknown): { networkId: string; endpointId: string; sandboxKey: string } {
  const b = objectBody(body, 'Join');
  const sandboxKey = b.SandboxKey;
  if (typeof sandboxKey !== 'string' || !sandboxKey.startsWith('/')) throw new DriverRequestError('leasehold: Join: SandboxKey missing or not an absolute path');
  return { ...endpointIds(b, 'Join'), sandboxKey };
}

/**
 * CreateNetwork: the network's settings from `-o leasehold.*`, each refusal
 * naming the option. The IPAM must be `null` (DHCP gives the addresses):
 * with null IPAM Docker sends exactly one IPv4 pool, 0.0.0.0/0 in address
 * space "null", and no IPv6 pool.
 */
export function parseCreateNetwork(body: unknown): DriverNetwork {
  const b = objectBody(body, 'CreateNetwork');
  const networkId = idField(b, 'NetworkID', 'CreateNetwork');
  const v4 = Array.isArray(b.IPv4Data) ? (b.IPv4Data as { AddressSpace?: unknown; Pool?: unknown }[]) : [];
  const v6 = Array.isArray(b.IPv6Data) ? b.IPv6Data : [];
  const nullIpam = v4.length === 1 && v4[0]!.AddressSpace === 'null' && v4[0]!.Pool === '0.0.0.0/0' && v6.length === 0;
  if (!nullIpam) {
    const got = v4.map((d) => `address space ${String(d.AddressSpace)}, pool ${String(d.Pool)}`).join('; ') || 'no IPv4 pool';
    throw new DriverRequestError(`leasehold: the network needs --ipam-driver null (DHCP gives the addresses); got IPAM ${got}`);
  }
  const options = (b.Options as Record<string, unknown> | undefined)?.['com.docker.network.generic'];
  const generic = typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : {};
  for (const key of Object.keys(generic)) {
    if (!(NETWORK_OPTIONS as readonly string[]).includes(key)) {
      throw new DriverRequestError(`leasehold: unknown option ${key} (known: ${NETWORK_OPTIONS.join(', ')})`);
    }
  }
  const text = (key: (typeof NETWORK_OPTIONS)[number]): string | undefined => {
    const v = generic[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new DriverRequestError(`leasehold: option ${key}: empty`);
    return v;
  };
  const bridge = text('leasehold.bridge');
  if (!bridge) throw new DriverRequestError('leasehold: option leasehold.bridge is required (-o leasehold.bridge=<Linux bridge>)');
  const app = text('leasehold.app');
  const appProblem = app === undefined ? undefined : checkAppLabel(app);
  if (appProblem) throw new DriverRequestError(`leasehold: option leasehold.app: ${appProblem}`);
  const choice = <T extends string>(key: (typeof NETWORK_OPTIONS)[number], choices: readonly T[], fallback: T): T => {
    const v = text(key) ?? fallback;
    if (!(choices as readonly string[]).includes(v)) throw new DriverRequestError(`leasehold: option ${key}: ${JSON.stringify(v)} is not one of ${choices.join(', ')}`);
    return v as T;
  };
  return {
    networkId,
    bridge,
    bridgeNetns: text('leasehold.bridge-netns'),
    app,
    // Stable by default: a restarted container keeps its MAC and so its address (docker-net-dhcp's #1).
    macScheme: choice('leasehold.mac-scheme', MAC_SCHEMES, 'stable'),
    ipv6: choice('leasehold.ipv6', IPV6_MODES, 'slaac'),
    workerIp: text('leasehold.worker-ip'),
  };
}

/**
 * CreateEndpoint: an address Docker gives cannot be honoured (DHCP
 * decides), so it is refused; a MAC (`docker run --mac-address`) is used
 * instead of the scheme's.
 */
export function parseCreateEndpoint(body: unknown): { networkId: string; endpointId: string; mac?: string } {
  const ids = endpointIds(body, 'CreateEndpoint');
  const iface = (body as { Interface?: { Address?: unknown; AddressIPv6?: unknown; MacAddress?: unknown } }).Interface;
  if (iface && (iface.Address || iface.AddressIPv6)) throw new DriverRequestError('leasehold: the network gives addresses by DHCP: no --ip / --ip6 (and use --ipam-driver null)');
  const mac = typeof iface?.MacAddress === 'string' && iface.MacAddress !== '' ? iface.MacAddress : undefined;
  return { ...ids, ...(mac && { mac }) };
}

/** Join's answer: no interface, no gateway, never docker_gwbridge (see the top of this file). */
export const JOIN_RESPONSE = { DisableGatewayService: true } as const;

export const ACTIVATE_RESPONSE = { Implements: ['NetworkDriver'] } as const;
export const CAPABILITIES_RESPONSE = { Scope: 'local', ConnectivityScope: 'local' } as const;

/** The one refusal shape Docker shows its user (`Error response from daemon: remote: <Err>`). */
export function errResponse(message: string): { Err: string } {
  return { Err: message };
}

/** A container id from one /proc/<pid>/cgroup line: cgroupfs (`/docker/<id>`) or systemd (`docker-<id>.scope`). */
export function containerIdFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /(?:^|\/)docker[-/]([0-9a-f]{64})(?:\.scope)?$/.exec(line.trim());
    if (m) return m[1];
  }
  return undefined;
}
