import { bufferToIpv6, ipv6ToBuffer } from '../../lib/wire/ipv6.ts';

/**
 * RFC 4861 §6.1.2: hosts discard an RA whose source is not link-local, so
 * every RA goes out from a link-local address of the interface that has
 * passed DAD. Those are read from Linux's /proc/net/if_inet6 ("addr
 * ifindex plen scope flags name", hex, one address a line).
 */

/** Scope of a link-local address in if_inet6 (IPV6_ADDR_LINKLOCAL). */
const SCOPE_LINK = 0x20;
/** IFA_F_OPTIMISTIC, IFA_F_DADFAILED, IFA_F_TENTATIVE: not (yet) an address to send from. */
const NOT_USABLE = 0x04 | 0x08 | 0x40;

/** Every link-local address of `ifname` that has passed DAD, in the file's order. */
export function usableLinkLocals(ifInet6: string, ifname: string): string[] {
  const out: string[] = [];
  for (const line of ifInet6.split('\n')) {
    const [addr, , , scope, flags, name] = line.trim().split(/\s+/);
    if (name !== ifname || !/^[0-9a-f]{32}$/i.test(addr)) continue;
    if (parseInt(scope, 16) === SCOPE_LINK && (parseInt(flags, 16) & NOT_USABLE) === 0) {
      out.push(bufferToIpv6(Buffer.from(addr, 'hex')));
    }
  }
  return out;
}

/** The first link-local address of `ifname` that has passed DAD, or undefined. */
export function usableLinkLocal(ifInet6: string, ifname: string): string | undefined {
  return usableLinkLocals(ifInet6, ifname)[0];
}

/**
 * The address to advertise from, given the usable ones now and the one
 * used so far (RFC 4861 §6.2.8). Hosts know a router by its source
 * address, so it is kept for as long as the interface has it, even when
 * another link-local address is added; only once it is gone does the
 * router move to another (the first listed). Undefined while none is usable.
 */
export function chooseLinkLocal(usable: readonly string[], current: string | undefined): string | undefined {
  if (current !== undefined && usable.includes(current)) return current;
  return usable[0];
}

/** Whether 16 bytes start with fe80::/10 (RFC 4291 §2.5.6). */
export function isLinkLocalBytes(bytes: Uint8Array): boolean {
  return bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80;
}

/** fe80::/10, in any spelling. */
export function isLinkLocalAddress(address: string): boolean {
  return isLinkLocalBytes(ipv6ToBuffer(address));
}
