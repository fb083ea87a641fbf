import { bucketOf } from '../../lib/dhcp4/load-balance-hash.ts';
import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';

/**
 * Whether this server answers a request when several share one lease
 * database (RFC 3074 load balancing). Pure: the cluster service supplies
 * the view, the DHCPv4 edge asks before handing the request to the engine.
 */

export interface LoadBalanceView {
  /** Cut off from the database (or its clock): answer nothing. */
  fenced: boolean;
  servesBucket(bucket: number): boolean;
  /** RFC 3074 §3 service delay: answer any client whose `secs` reached this; 0 = off. */
  loadBalanceMaxSecs: number;
  /** Our table says we sent the last ACK for this address (a unicast RENEW can only have reached us if addressed to us). */
  grantedByUs(ip: string): boolean;
}

export type LoadBalanceDecision =
  | { answer: true; why: 'server-chosen' | 'own-bucket' | 'service-delay' | 'renewal-of-ours' | 'unhashable' }
  | { answer: false; reason: 'fenced' | 'other-server' };

const ZERO = '0.0.0.0';

export function shouldAnswer(req: Dhcp4Message, view: LoadBalanceView): LoadBalanceDecision {
  if (view.fenced) return { answer: false, reason: 'fenced' };
  const type = req.options.get(Opt.MessageType);
  // The client named a server (SELECTING REQUEST, DECLINE, RELEASE carry
  // option 54, RFC 2131 §4.3.2/§4.3.3/§4.3.4): the engine's server
  // identifier check decides, not the bucket.
  if (type === Dhcp4MessageType.Decline || type === Dhcp4MessageType.Release) return { answer: true, why: 'server-chosen' };
  if (type === Dhcp4MessageType.Request && req.options.get(Opt.ServerId) !== undefined) return { answer: true, why: 'server-chosen' };

  const renewing = type === Dhcp4MessageType.Request && req.ciaddr !== ZERO;
  if (renewing && view.grantedByUs(req.ciaddr)) return { answer: true, why: 'renewal-of-ours' };
  const bucket = bucketOf(req);
  // No identity to hash: behave as a single server (the database still arbitrates).
  if (bucket === undefined) return { answer: true, why: 'unhashable' };
  if (view.servesBucket(bucket)) return { answer: true, why: 'own-bucket' };
  // RFC 3074 §3: a client that has waited this long gets an answer from anyone.
  if (view.loadBalanceMaxSecs > 0 && req.secs >= view.loadBalanceMaxSecs) return { answer: true, why: 'service-delay' };
  return { answer: false, reason: 'other-server' };
}
