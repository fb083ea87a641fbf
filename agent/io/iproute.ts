import { access, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import type { BridgeFacts, GlobalIpv6, HostNetwork, LinkFacts, NetnsSource, VethPairSpec } from '../core/host-network.ts';
import { CommandError, run, succeeds } from './exec.ts';

/**
 * The host network through iproute2 (and util-linux's nsenter with procps'
 * sysctl): argv calls only, never a shell. `ns` is a named netns, or
 * undefined for the agent's own namespace.
 */
const ip = (ns: string | undefined, ...args: string[]) => ['ip', ...(ns ? ['-n', ns] : []), ...args];

/** iproute2's words for "no such link" and "no such netns name": for deletes, that is done already. */
export function isNotFound(err: unknown): boolean {
  return err instanceof CommandError && /Cannot find device|No such file or directory|does not exist/.test(err.stderr);
}

/** iproute2's word for "a link of that name exists". */
export function isAlreadyThere(err: unknown): boolean {
  return err instanceof CommandError && /File exists/.test(err.stderr);
}

async function netnsExists(name: string): Promise<boolean> {
  try {
    await access(`/run/netns/${name}`);
    return true;
  } catch {
    return false;
  }
}

/** The netns inode behind a path (a /run/netns bind mount, or /proc/<pid>/ns/net), or undefined. */
async function netnsInode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch {
    return undefined;
  }
}

function sourcePath(source: NetnsSource): string {
  return 'pid' in source ? `/proc/${source.pid}/ns/net` : source.path;
}

async function linkExists(ns: string | undefined, name: string): Promise<boolean> {
  return await succeeds(ip(ns, 'link', 'show', 'dev', name));
}

interface IpLinkJson {
  ifindex: number;
  link_index?: number;
  master?: string;
  address?: string;
  mtu: number;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string }[];
}

/** One `ip -j -d addr show dev <name>`: the link, its kind, peer and addresses; undefined when there is none. */
async function showLink(ns: string | undefined, name: string): Promise<IpLinkJson | undefined> {
  let out: string;
  try {
    out = await run(ip(ns, '-j', '-d', 'addr', 'show', 'dev', name));
  } catch (err) {
    if (err instanceof CommandError) return undefined;
    throw err;
  }
  return (JSON.parse(out) as IpLinkJson[])[0];
}

export const iprouteNetwork: HostNetwork = {
  netnsExists,

  async netnsNameState(name: string, source: NetnsSource) {
    const named = await netnsInode(`/run/netns/${name}`);
    if (named === undefined) return 'absent';
    return named === (await netnsInode(sourcePath(source))) ? 'same' : 'other';
  },

  async nameNetns(name: string, source: NetnsSource) {
    if ('pid' in source) {
      await run(['ip', 'netns', 'attach', name, String(source.pid)]);
      return;
    }
    // What `ip netns add` does for a netns of its own: an empty file in
    // /run/netns with the namespace bind-mounted on it. `ip netns delete`
    // undoes it (unmount, unlink) and leaves the namespace to its owner.
    const file = `/run/netns/${name}`;
    await mkdir('/run/netns', { recursive: true });
    await writeFile(file, '', { flag: 'wx' });
    try {
      await run(['mount', '--bind', source.path, file]);
    } catch (err) {
      await unlink(file).catch(() => undefined);
      throw err;
    }
  },

  async deleteNetns(name: string) {
    if (!(await netnsExists(name))) return;
    try {
      await run(['ip', 'netns', 'delete', name]);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  },

  /** proc(5): /proc/<pid>/net/dev lists the interfaces of that process's netns. */
  async processLinkNames(pid: number) {
    const table = await readFile(`/proc/${pid}/net/dev`, 'utf8');
    return table.split('\n').slice(2).map((line) => line.split(':')[0].trim()).filter(Boolean);
  },

  linkExists,

  async linkNames(ns: string | undefined) {
    const links = JSON.parse(await run(ip(ns, '-j', 'link', 'show'))) as { ifname: string }[];
    return new Set(links.map((l) => l.ifname));
  },

  async linkFacts(ns: string | undefined, name: string): Promise<LinkFacts | undefined> {
    const link = await showLink(ns, name);
    if (!link) return undefined;
    return {
      ifindex: link.ifindex,
      peerIfindex: link.link_index,
      kind: link.linkinfo?.info_kind,
      master: link.master,
      mac: (link.address ?? '').toLowerCase(),
      ipv4: (link.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local),
    };
  },

  async bridgeFacts(ns: string | undefined, name: string): Promise<BridgeFacts | undefined> {
    const link = await showLink(ns, name);
    if (!link) return undefined;
    return { kind: link.linkinfo?.info_kind, mtu: link.mtu, ipv4: link.addr_info?.find((a) => a.family === 'inet')?.local };
  },

  async macsInUse(ns: string | undefined, bridge: string) {
    const [fdbOut, neighOut] = await Promise.all([
      run(['bridge', ...(ns ? ['-n', ns] : []), '-j', 'fdb', 'show', 'br', bridge]),
      run(ip(ns, '-j', 'neigh', 'show')),
    ]);
    const macs = new Set<string>();
    for (const e of JSON.parse(fdbOut) as { mac: string }[]) macs.add(e.mac.toLowerCase());
    for (const e of JSON.parse(neighOut) as { lladdr?: string }[]) if (e.lladdr) macs.add(e.lladdr.toLowerCase());
    return macs;
  },

  /**
   * One call: the host end on the bridge and up, the peer created directly
   * inside the target netns with its name and MAC, so there is never a
   * half-moved interface to clean up.
   */
  async createVethPair(spec: VethPairSpec) {
    try {
      await run(
        ip(spec.bridgeNs, 'link', 'add', spec.host, 'mtu', String(spec.mtu), 'master', spec.bridge, 'up', 'type', 'veth',
          'peer', 'name', spec.ifname, 'address', spec.mac, 'mtu', String(spec.mtu), 'netns', spec.targetNs),
      );
      return 'created';
    } catch (err) {
      if (isAlreadyThere(err)) return 'exists';
      throw err;
    }
  },

  async deleteLink(ns: string | undefined, name: string) {
    try {
      await run(ip(ns, 'link', 'delete', 'dev', name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  },

  async setLinkUp(ns: string, name: string) {
    await run(ip(ns, 'link', 'set', 'dev', name, 'up'));
  },

  async setSysctls(ns: string, settings: Record<string, string | number>) {
    const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
    await run(['nsenter', `--net=/run/netns/${ns}`, 'sysctl', '-q', '-w', ...args]);
  },

  async globalIpv6(ns: string, dev: string): Promise<GlobalIpv6 | undefined> {
    const out = await run(ip(ns, '-j', '-6', 'addr', 'show', 'dev', dev, 'scope', 'global'));
    const parsed = JSON.parse(out) as { addr_info?: { local: string; prefixlen: number; tentative?: boolean }[] }[];
    const a = parsed[0]?.addr_info?.[0];
    return a ? { address: a.local, prefixLen: a.prefixlen, tentative: Boolean(a.tentative) } : undefined;
  },

  async forgetNeighbours(ns: string | undefined, mac: string) {
    let neigh: { dst: string; dev: string; lladdr?: string }[];
    try {
      neigh = JSON.parse(await run(ip(ns, '-j', 'neigh', 'show'))) as typeof neigh;
    } catch {
      return; // a namespace that is gone has no entries left to forget
    }
    for (const e of neigh) {
      if (e.lladdr?.toLowerCase() === mac.toLowerCase()) await succeeds(ip(ns, 'neigh', 'del', e.dst, 'dev', e.dev));
    }
  },
};
