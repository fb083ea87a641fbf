import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType } from '../../lib/dhcp4/option-defs.ts';
import { LIMITED_BROADCAST } from '../../lib/wire/ipv4.ts';

export const SERVER_PORT = 67;
export const CLIENT_PORT = 68;
const ZERO = '0.0.0.0';

export interface Destination {
  address: string;
  port: number;
}

/**
 * Where a reply goes, RFC 2131 §4.1 ("Constructing and sending DHCP
 * messages"), in the RFC's order:
 *  - relayed (giaddr set): to the relay's server port; a NAK also gets the
 *    broadcast bit so the relay broadcasts it (§4.3.2);
 *  - ciaddr set (RENEWING, REBINDING, INFORM): unicast to ciaddr, except a NAK;
 *  - a NAK, or the client set the broadcast bit: limited broadcast;
 *  - otherwise the RFC prefers a unicast to yiaddr/chaddr, which needs an ARP
 *    entry the client cannot answer for yet; a UDP socket cannot send that,
 *    so we use the fallback §4.1 allows: "If unicasting is not possible, the
 *    message MAY be sent as an IP broadcast".
 */
export function replyDestination(req: Dhcp4Message, replyType: Dhcp4MessageType): Destination {
  if (req.giaddr !== ZERO) return { address: req.giaddr, port: SERVER_PORT };
  if (req.ciaddr !== ZERO && replyType !== Dhcp4MessageType.Nak) return { address: req.ciaddr, port: CLIENT_PORT };
  return { address: LIMITED_BROADCAST, port: CLIENT_PORT };
}
