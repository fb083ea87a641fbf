import type { OptionKind } from './option-kind.ts';
import { u8Kind } from './uint.ts';

/** RFC 2132 §9.6 DHCP message types. */
export enum Dhcp4MessageType {
  Discover = 1,
  Offer = 2,
  Request = 3,
  Decline = 4,
  Ack = 5,
  Nak = 6,
  Release = 7,
  Inform = 8,
}

/**
 * Option 53. Values outside 1–8 (e.g. RFC 4388 lease queries) decode as
 * their number: they are well formed, just not ours to answer.
 */
export const messageTypeKind: OptionKind<Dhcp4MessageType> = {
  name: 'message-type',
  decode: (data) => u8Kind.decode(data),
  encode: (value) => u8Kind.encode(value),
  format: (value) => Dhcp4MessageType[value] ?? `unknown(${value})`,
};
