import { cniCheckProblems, cniKeyOf, toCniAttachment, type CniAttachment } from '../core/cni-attachment.ts';
import type { CniAddRequest, CniCheckRequest, CniKey, CniStatusRequest } from '../core/requests.ts';
import { cniTargetId, stateKey } from '../core/target.ts';
import type { Agent } from './agent.ts';

/**
 * The CNI plugin's operations, run by `agent watch` for agent/cni/main.ts.
 * Each CNI attachment is an ordinary attachment of kind `cni` (its record,
 * its supervised DHCP client), so an agent restart keeps it as it keeps a
 * container's.
 */

export type CniOperationResult = CniAttachment | { released: boolean } | { problems: string[] } | { attachments: CniKey[] };

export async function cniAdd(agent: Agent, req: CniAddRequest): Promise<CniAttachment> {
  const { attachment, lease } = await agent.attachCni(req);
  const host = await agent.edges.network.linkFacts(attachment.bridgeNetns, attachment.hostVeth).catch(() => undefined);
  return { ...toCniAttachment(attachment, lease), ...(host && { hostVethMac: host.mac }) };
}

/** DEL: releases what is held for the key; nothing held is success (CNI spec 1.1: DEL must tolerate missing resources). */
export async function cniDel(agent: Agent, key: CniKey): Promise<{ released: boolean }> {
  const stored = stateKey({ kind: 'cni', id: cniTargetId(key.network, key.containerId, key.ifname) });
  const unlock = await agent.store.lock(stored);
  try {
    const a = await agent.store.read(stored);
    if (!a) return { released: false };
    await agent.release(a, 'cni DEL');
    return { released: true };
  } finally {
    await unlock();
  }
}

export async function cniCheck(agent: Agent, req: CniCheckRequest): Promise<{ problems: string[] }> {
  const a = await agent.store.read(stateKey({ kind: 'cni', id: cniTargetId(req.network, req.containerId, req.ifname) }));
  if (!a) return { problems: [`the agent holds no attachment for container ${req.containerId} interface ${req.ifname} on ${req.network}`] };
  const { network, clients } = agent.edges;
  const link = (await network.netnsExists(a.netns)) ? await network.linkFacts(a.netns, a.ifname) : undefined;
  const lease = await agent.store.readLease(a.key);
  return { problems: cniCheckProblems(a, { clientAlive: clients.isRunning(a.client), link, lease }, { mac: req.mac, ips: req.ips }) };
}

/** The CNI attachments the agent holds on one network (for GC). */
export async function cniList(agent: Agent, network: string): Promise<{ attachments: CniKey[] }> {
  const { attachments } = await agent.store.list();
  const keys = attachments.map(cniKeyOf).filter((k): k is CniKey => k !== undefined && k.network === network);
  return { attachments: keys };
}

/** STATUS: can an ADD on this bridge work now? */
export async function cniStatus(agent: Agent, req: CniStatusRequest): Promise<{ problems: string[] }> {
  const { network } = agent.edges;
  if (req.bridgeNetns && !(await network.netnsExists(req.bridgeNetns))) return { problems: [`bridge netns ${req.bridgeNetns} does not exist`] };
  const bridge = await network.bridgeFacts(req.bridgeNetns, req.bridge).catch(() => undefined);
  const where = req.bridgeNetns ? ` in netns ${req.bridgeNetns}` : '';
  if (!bridge) return { problems: [`no bridge ${req.bridge}${where}`] };
  if (bridge.kind !== 'bridge') return { problems: [`${req.bridge}${where} is not a bridge`] };
  return { problems: [] };
}
