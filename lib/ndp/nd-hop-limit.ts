/**
 * RFC 4861 §6.1.1 and §6.1.2: a Neighbor Discovery message is sent with IPv6
 * Hop Limit 255 and a receiver drops one that arrives with any other: a
 * router forwarding it would have decremented it, so it did not come from
 * this link. A negative number stands
 * for a hop limit the socket could not tell, which fails too.
 */
export const ND_HOP_LIMIT = 255;

/** A Neighbor Discovery message as the raw ICMPv6 socket delivered it. */
export interface ReceivedNdMessage {
  /** The ICMPv6 message. */
  data: Buffer;
  /** IPv6 source address, RFC 5952 text without a zone. */
  source: string;
  /**
   * The IPv6 Hop Limit it arrived with (IPV6_RECVHOPLIMIT, see
   * server/net/icmpv6-socket.ts); negative when the socket could not tell.
   */
  hopLimit: number;
}

/** Why `hopLimit` fails the check, or undefined when it passes. */
export function hopLimitProblem(hopLimit: number): string | undefined {
  if (hopLimit === ND_HOP_LIMIT) return undefined;
  if (hopLimit < 0) return 'hop limit unknown (no IPV6_HOPLIMIT ancillary data)';
  return `hop limit ${hopLimit}, not ${ND_HOP_LIMIT}: the packet crossed a router`;
}
