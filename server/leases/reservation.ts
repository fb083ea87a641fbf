import { ipToInt } from '../../lib/wire/ipv4.ts';

/**
 * A fixed address made through the control API (`reservation-add`) and kept
 * in the lease store, so it survives a restart. Reservations written in the
 * configuration file stay there; the server serves both, and refuses an API
 * reservation that conflicts with either.
 *
 * Exactly one of `hwAddress` and `clientId` names the client, in the forms
 * the configuration uses (lower-case colon MAC; the whole option 61 payload,
 * type byte first, in lower-case hex without separators).
 */
export interface StoredReservation {
  /** The subnet's id (as in the configuration). */
  subnetId: string;
  /** Dotted quad; one reservation per address and subnet. */
  ip: string;
  hwAddress?: string;
  clientId?: string;
  hostname?: string;
}

/** What names a stored reservation: its subnet and address. */
export interface ReservationKey {
  subnetId: string;
  ip: string;
}

/** One string per (subnet, address), for maps. */
export function reservationId(key: ReservationKey): string {
  return `${key.subnetId}|${key.ip}`;
}

/** By subnet id, then numerically by address: the order `loadReservations` returns. */
export function sortReservations(list: StoredReservation[]): StoredReservation[] {
  return list.sort((a, b) => (a.subnetId === b.subnetId ? ipToInt(a.ip) - ipToInt(b.ip) : a.subnetId < b.subnetId ? -1 : 1));
}
