import { ipv6ToBuffer } from '../wire/ipv6.ts';

/** "::" in any spelling: the source of a node that has no address yet (RFC 4291 §2.5.2). */
export function isUnspecifiedAddress(address: string): boolean {
  return ipv6ToBuffer(address).every((b) => b === 0);
}
