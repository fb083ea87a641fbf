import type { Attachment, RecordedLease } from './attachment.ts';
import { cniTargetParts } from './target.ts';
import type { CniKey } from './requests.ts';

/**
 * What the agent answers the CNI plugin's operations with: plain data the
 * plugin turns into the spec's result JSON (agent/cni/cni-protocol.ts).
 * Pure.
 */

/** A CNI ADD's outcome: the two veth ends and the lease the container's DHCP client holds. */
export interface CniAttachment extends Pick<RecordedLease, 'ip' | 'prefixLen' | 'router' | 'dns' | 'domain' | 'search'> {
  hostVeth: string;
  /** The host end's MAC, when the agent could read it. */
  hostVethMac?: string;
  ifname: string;
  mac: string;
  /** The agent's name for the runtime's netns (`lhn-…`). */
  netns: string;
}

export function toCniAttachment(a: Attachment, lease: RecordedLease): CniAttachment {
  return {
    hostVeth: a.hostVeth,
    ifname: a.ifname,
    mac: a.mac,
    netns: a.netns,
    ip: lease.ip,
    prefixLen: lease.prefixLen,
    router: lease.router,
    dns: lease.dns,
    domain: lease.domain,
    search: lease.search,
  };
}

/** The CNI key of a recorded attachment, or undefined for a container or netns one. */
export function cniKeyOf(a: Attachment): CniKey | undefined {
  return a.kind === 'cni' ? cniTargetParts(a.targetId) : undefined;
}

/** The facts CHECK compares with the runtime's prevResult. */
export interface CniCheckFacts {
  clientAlive: boolean;
  /** The container interface as found in the netns; undefined when it is not there. */
  link?: { mac: string; ipv4: string[] };
  lease?: RecordedLease;
}

/**
 * CHECK (CNI spec 1.1 §"CHECK"): what the plugin made and listed must still
 * be there as the prevResult says. Each problem is one short phrase.
 */
export function cniCheckProblems(a: Attachment, facts: CniCheckFacts, expect: { mac?: string; ips: string[] }): string[] {
  const problems: string[] = [];
  if (!facts.link) {
    problems.push(`${a.ifname} is missing in the container`);
  } else {
    if (expect.mac && facts.link.mac !== expect.mac.toLowerCase()) problems.push(`${a.ifname} has MAC ${facts.link.mac}, not ${expect.mac}`);
    for (const cidr of expect.ips) {
      const address = cidr.split('/')[0]!;
      if (!address.includes(':') && !facts.link.ipv4.includes(address)) problems.push(`${a.ifname} has no address ${cidr}`);
    }
  }
  if (!facts.clientAlive) problems.push('DHCP client not running (the agent restarts it)');
  if (!facts.lease) problems.push('no DHCP lease recorded');
  return problems;
}
