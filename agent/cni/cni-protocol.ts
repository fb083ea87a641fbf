import { isAbsolute } from 'node:path';
import { isLdhLabel } from '../../lib/dns/ldh-name.ts';
import type { CniAttachment } from '../core/cni-attachment.ts';
import type { MacScheme } from '../core/mac.ts';
import { MAC_SCHEMES, IPV6_MODES, type CniAddRequest, type CniKey, type Ipv6Mode } from '../core/requests.ts';

/**
 * The CNI side of the `leasehold` plugin, as pure functions: the
 * environment and the stdin config checked (each problem names the variable
 * or key), the version negotiated, and the spec's result and error JSON
 * built (CNI spec 1.1.0, https://github.com/containernetworking/cni/blob/spec-v1.1.0/SPEC.md).
 * agent/cni/main.ts does the I/O.
 */

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';
export const DEFAULT_AGENT_RUN_DIR = '/run/leasehold/agent';
export const DEFAULT_TIMEOUT_SECONDS = 30;

/** The spec's well-known error codes (§"Error"); 100+ are ours. */
export const CNI_ERRORS = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  /** The agent could not attach, or CHECK found the attachment not as the runtime recorded it. */
  attachFailed: 100,
} as const;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

/** A failure the plugin reports as the spec's error object. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
  }
}

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorJson(err: CniError, cniVersion: string): CniErrorJson {
  return { cniVersion, code: err.code, msg: err.message, ...(err.details !== undefined && { details: err.details }) };
}

// ---------------------------------------------------------------------------
// Environment (§"Parameters")

export interface CniEnvironment {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args: Record<string, string>;
}

/** Which variables each command needs (as libcni's skel requires them; CNI_PATH is not used by this plugin). */
const REQUIRED: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  GC: [],
  STATUS: [],
  VERSION: [],
};

/** The spec's rule for container ids and network names: an alphanumeric, then alphanumerics, `_`, `.` or `-`. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function parseEnvironment(env: Record<string, string | undefined>): CniEnvironment {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CNI_ERRORS.invalidEnvironment, 'CNI_COMMAND is not set');
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CNI_ERRORS.invalidEnvironment, `CNI_COMMAND ${JSON.stringify(command)} is not one of ${COMMANDS.join(', ')}`);
  }
  const cmd = command as CniCommand;
  const missing = REQUIRED[cmd].filter((name) => !env[name]);
  if (missing.length > 0) throw new CniError(CNI_ERRORS.invalidEnvironment, `${cmd} needs ${missing.join(', ')}: not set`);
  const containerId = env.CNI_CONTAINERID || undefined;
  if (containerId !== undefined && !ID_PATTERN.test(containerId)) {
    throw new CniError(CNI_ERRORS.invalidEnvironment, `CNI_CONTAINERID ${JSON.stringify(containerId)}: must start with a letter or digit, then letters, digits, _ . -`);
  }
  const ifname = env.CNI_IFNAME || undefined;
  if (ifname !== undefined) {
    const problem = ifnameProblem(ifname);
    if (problem) throw new CniError(CNI_ERRORS.invalidEnvironment, `CNI_IFNAME ${JSON.stringify(ifname)}: ${problem}`);
  }
  const netns = env.CNI_NETNS || undefined;
  if (netns !== undefined && !isAbsolute(netns)) throw new CniError(CNI_ERRORS.invalidEnvironment, `CNI_NETNS ${JSON.stringify(netns)}: not an absolute path`);
  return { command: cmd, containerId, netns, ifname, args: parseCniArgs(env.CNI_ARGS ?? '') };
}

/** Linux interface name rules (dev_valid_name): 1–15 bytes, not . or .., no / : or white space. */
function ifnameProblem(name: string): string | undefined {
  if (name.length > 15) return 'longer than 15 characters';
  if (name === '.' || name === '..') return 'not a valid interface name';
  if (/[/:\s]/.test(name)) return 'contains / : or white space';
  return undefined;
}

/** CNI_ARGS: `K=V;K=V` (§"Parameters"); a pair without `=` is an error. */
export function parseCniArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const i = pair.indexOf('=');
    if (i <= 0) throw new CniError(CNI_ERRORS.invalidEnvironment, `CNI_ARGS: ${JSON.stringify(pair)} is not KEY=VALUE`);
    args[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return args;
}

/** The kubelet's own limit for a pod's hostname: one DNS label (RFC 1123 §2.1). */
const POD_HOSTNAME_MAX = 63;

/** What `podIdentity` made of CNI_ARGS. */
export interface PodIdentity {
  /** The DHCP hostname; absent when the runtime gave no usable pod name. */
  hostname?: string;
  /** The app (the middle of the FQDN). */
  namespace?: string;
  /** Why a pod name given was not used as the hostname, for the runtime's log (stderr). */
  note?: string;
}

/**
 * What a Kubernetes runtime says about the pod in CNI_ARGS (containerd's
 * and CRI-O's CRI plugins pass K8S_POD_NAMESPACE, K8S_POD_NAME,
 * K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID). The pod name becomes the DHCP
 * hostname and the namespace the app, so the pod is published in DNS as
 * `<pod>.<namespace>.<domain>` instead of under the sandbox's random id.
 *
 * Kubernetes allows any RFC 1123 subdomain as a pod name (dots, up to 253),
 * but the hostname is one label. A name longer than 63 is cut to 63 with
 * trailing hyphens trimmed, as the kubelet does for the pod's own hostname.
 * A name with dots (or anything else not a label) is not mangled into a
 * label that could be another pod's name; the pod is published under its
 * sandbox id, as without Kubernetes, and a note says why — refusing the ADD
 * would keep a legal pod from starting over its name. A namespace is always
 * an RFC 1123 label in Kubernetes, so one that is not did not come from it:
 * refused, naming the arg.
 */
export function podIdentity(args: Record<string, string>): PodIdentity {
  const identity: PodIdentity = {};
  const namespace = args.K8S_POD_NAMESPACE;
  if (namespace !== undefined) {
    if (!isLdhLabel(namespace)) {
      throw new CniError(CNI_ERRORS.invalidEnvironment, `CNI_ARGS K8S_POD_NAMESPACE ${JSON.stringify(namespace)}: not a DNS label (letters, digits and inner hyphens, at most 63)`);
    }
    identity.namespace = namespace.toLowerCase();
  }
  const podName = args.K8S_POD_NAME;
  if (podName !== undefined && podName !== '') {
    const hostname = podName.length > POD_HOSTNAME_MAX ? podName.slice(0, POD_HOSTNAME_MAX).replace(/-+$/, '') : podName;
    if (isLdhLabel(hostname)) identity.hostname = hostname.toLowerCase();
    else identity.note = `CNI_ARGS K8S_POD_NAME ${JSON.stringify(podName)} is not one DNS label: the pod is published under its sandbox id`;
  }
  return identity;
}

// ---------------------------------------------------------------------------
// Config (§"Network configuration", one plugin object as the runtime passes it)

export interface LeaseholdCniConfig {
  cniVersion: string;
  name: string;
  bridge: string;
  bridgeNetns?: string;
  app?: string;
  macScheme: MacScheme;
  ipv6: Ipv6Mode;
  waitIpv6: boolean;
  timeoutMs: number;
  agentRunDir: string;
  /** runtimeConfig.mac, when the runtime passes the `mac` capability. */
  mac?: string;
  prevResult?: unknown;
  validAttachments?: { containerID: string; ifname: string }[];
}

/** Keys a runtime adds to a plugin's config; accepted whatever this plugin does with them. */
const RUNTIME_KEYS = new Set(['cniVersion', 'name', 'type', 'runtimeConfig', 'args', 'prevResult', 'capabilities', 'dns', 'cniVersions', 'disableCheck', 'disableGC']);
const PLUGIN_KEYS = new Set(['bridge', 'bridgeNetns', 'app', 'macScheme', 'ipv6', 'waitIpv6', 'timeoutSeconds', 'agentRunDir']);

/** The config's cniVersion, if it has a usable one (for the error JSON of a config that is otherwise bad). */
export function configVersion(value: unknown): string {
  const v = (value as { cniVersion?: unknown } | null)?.cniVersion;
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v) ? v : LATEST_VERSION;
}

export function parseStdin(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CniError(CNI_ERRORS.decodeFailure, `the network configuration on stdin is not JSON: ${(err as Error).message}`);
  }
}

export function parseConfig(value: unknown): LeaseholdCniConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CniError(CNI_ERRORS.decodeFailure, 'the network configuration is not a JSON object');
  const c = value as Record<string, unknown>;
  const bad = (key: string, problem: string) => new CniError(CNI_ERRORS.invalidConfig, `${key}: ${problem}`);
  if (typeof c.cniVersion !== 'string') throw bad('cniVersion', 'missing or not a string');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(c.cniVersion)) {
    throw new CniError(CNI_ERRORS.incompatibleVersion, `cniVersion ${c.cniVersion} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (typeof c.name !== 'string' || !ID_PATTERN.test(c.name)) throw bad('name', 'missing, or not letters, digits, _ . - starting with a letter or digit');
  if (c.ipam !== undefined) {
    throw new CniError(CNI_ERRORS.unsupportedField, 'ipam: leasehold gets its address by DHCP itself and takes no IPAM plugin');
  }
  for (const key of Object.keys(c)) {
    if (!RUNTIME_KEYS.has(key) && !PLUGIN_KEYS.has(key) && !key.startsWith('cni.dev/')) {
      throw new CniError(CNI_ERRORS.unsupportedField, `${key}: not a leasehold plugin key (value ${JSON.stringify(c[key])}; known: ${[...PLUGIN_KEYS].join(', ')})`);
    }
  }
  const optionalString = (key: string): string | undefined => {
    if (c[key] === undefined) return undefined;
    if (typeof c[key] !== 'string' || c[key] === '') throw bad(key, 'not a non-empty string');
    return c[key] as string;
  };
  const bridge = optionalString('bridge');
  if (!bridge) throw bad('bridge', 'missing (the Linux bridge the container joins)');
  const choice = <T extends string>(key: string, choices: readonly T[], fallback: T): T => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) throw bad(key, `${JSON.stringify(v)} is not one of ${choices.join(', ')}`);
    return v as T;
  };
  if (c.waitIpv6 !== undefined && typeof c.waitIpv6 !== 'boolean') throw bad('waitIpv6', 'not a boolean');
  const seconds = c.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) throw bad('timeoutSeconds', 'not a positive number');
  const agentRunDir = optionalString('agentRunDir') ?? DEFAULT_AGENT_RUN_DIR;
  if (!isAbsolute(agentRunDir)) throw bad('agentRunDir', 'not an absolute path');
  const runtimeMac = (c.runtimeConfig as { mac?: unknown } | undefined)?.mac;
  if (runtimeMac !== undefined && typeof runtimeMac !== 'string') throw bad('runtimeConfig.mac', 'not a string');
  const valid = c['cni.dev/valid-attachments'];
  if (valid !== undefined && !(Array.isArray(valid) && valid.every((v) => typeof v?.containerID === 'string' && typeof v?.ifname === 'string'))) {
    throw bad('cni.dev/valid-attachments', 'not a list of {containerID, ifname}');
  }
  return {
    cniVersion: c.cniVersion,
    name: c.name,
    bridge,
    bridgeNetns: optionalString('bridgeNetns'),
    app: optionalString('app'),
    macScheme: choice('macScheme', MAC_SCHEMES, 'stable'),
    ipv6: choice('ipv6', IPV6_MODES, 'slaac'),
    waitIpv6: (c.waitIpv6 as boolean | undefined) ?? false,
    timeoutMs: seconds * 1000,
    agentRunDir,
    mac: runtimeMac as string | undefined,
    prevResult: c.prevResult,
    validAttachments: valid as LeaseholdCniConfig['validAttachments'],
  };
}

/** Whether `version` is at least `min` (dotted numbers). */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/** Commands newer than some config versions: CHECK came with 0.4.0, GC and STATUS with 1.1.0 (skel refuses them below). */
export function checkCommandVersion(command: CniCommand, version: string): void {
  const min = command === 'CHECK' ? '0.4.0' : command === 'GC' || command === 'STATUS' ? '1.1.0' : undefined;
  if (min && !versionAtLeast(version, min)) {
    throw new CniError(CNI_ERRORS.incompatibleVersion, `config version ${version} does not allow ${command} (needs ${min} or later)`);
  }
}

// ---------------------------------------------------------------------------
// Requests to the agent, results from it

export function cniKey(config: LeaseholdCniConfig, env: CniEnvironment): CniKey {
  return { network: config.name, containerId: env.containerId!, ifname: env.ifname! };
}

/** ADD for the agent. A pod's namespace is its app unless the config names one (the config is the operator's choice). */
export function addRequest(config: LeaseholdCniConfig, env: CniEnvironment, pod: PodIdentity = podIdentity(env.args)): CniAddRequest {
  return {
    ...cniKey(config, env),
    netnsPath: env.netns!,
    bridge: config.bridge,
    bridgeNetns: config.bridgeNetns,
    mac: config.mac,
    macScheme: config.macScheme,
    app: config.app ?? pod.namespace,
    hostname: pod.hostname,
    ipv6: config.ipv6,
    waitIpv6: config.waitIpv6,
    timeoutMs: config.timeoutMs,
  };
}

export function versionResult(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/**
 * ADD's result (§"Success"), in the config's version: the host veth, then
 * the container's interface (the one `ips[].interface` points at), the
 * DHCP lease's address and router, a default route through the router, DNS
 * from the lease. Versions before 1.0.0 also tag each address with its
 * family (`version: "4"`).
 */
export function addResult(a: CniAttachment, sandbox: string, cniVersion: string): Record<string, unknown> {
  const legacy = !versionAtLeast(cniVersion, '1.0.0');
  return {
    cniVersion,
    interfaces: [
      { name: a.hostVeth, ...(a.hostVethMac && { mac: a.hostVethMac }) },
      { name: a.ifname, mac: a.mac, sandbox },
    ],
    ips: [{ ...(legacy && { version: '4' }), address: `${a.ip}/${a.prefixLen}`, ...(a.router && { gateway: a.router }), interface: 1 }],
    routes: a.router ? [{ dst: '0.0.0.0/0', gw: a.router }] : [],
    dns: {
      ...(a.dns.length > 0 && { nameservers: a.dns }),
      ...(a.domain && { domain: a.domain }),
      ...(a.search.length > 0 && { search: a.search }),
    },
  };
}

/** CHECK's expectation from prevResult: the container interface's MAC and the addresses on it. */
export function checkExpectation(prevResult: unknown, ifname: string): { mac?: string; ips: string[] } {
  if (typeof prevResult !== 'object' || prevResult === null) throw new CniError(CNI_ERRORS.invalidConfig, 'prevResult: missing (CHECK needs the ADD result)');
  const r = prevResult as { interfaces?: { name?: unknown; mac?: unknown; sandbox?: unknown }[]; ips?: { address?: unknown; interface?: unknown }[] };
  const interfaces = Array.isArray(r.interfaces) ? r.interfaces : [];
  const index = interfaces.findIndex((i) => i?.name === ifname && typeof i.sandbox === 'string');
  const mac = index >= 0 && typeof interfaces[index]!.mac === 'string' ? (interfaces[index]!.mac as string) : undefined;
  const ips = (Array.isArray(r.ips) ? r.ips : [])
    .filter((ip) => typeof ip?.address === 'string' && (ip.interface === undefined || ip.interface === index))
    .map((ip) => ip.address as string);
  return { mac, ips };
}

/** GC: the agent's attachments on this network that the runtime no longer lists. */
export function staleAttachments(held: readonly CniKey[], valid: readonly { containerID: string; ifname: string }[]): CniKey[] {
  const keep = new Set(valid.map((v) => `${v.containerID}\0${v.ifname}`));
  return held.filter((k) => !keep.has(`${k.containerId}\0${k.ifname}`));
}
