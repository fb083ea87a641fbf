import { DecodeError } from '../../lib/wire/decode-error.ts';
import { hopLimitProblem, type ReceivedNdMessage } from '../../lib/ndp/nd-hop-limit.ts';
import { ROUTER_SOLICIT_HEADER_LENGTH, ROUTER_SOLICITATION, routerSolicit, type RouterSolicit } from '../../lib/ndp/router-solicit.ts';
import { isUnspecifiedAddress } from '../../lib/ndp/unspecified-address.ts';

/** Why a solicitation was dropped; each is counted as `rs_invalid_<reason>`. */
export type RsRejection = 'hop-limit' | 'too-short' | 'not-solicitation' | 'code' | 'bad-option' | 'slla-from-unspecified';

export type RsVerdict = { valid: true; solicit: RouterSolicit } | { valid: false; reason: RsRejection; detail: string };

/**
 * RFC 4861 §6.1.1: the checks a router makes before it acts on a Router
 * Solicitation; one that fails any is silently discarded. The ICMP
 * checksum is verified by the kernel before the message reaches a raw
 * ICMPv6 socket (RFC 3542 §3.1), so it is not checked again here.
 */
export function validateRouterSolicit(received: ReceivedNdMessage): RsVerdict {
  const { data, source, hopLimit } = received;
  const hopProblem = hopLimitProblem(hopLimit);
  if (hopProblem !== undefined) return reject('hop-limit', hopProblem);
  if (data.length < ROUTER_SOLICIT_HEADER_LENGTH) return reject('too-short', `${data.length} bytes, fewer than ${ROUTER_SOLICIT_HEADER_LENGTH}`);
  if (data[0] !== ROUTER_SOLICITATION) return reject('not-solicitation', `ICMPv6 type ${data[0]}`);
  if (data[1] !== 0) return reject('code', `ICMP code ${data[1]}, not 0`);
  let solicit: RouterSolicit;
  try {
    solicit = routerSolicit.decode(data);
  } catch (err) {
    if (err instanceof DecodeError) return reject('bad-option', err.message);
    throw err;
  }
  // A node without an address must not announce its link-layer address:
  // others would bind it to "::" in their neighbor caches.
  if (isUnspecifiedAddress(source) && solicit.options.some((o) => o.kind === 'source-link-layer-address')) {
    return reject('slla-from-unspecified', 'source link-layer address option from the unspecified address');
  }
  return { valid: true, solicit };
}

function reject(reason: RsRejection, detail: string): RsVerdict {
  return { valid: false, reason, detail };
}
