/**
 * Host and domain names as DHCP hands them to clients and DNS publishes
 * them: letters, digits and hyphens, labels of 1..63 octets not starting or
 * ending with a hyphen (RFC 1123 §2.1, RFC 1035 §2.3.1), at most 253
 * characters in text form (255 octets on the wire, RFC 1035 §2.3.4).
 * One trailing dot (an absolute name) is accepted.
 */
export function isLdhName(name: string): boolean {
  const text = name.endsWith('.') ? name.slice(0, -1) : name;
  if (text.length === 0 || text.length > 253) return false;
  return text.split('.').every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

/** One label of such a name: what a host or app label must be. */
export function isLdhLabel(label: string): boolean {
  return !label.includes('.') && isLdhName(label);
}
