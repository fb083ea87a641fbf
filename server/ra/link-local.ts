import { bufferToIpv6 } from '../wire/ipv6.ts';

/**
 * RFC 4861 §6.1.2: hosts discard an RA whose source is not link-local, and
 * the kernel picks the source of what we send, a link-local one only if
 * the interface has one it may use. That is read from Linux's
 * /proc/net/if_inet6 ("addr ifindex plen scope flags name", hex, one
 * address a line).
 */

/** Scope of a link-local address in if_inet6 (IPV6_ADDR_LINKLOCAL). */
const SCOPE_LINK = 0x20;
/** IFA_F_OPTIMISTIC, IFA_F_DADFAILED, IFA_F_TENTATIVE: not (yet) an address to send from. */
const NOT_USABLE = 0x04 | 0x08 | 0x40;

/** The first link-local address of `ifname` that has passed DAD, or undefined. */
export function usableLinkLocal(ifInet6: string, ifname: string): string | undefined {
  for (const line of ifInet6.split('\n')) {
    const [addr, , , scope, flags, name] = line.trim().split(/\s+/);
    if (name !== ifname || !/^[0-9a-f]{32}$/i.test(addr)) continue;
    if (parseInt(scope, 16) === SCOPE_LINK && (parseInt(flags, 16) & NOT_USABLE) === 0) {
      return bufferToIpv6(Buffer.from(addr, 'hex'));
    }
  }
  return undefined;
}
