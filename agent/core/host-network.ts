/**
 * The agent's view of this machine's network: named namespaces, links,
 * neighbour tables and per-interface sysctls, in our own types. The real
 * one is iproute2 (io/iproute.ts); the unit tests use an in-memory fake,
 * which is how attach's rollback and idempotence are tested without root.
 * `ns` is a named netns, or undefined for the agent's own.
 *
 * Creating calls report "already there" instead of failing and deleting
 * calls treat "not there" as done: every attach and release step is then
 * safe to repeat (containernetworking/plugins' rule).
 */
export interface HostNetwork {
  netnsExists(name: string): Promise<boolean>;
  /** Whether the netns name `name` refers to the netns of `source`: absent, that one, or another. */
  netnsNameState(name: string, source: NetnsSource): Promise<'absent' | 'same' | 'other'>;
  /** Names the netns of `source` (ip netns attach for a process; a bind mount, as ip netns add makes, for a path). */
  nameNetns(name: string, source: NetnsSource): Promise<void>;
  /** Removes a netns name; one that is not there is done. */
  deleteNetns(name: string): Promise<void>;
  /** Interface names in the netns of process `pid`, without naming it. */
  processLinkNames(pid: number): Promise<string[]>;
  linkExists(ns: string | undefined, name: string): Promise<boolean>;
  /** Every link name in a namespace (one look). */
  linkNames(ns: string | undefined): Promise<Set<string>>;
  /** What a link is, for comparing it with what an attach wants; undefined when there is none. */
  linkFacts(ns: string | undefined, name: string): Promise<LinkFacts | undefined>;
  bridgeFacts(ns: string | undefined, name: string): Promise<BridgeFacts | undefined>;
  /** MACs the bridge has learned and the neighbour table knows. */
  macsInUse(ns: string | undefined, bridge: string): Promise<Set<string>>;
  /** One veth pair, the peer made directly inside the target netns: 'exists' when a link of the host end's name is there already. */
  createVethPair(spec: VethPairSpec): Promise<'created' | 'exists'>;
  /** Deletes a link; one that is not there is done. */
  deleteLink(ns: string | undefined, name: string): Promise<void>;
  setLinkUp(ns: string, name: string): Promise<void>;
  /** sysctls as seen from inside a named netns (net.* belongs to the opener's netns). */
  setSysctls(ns: string, settings: Record<string, string | number>): Promise<void>;
  globalIpv6(ns: string, dev: string): Promise<GlobalIpv6 | undefined>;
  /** Forgets the neighbour entries (IPv4 and IPv6) whose link-layer address is `mac`; best effort. */
  forgetNeighbours(ns: string | undefined, mac: string): Promise<void>;
}

/** A network namespace not named yet: a process's (a container's init), or a path a runtime gave (CNI_NETNS). */
export type NetnsSource = { pid: number } | { path: string };

export interface BridgeFacts {
  kind: string | undefined;
  mtu: number;
  /** Its first IPv4 address (the MAC scheme's worker address). */
  ipv4: string | undefined;
}

export interface LinkFacts {
  ifindex: number;
  /** A veth's peer's ifindex (in the peer's namespace). */
  peerIfindex?: number;
  kind?: string;
  /** The bridge it is a port of. */
  master?: string;
  mac: string;
  ipv4: string[];
}

export interface VethPairSpec {
  bridgeNs: string | undefined;
  bridge: string;
  host: string;
  targetNs: string;
  ifname: string;
  mac: string;
  mtu: number;
}

export interface GlobalIpv6 {
  address: string;
  prefixLen: number;
  tentative: boolean;
}

/**
 * Whether `host` (in the bridge's namespace) and `peer` (in the target's)
 * are the two ends of one veth pair, the host end a port of `bridge`: each
 * end names the other's ifindex.
 */
export function isVethPairOn(host: LinkFacts | undefined, peer: LinkFacts | undefined, bridge: string): boolean {
  return (
    host !== undefined &&
    peer !== undefined &&
    host.kind === 'veth' &&
    peer.kind === 'veth' &&
    host.master === bridge &&
    host.peerIfindex === peer.ifindex &&
    peer.peerIfindex === host.ifindex
  );
}
