/**
 * RFC 4191 §2.1: a 2-bit preference, carried by the Router Advertisement
 * header (Default Router Preference) and by each Route Information option.
 * 01 high, 00 medium, 11 low; 10 is reserved, which a receiver treats as
 * medium in the header (§2.2) and as "ignore this option" in a route
 * (§2.3). Decoding keeps 'reserved' so that what was received survives a
 * re-encode; configuration only ever offers the other three.
 */
export type RoutePreference = 'high' | 'medium' | 'low' | 'reserved';

const BITS: Record<RoutePreference, number> = { medium: 0b00, high: 0b01, reserved: 0b10, low: 0b11 };
const BY_BITS: readonly RoutePreference[] = ['medium', 'high', 'reserved', 'low'];

/** The two bits of `preference`, at bits 4–3 of the flags byte both places use. */
export function preferenceBits(preference: RoutePreference): number {
  return BITS[preference] << 3;
}

/** The preference held in bits 4–3 of `flags`. */
export function preferenceFromBits(flags: number): RoutePreference {
  return BY_BITS[(flags >> 3) & 0b11];
}
