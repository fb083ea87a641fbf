import { parseHwAddress } from '../../lib/dhcp4/client-identity.ts';
import { SLAAC_PREFIX_LENGTH } from '../../lib/ndp/slaac.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';
import { bufferToIpv6, parseIpv6Prefix } from '../../lib/wire/ipv6.ts';

/**
 * The address a container's kernel forms by SLAAC (RFC 4862 §5.5.3) in an
 * advertised /64 when the agent set it up for EUI-64 interface identifiers
 * (RFC 2464 §4), so the server can publish its AAAA without being told.
 */

/**
 * RFC 4291 Appendix A: the 64-bit interface identifier of a 48-bit MAC is
 * the MAC with ff:fe inserted after its third octet and the universal/local
 * bit (0x02 of the first octet) inverted. Undefined for anything but a
 * 48-bit MAC, which has no EUI-64 of this form.
 */
export function eui64InterfaceId(hwAddress: string): Buffer | undefined {
  const mac = parseHwAddress(hwAddress);
  const octets = mac?.split(':').map((h) => parseInt(h, 16));
  if (octets === undefined || octets.length !== 6) return undefined;
  const [a, b, c, d, e, f] = octets;
  return Buffer.from([a ^ 0x02, b, c, 0xff, 0xfe, d, e, f]);
}

/**
 * The SLAAC address of `hwAddress` in `prefix` ('fd00:198:18::/64'), in
 * RFC 5952 text. The prefix must be a /64 (slaac.ts). Undefined when the
 * MAC is not 48-bit.
 */
export function slaacAddress(prefix: string, hwAddress: string): string | undefined {
  const parsed = parseIpv6Prefix(prefix);
  if (!parsed.ok || parsed.prefix.prefixLength !== SLAAC_PREFIX_LENGTH) {
    throw new EncodeError('slaac-prefix', `${JSON.stringify(prefix)} is not an IPv6 /64 prefix`);
  }
  const id = eui64InterfaceId(hwAddress);
  if (id === undefined) return undefined;
  const address = Buffer.from(parsed.prefix.network);
  id.copy(address, 8);
  return bufferToIpv6(address);
}
