import { DecodeError } from '../../lib/wire/decode-error.ts';
import { isLinkLocalAddress } from './link-local.ts';
import { hopLimitProblem, type ReceivedNdMessage } from '../../lib/ndp/nd-hop-limit.ts';
import { ROUTER_ADVERTISEMENT, routerAdvert, type RouterAdvert } from '../../lib/ndp/router-advert.ts';

/** Why an advertisement was dropped; each is counted as `ra_invalid_<reason>`. */
export type RaRejection = 'hop-limit' | 'source-not-link-local' | 'too-short' | 'not-advertisement' | 'code' | 'bad-option';

export type RaVerdict = { valid: true; advert: RouterAdvert } | { valid: false; reason: RaRejection; detail: string };

/** Type through Retrans Timer (RFC 4861 §4.2). */
const ROUTER_ADVERT_HEADER_LENGTH = 16;

/**
 * RFC 4861 §6.1.2: the checks a node makes before it looks at a Router
 * Advertisement; a router does the same before it compares one with its
 * own (§6.2.7). The checksum is the kernel's (RFC 3542 §3.1).
 */
export function validateRouterAdvert(received: ReceivedNdMessage): RaVerdict {
  const { data, source, hopLimit } = received;
  // Routers are known by their link-local address (§6.2.8); a global source means off-link or forged.
  if (!isLinkLocalAddress(source)) return reject('source-not-link-local', `source ${source} is not link-local`);
  const hopProblem = hopLimitProblem(hopLimit);
  if (hopProblem !== undefined) return reject('hop-limit', hopProblem);
  if (data.length < ROUTER_ADVERT_HEADER_LENGTH) return reject('too-short', `${data.length} bytes, fewer than ${ROUTER_ADVERT_HEADER_LENGTH}`);
  if (data[0] !== ROUTER_ADVERTISEMENT) return reject('not-advertisement', `ICMPv6 type ${data[0]}`);
  if (data[1] !== 0) return reject('code', `ICMP code ${data[1]}, not 0`);
  try {
    return { valid: true, advert: routerAdvert.decode(data) };
  } catch (err) {
    if (err instanceof DecodeError) return reject('bad-option', err.message);
    throw err;
  }
}

function reject(reason: RaRejection, detail: string): RaVerdict {
  return { valid: false, reason, detail };
}
