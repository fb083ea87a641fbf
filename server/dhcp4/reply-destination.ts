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

/** RFC 1700 hardware type 1 (Ethernet) and its address length. */
const HTYPE_ETHERNET = 1;
const ETHERNET_ADDRESS_BYTES = 6;

/**
 * The client's Ethernet address when a reply to `req` going to `to` should
 * be sent straight to it at the link layer rather than through the IP
 * stack: a unicast to ciaddr on the request's own link (RFC 2131 §4.1),
 * from a client that told us its Ethernet address. The IP stack would
 * first resolve ciaddr with ARP; a forged or stale ciaddr nobody answers
 * for parks the reply for ~3 s in the neighbour queue, and enough of those
 * fill the socket's send buffer and hold up every other reply. Sent to
 * chaddr instead — what dhcpd and Kea do — no ARP is needed. Undefined
 * for relayed requests (the relay is a router and resolves its own
 * neighbours) and for broadcasts.
 */
export function linkLayerTarget(req: Dhcp4Message, to: Destination): Buffer | undefined {
  if (req.giaddr !== ZERO || to.port !== CLIENT_PORT || to.address === LIMITED_BROADCAST || to.address !== req.ciaddr) return undefined;
  if (req.htype !== HTYPE_ETHERNET || req.hlen !== ETHERNET_ADDRESS_BYTES) return undefined;
  const mac = req.chaddr.subarray(0, ETHERNET_ADDRESS_BYTES);
  // A group address (I/G bit) or all zeros cannot be one client's.
  if ((mac[0] & 1) !== 0 || mac.every((b) => b === 0)) return undefined;
  return mac;
}
