/**
 * RFC 4862 §5.5.3 (d): a host forms an address from an advertised prefix
 * only when prefix and interface identifier add up to 128 bits, and
 * interface identifiers are 64 bits (RFC 4291 §2.5.1, RFC 2464 §4 for
 * Ethernet): SLAAC works on a /64 and nothing else.
 */
export const SLAAC_PREFIX_LENGTH = 64;
