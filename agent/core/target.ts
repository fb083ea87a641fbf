import { createHash } from 'node:crypto';
import { isLdhLabel } from '../../lib/dns/ldh-name.ts';

/**
 * What an attachment is for: a Docker container (run with `--net none`) or a
 * named network namespace (`--netns`, for use and tests without Docker).
 * Every derived name — state key, host-side veth, the container's named
 * netns, DHCP hostname and client-id — is a pure function of the target, so
 * a restarted agent finds the same things again.
 */
export type TargetKind = 'docker' | 'netns' | 'cni';

export interface TargetIdentity {
  kind: TargetKind;
  /** Full container id, the netns name, or for a CNI attachment its key (cniTargetId). */
  id: string;
}

/**
 * A CNI attachment is known by (network name, CNI_CONTAINERID, CNI_IFNAME),
 * the spec's primary key (CNI spec 1.1 §"Container runtime"): its target
 * id joins the three, so every derived name follows from them.
 */
export function cniTargetId(network: string, containerId: string, ifname: string): string {
  return `${network}/${containerId}/${ifname}`;
}

/** The parts of a CNI target id (the network name has no '/', the container id none either). */
export function cniTargetParts(id: string): { network: string; containerId: string; ifname: string } {
  const [network = '', containerId = '', ...rest] = id.split('/');
  return { network, containerId, ifname: rest.join('/') };
}

// Linux interface names: at most IFNAMSIZ - 1 = 15 characters.
const IFNAME_MAX = 15;

/** Docker shows the first 12 hex digits of an id; so do we. */
export function shortId(target: TargetIdentity): string {
  if (target.kind === 'cni') return cniTargetParts(target.id).containerId.slice(0, 12);
  return target.kind === 'docker' ? target.id.slice(0, 12) : target.id;
}

/** File name of the attachment's state record under the run directory. */
export function stateKey(target: TargetIdentity): string {
  if (target.kind === 'cni') return `cni-${digest(`cni\0${target.id}`).slice(0, 12)}`;
  return target.kind === 'docker' ? `docker-${target.id.slice(0, 12)}` : `netns-${target.id}`;
}

/**
 * Host-side veth: `lh` + 12 hex digits. For a container these are its short
 * id, so `ip link` on the worker says which container a port belongs to; for
 * a netns target (whose name may be long or not hex) a hash of the name.
 */
export function hostVethName(target: TargetIdentity): string {
  const tail = target.kind === 'docker' ? target.id.slice(0, 12) : digest(`${target.kind}\0${target.id}`).slice(0, 12);
  const name = `lh${tail}`;
  if (name.length > IFNAME_MAX) throw new Error(`internal: veth name ${name} is too long`);
  return name;
}

/**
 * Named netns (`ip netns attach`) for a container, so iproute2 can address
 * it, and so it outlives the container's last process long enough for the
 * DHCP client to send its DHCPRELEASE after the container died.
 */
export function containerNetnsName(target: TargetIdentity): string {
  // A CNI runtime's netns (CNI_NETNS, any path) gets a name of ours the same way, by a bind mount.
  if (target.kind === 'cni') return `lhn-${digest(`cni\0${target.id}`).slice(0, 12)}`;
  return target.kind === 'docker' ? `lhc-${target.id.slice(0, 12)}` : target.id;
}

/** DHCP hostname (option 12): the short container id, an RFC 1123 label. */
export function dhcpHostname(target: TargetIdentity): string {
  const label = shortId(target)
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return label || `h${digest(target.id).slice(0, 11)}`;
}

/** Client FQDN sent in option 81: `<hostname>.<app>` (the server adds its domain). */
export function clientFqdn(hostname: string, app: string): string {
  return `${hostname}.${app}`;
}

/**
 * Client identifier (option 61) as hex: type 0 (RFC 2132 §9.14: not a
 * hardware address) followed by `leasehold:<short id>`. It depends only on
 * the container, so a client restarted with another MAC keeps its binding.
 */
export function clientIdHex(target: TargetIdentity): string {
  // Two interfaces of one CNI container on one segment must not share a
  // client-id (RFC 2132 §9.14: unique in the subnet): the interface joins it.
  const tail = target.kind === 'cni' ? `${shortId(target)}/${cniTargetParts(target.id).ifname}` : shortId(target);
  return '00' + Buffer.from(`leasehold:${tail}`, 'ascii').toString('hex');
}

/** RFC 1123 label rules (ldh-name.ts, as the server checks them) for an app name given by flag or label. */
export function checkAppLabel(app: string): string | undefined {
  if (!isLdhLabel(app)) {
    return `app ${JSON.stringify(app)} is not a DNS label (letters, digits and inner hyphens, at most 63)`;
  }
  return undefined;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
