import type { Attachment } from '../core/attachment.ts';
import type { DhcpClients } from '../core/dhcp-clients.ts';
import type { BridgeFacts, HostNetwork, NetnsSource } from '../core/host-network.ts';
import type { AttachRequest, Ipv6Mode } from '../core/requests.ts';
import type { Undo } from '../core/rollback.ts';
import type { StateStore } from '../io/state-store.ts';
import { AttachError } from './attach-error.ts';

/**
 * The steps of one attach (agent.ts runs them in this order). Each brings
 * one thing to the state the attach wants and returns how to undo what it
 * made — or nothing, when it found the thing already as wanted, so a
 * failed attach never removes what it did not make. Something there but
 * not as wanted is an AttachError that names it.
 */

/** What one attach works towards: every name and setting, decided before the first change. */
export interface AttachPlan {
  req: AttachRequest;
  /** The target's name in messages (container name, or the netns). */
  name: string;
  key: string;
  /** The target's named netns (ours for a container, the given one for a netns target). */
  netns: string;
  /** The container's init PID, when the agent names its netns. */
  pid?: number;
  hostVeth: string;
  bridge: BridgeFacts;
  mac: string;
  /** The veth pair was found made as wanted (an earlier attach of this target stopped after it): left as it is. */
  vethInPlace: boolean;
}

/**
 * The container's netns gets a name (ip netns attach) so iproute2 can reach
 * it, and so it outlives the container long enough for a release. A name
 * that points at another netns was left by a crashed agent for an earlier
 * run of this container: it is replaced.
 */
export async function ensureNetnsName(network: HostNetwork, netns: string, source: NetnsSource): Promise<Undo | undefined> {
  const state = await network.netnsNameState(netns, source);
  if (state === 'same') return undefined;
  if (state === 'other') await network.deleteNetns(netns);
  await network.nameNetns(netns, source);
  return () => network.deleteNetns(netns);
}

export async function ensureVeth(network: HostNetwork, plan: AttachPlan): Promise<Undo | undefined> {
  if (plan.vethInPlace) return undefined;
  const { req } = plan;
  const outcome = await network.createVethPair({
    bridgeNs: req.bridgeNetns,
    bridge: req.bridge,
    host: plan.hostVeth,
    targetNs: plan.netns,
    ifname: req.ifname,
    mac: plan.mac,
    mtu: plan.bridge.mtu,
  });
  // The peer's name is not in the target (checked before): the link there is a host end without it.
  if (outcome === 'exists') throw new AttachError(`link ${plan.hostVeth} already exists (left by another attach of ${plan.name}?); run agent gc`);
  return () => network.deleteLink(req.bridgeNetns, plan.hostVeth);
}

/**
 * SLAAC needs IPv6 on, RAs accepted and EUI-64 addresses (RFC 4862 §5.5;
 * addr_gen_mode 0), set before the link comes up so the first Router
 * Solicitation goes out with them. Docker turns IPv6 off in a --net none
 * container; these are per-interface, so only ours changes. The link itself
 * is brought up by the DHCP client's hook (deconfig). Nothing to undo: the
 * settings go with the interface, and lo up is what every netns wants.
 */
export async function ensureInterfaceSysctls(network: HostNetwork, plan: AttachPlan): Promise<Undo | undefined> {
  await Promise.all([network.setSysctls(plan.netns, interfaceSysctls(plan.req.ifname, plan.req.ipv6)), network.setLinkUp(plan.netns, 'lo')]);
  return undefined;
}

/** The container interface's IPv6 settings for `ipv6` (see ensureInterfaceSysctls). */
export function interfaceSysctls(ifname: string, ipv6: Ipv6Mode): Record<string, number> {
  const dev = `net.ipv6.conf.${ifname}`;
  return ipv6 === 'slaac'
    ? { [`${dev}.disable_ipv6`]: 0, [`${dev}.accept_ra`]: 1, [`${dev}.autoconf`]: 1, [`${dev}.addr_gen_mode`]: 0, [`${dev}.use_tempaddr`]: 0 }
    : { [`${dev}.disable_ipv6`]: 1 };
}

/** The record goes to disk before the client starts: a crash in between leaves a record gc can act on, never an untracked process. */
export async function ensureRecord(store: StateStore, a: Attachment): Promise<Undo | undefined> {
  await store.write(a);
  return () => store.remove(a.key);
}

/** The target's resolv.conf as it was before the hook first writes it, put back on undo and on release. */
export async function ensureResolvConfBackup(store: StateStore, a: Attachment): Promise<Undo | undefined> {
  const path = a.resolvConfPath;
  if (!path) return undefined;
  await store.backupResolvConf(a.key, path);
  return () => store.restoreResolvConf(a.key, path);
}

/** Starts the attachment's DHCP client and records it (PID and start time). */
export async function ensureClient(clients: DhcpClients, store: StateStore, a: Attachment): Promise<Undo | undefined> {
  a.client = clients.start(a, { leaseFile: store.leasePath(a.key), logFile: store.logPath(a.key) });
  const client = a.client;
  const undo = () => clients.stop(client);
  try {
    await store.write(a);
  } catch (err) {
    await undo();
    throw err;
  }
  return undo;
}
