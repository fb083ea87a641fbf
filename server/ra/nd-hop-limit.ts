/**
 * RFC 4861 §6.1.1 and §6.1.2: a Neighbor Discovery message is sent with IPv6
 * Hop Limit 255 and a receiver drops one that arrives with any other: a
 * router forwarding it would have decremented it, so it did not come from
 * this link. A negative number stands
 * for a hop limit the socket could not tell, which fails too.
 */
export const ND_HOP_LIMIT = 255;

/** Why `hopLimit` fails the check, or undefined when it passes. */
export function hopLimitProblem(hopLimit: number): string | undefined {
  if (hopLimit === ND_HOP_LIMIT) return undefined;
  if (hopLimit < 0) return 'hop limit unknown (no IPV6_HOPLIMIT ancillary data)';
  return `hop limit ${hopLimit}, not ${ND_HOP_LIMIT}: the packet crossed a router`;
}
