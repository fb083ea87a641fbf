/**
 * The two ways a reservation names a client (RFC 2131 §4.2), parsed into the
 * forms the request path produces, so a reservation and a lease compare as
 * plain strings: `Dhcp4Message.hwAddress()` (lower-case colon hex) and the
 * hex of option 61 (lower-case, no separators).
 */

/** 'AA-BB-…' or 'aa:bb:…', 1..16 octets (chaddr is 16 bytes, RFC 2131 §2) → 'aa:bb:…'; undefined if malformed. */
export function parseHwAddress(text: string): string | undefined {
  if (!/^[0-9a-f]{2}([:-][0-9a-f]{2}){0,15}$/i.test(text)) return undefined;
  return text.toLowerCase().replaceAll('-', ':');
}

/**
 * Option 61 payload, type byte first, as hex with optional ':' or '-' between
 * octets → plain lower-case hex. At least 2 octets (RFC 2132 §9.14).
 */
export function parseClientIdHex(text: string): string | undefined {
  const separated = /^[0-9a-f]{2}([:-][0-9a-f]{2})+$/i.test(text);
  const plain = /^([0-9a-f]{2}){2,}$/i.test(text);
  if (!separated && !plain) return undefined;
  return text.toLowerCase().replace(/[:-]/g, '');
}
