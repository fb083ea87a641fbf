import { access, readFile } from 'node:fs/promises';
import { run, succeeds } from './exec.ts';

/**
 * The agent's view of links, namespaces and sysctls, all through iproute2
 * (and procps' sysctl under nsenter). `ns` is a named netns, or undefined for
 * the agent's own namespace.
 */
const ip = (ns: string | undefined, ...args: string[]) => ['ip', ...(ns ? ['-n', ns] : []), ...args];

export async function netnsExists(name: string): Promise<boolean> {
  try {
    await access(`/run/netns/${name}`);
    return true;
  } catch {
    return false;
  }
}

/** Names the netns of process `pid` (ip netns attach). */
export async function attachNetns(name: string, pid: number): Promise<void> {
  await run(['ip', 'netns', 'attach', name, String(pid)]);
}

/** Interface names in the netns of process `pid`, without naming it (proc(5), /proc/<pid>/net/dev). */
export async function linksOfProcess(pid: number): Promise<string[]> {
  const table = await readFile(`/proc/${pid}/net/dev`, 'utf8');
  return table.split('\n').slice(2).map((line) => line.split(':')[0].trim()).filter(Boolean);
}

export async function deleteNetns(name: string): Promise<void> {
  if (await netnsExists(name)) await run(['ip', 'netns', 'delete', name]);
}

export async function linkExists(ns: string | undefined, name: string): Promise<boolean> {
  return await succeeds(ip(ns, 'link', 'show', 'dev', name));
}

/** Names of every link in a namespace (one `ip` call). */
export async function linkNames(ns: string | undefined): Promise<Set<string>> {
  const links = JSON.parse(await run(ip(ns, '-j', 'link', 'show'))) as { ifname: string }[];
  return new Set(links.map((l) => l.ifname));
}

/** What an attach needs to know of its bridge, from one `ip` call. */
export interface BridgeFacts {
  kind: string | undefined;
  mtu: number;
  /** Its first IPv4 address (the MAC scheme's worker address). */
  ipv4: string | undefined;
}

export async function bridgeFacts(ns: string | undefined, name: string): Promise<BridgeFacts | undefined> {
  let out: string;
  try {
    out = await run(ip(ns, '-j', '-d', 'addr', 'show', 'dev', name));
  } catch {
    return undefined;
  }
  const link = (JSON.parse(out) as { mtu: number; linkinfo?: { info_kind?: string }; addr_info?: { family: string; local: string }[] }[])[0];
  if (!link) return undefined;
  return { kind: link.linkinfo?.info_kind, mtu: link.mtu, ipv4: link.addr_info?.find((a) => a.family === 'inet')?.local };
}

export async function globalIpv6(
  ns: string,
  dev: string,
): Promise<{ address: string; prefixLen: number; tentative: boolean } | undefined> {
  const out = await run(ip(ns, '-j', '-6', 'addr', 'show', 'dev', dev, 'scope', 'global'));
  const parsed = JSON.parse(out) as { addr_info?: { local: string; prefixlen: number; tentative?: boolean }[] }[];
  const a = parsed[0]?.addr_info?.[0];
  return a ? { address: a.local, prefixLen: a.prefixlen, tentative: Boolean(a.tentative) } : undefined;
}

/** MACs the bridge has learned and the neighbour table knows, for the clash check. */
export async function macsInUse(ns: string | undefined, bridge: string): Promise<Set<string>> {
  const [fdbOut, neighOut] = await Promise.all([
    run(['bridge', ...(ns ? ['-n', ns] : []), '-j', 'fdb', 'show', 'br', bridge]),
    run(ip(ns, '-j', 'neigh', 'show')),
  ]);
  const macs = new Set<string>();
  for (const e of JSON.parse(fdbOut) as { mac: string }[]) macs.add(e.mac.toLowerCase());
  for (const e of JSON.parse(neighOut) as { lladdr?: string }[]) if (e.lladdr) macs.add(e.lladdr.toLowerCase());
  return macs;
}

/**
 * Deletes the neighbour entries (IPv4 and IPv6) in `ns` whose link-layer
 * address is `mac`. Best effort, like the rest of a release: a namespace
 * that is gone has no entries left to forget.
 */
export async function forgetNeighbours(ns: string | undefined, mac: string): Promise<void> {
  let neigh: { dst: string; dev: string; lladdr?: string }[];
  try {
    neigh = JSON.parse(await run(ip(ns, '-j', 'neigh', 'show'))) as typeof neigh;
  } catch {
    return;
  }
  for (const e of neigh) {
    if (e.lladdr?.toLowerCase() === mac.toLowerCase()) await succeeds(ip(ns, 'neigh', 'del', e.dst, 'dev', e.dev));
  }
}

/**
 * One veth pair in one call: host end `host` on `bridge` in `bridgeNs`, the
 * peer created directly inside `targetNs` as `ifname` with `mac`, so there is
 * never a half-moved interface to clean up.
 */
export async function createVethPair(opts: {
  bridgeNs: string | undefined;
  bridge: string;
  host: string;
  targetNs: string;
  ifname: string;
  mac: string;
  mtu: number;
}): Promise<void> {
  // Host end created on the bridge and up in the same call.
  await run(
    ip(opts.bridgeNs, 'link', 'add', opts.host, 'mtu', String(opts.mtu), 'master', opts.bridge, 'up', 'type', 'veth',
      'peer', 'name', opts.ifname, 'address', opts.mac, 'mtu', String(opts.mtu), 'netns', opts.targetNs),
  );
}

export async function deleteLink(ns: string | undefined, name: string): Promise<void> {
  if (await linkExists(ns, name)) await run(ip(ns, 'link', 'delete', 'dev', name));
}

export async function setLinkUp(ns: string, name: string): Promise<void> {
  await run(ip(ns, 'link', 'set', 'dev', name, 'up'));
}

/** sysctls inside a named netns: /proc/sys/net belongs to the opener's netns. */
export async function sysctlIn(ns: string, settings: Record<string, string | number>): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  await run(['nsenter', `--net=/run/netns/${ns}`, 'sysctl', '-q', '-w', ...args]);
}
