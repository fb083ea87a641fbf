import type { MacScheme } from './mac.ts';

/**
 * What the agent's operations take, as typed values: built by the CLI from
 * its arguments (cli/command-line.ts), sent as they are to a running
 * `agent watch` (control-protocol.ts), and passed to the Agent by either.
 * Paths in them are absolute: they are the CLI's, wherever the work runs.
 */

export const MAC_SCHEMES: readonly MacScheme[] = ['random', 'stable'];
export const IPV6_MODES = ['slaac', 'off'] as const;
export type Ipv6Mode = (typeof IPV6_MODES)[number];

/** A container (name, id or id prefix) or a named network namespace: exactly one of them. */
export interface TargetRef {
  container?: string;
  netns?: string;
}

export interface AttachRequest extends TargetRef {
  bridge: string;
  bridgeNetns?: string;
  ifname: string;
  mac?: string;
  macScheme: MacScheme;
  workerIp?: string;
  app?: string;
  /** App label when neither `app` nor the container's leasehold.app label gives one (default: the agent's). */
  defaultApp?: string;
  ipv6: Ipv6Mode;
  waitIpv6: boolean;
  timeoutMs: number;
  /** resolv.conf to keep for a netns target (containers use Docker's); absolute. */
  resolvConf?: string;
}

/** Settings for containers `agent watch` attaches because of their label (the bridge comes from the label). */
export type AutoAttachSettings = Omit<AttachRequest, 'container' | 'netns' | 'bridge' | 'mac' | 'resolvConf'>;

/** `inspect`: one attachment, or every one. */
export type InspectRequest = { all: true } | ({ all: false } & TargetRef);

/** `gc` takes nothing: one reconcile pass over what is recorded. */
export type GcRequest = Record<string, never>;

/** A CNI attachment: the spec's primary key (network name, CNI_CONTAINERID, CNI_IFNAME). */
export interface CniKey {
  network: string;
  containerId: string;
  ifname: string;
}

/** The CNI plugin's ADD (agent/cni/main.ts): attach the runtime's netns at `netnsPath` (CNI_NETNS) to a bridge. */
export interface CniAddRequest extends CniKey {
  /** CNI_NETNS as the runtime gave it: /proc/<pid>/ns/net, /var/run/netns/<name>, …; absolute. */
  netnsPath: string;
  bridge: string;
  bridgeNetns?: string;
  mac?: string;
  macScheme: MacScheme;
  app?: string;
  /** DHCP hostname (option 12) from CNI_ARGS K8S_POD_NAME; absent: the short CNI_CONTAINERID. An RFC 1123 label. */
  hostname?: string;
  ipv6: Ipv6Mode;
  waitIpv6: boolean;
  timeoutMs: number;
}

/** CHECK: what the runtime's prevResult says the container interface has. */
export interface CniCheckRequest extends CniKey {
  mac?: string;
  /** Addresses in CIDR form (198.18.1.23/16). */
  ips: string[];
}

/** STATUS: whether the agent could serve an ADD on this bridge now. */
export interface CniStatusRequest {
  bridge: string;
  bridgeNetns?: string;
}

/** One operation and its request, as the CLI parsed it and the daemon receives it. */
export type OperationRequest =
  | { op: 'attach'; request: AttachRequest }
  | { op: 'detach'; request: TargetRef }
  | { op: 'inspect'; request: InspectRequest }
  | { op: 'gc'; request: GcRequest }
  | { op: 'cni-add'; request: CniAddRequest }
  | { op: 'cni-del'; request: CniKey }
  | { op: 'cni-check'; request: CniCheckRequest }
  | { op: 'cni-list'; request: { network: string } }
  | { op: 'cni-status'; request: CniStatusRequest };

export type Operation = OperationRequest['op'];

/** The one-shot operations; `watch` is the daemon itself and never one of them. */
export const OPERATIONS: readonly Operation[] = ['attach', 'detach', 'inspect', 'gc', 'cni-add', 'cni-del', 'cni-check', 'cni-list', 'cni-status'];

/**
 * The CNI plugin's operations: only a running `agent watch` serves them
 * (the leases must live in the daemon's durable state), whatever Docker
 * engine the plugin's environment names.
 */
export const CNI_OPERATIONS: readonly Operation[] = ['cni-add', 'cni-del', 'cni-check', 'cni-list', 'cni-status'];

/** How a target is named in messages ("not attached: web"). */
export function targetName(ref: TargetRef): string {
  return ref.netns ?? ref.container ?? '';
}

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/**
 * The Docker engine a command talks to: --docker-socket, else
 * $DOCKER_SOCKET, else Docker's default. Part of what a request means (a
 * daemon on another engine must not serve it), so it lives here, where
 * the CLI finds it without loading the engine's code.
 */
export function dockerSocketPath(option: string | undefined, env: string | undefined): string {
  return option ?? env ?? DEFAULT_DOCKER_SOCKET;
}
