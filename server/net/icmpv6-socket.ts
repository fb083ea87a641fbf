import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LeaseholdError } from '../../lib/core/errors.ts';
import type { ReceivedNdMessage } from '../../lib/ndp/nd-hop-limit.ts';

/**
 * A raw ICMPv6 socket on one interface, through Leasehold's own N-API addon
 * (server/native/icmpv6/icmpv6.c): Node has no raw sockets, and the npm
 * `raw-socket` package reads with recvfrom(), so it cannot tell the IPv6
 * Hop Limit of what it receives. An IPv6 raw socket never delivers the IPv6
 * header (RFC 3542 §3); the hop limit comes only as ancillary data
 * (IPV6_RECVHOPLIMIT) through recvmsg(), and RFC 4861 §6.1.1/§6.1.2 want
 * every Router Solicitation and Advertisement whose hop limit is not 255
 * dropped: it crossed a router, so it did not come from this link.
 *
 * Linux computes the checksum of what is sent and verifies that of what is
 * received (RFC 3542 §3.1). The socket is bound to its interface
 * (SO_BINDTOIFINDEX), sends with hop limit 255 unicast and multicast,
 * multicasts out of its interface without looping back to this host,
 * passes only the ICMPv6 types asked for (ICMP6_FILTER) and joins the
 * groups asked for. The kernel picks the source address unless `send` is
 * given one (IPV6_PKTINFO).
 */

export class Icmpv6SocketError extends LeaseholdError {
  readonly code = 'E_ICMPV6_SOCKET';
}

export interface Icmpv6Link {
  name: string;
  index: number;
}

export interface Icmpv6SocketOptions {
  /** ICMPv6 types to receive (ICMP6_FILTER, RFC 3542 §3.2); every other type is dropped by the kernel. */
  receiveTypes: readonly number[];
  /** Multicast groups to join on the link, e.g. ff02::2 to hear Router Solicitations. */
  joinGroups: readonly string[];
}

/** One message as it arrived (`data` is our own copy; hopLimit -1 if the kernel did not say). */
export interface ReceivedIcmpv6 extends ReceivedNdMessage {
  /** Index of the interface it arrived on (always the socket's). */
  ifindex: number;
}

export interface Icmpv6Handlers {
  onMessage(message: ReceivedIcmpv6): void;
  /** A receive failed. */
  onError(err: Error): void;
}

export interface Icmpv6Socket {
  /**
   * Sends one ICMPv6 message at once (the socket is non-blocking), to
   * `destination` on this socket's link (no zone: the link is the zone),
   * from `source` when given (it must be an address of the link) or else
   * from the one the kernel picks. Throws the send error (`code` is the
   * errno name: EADDRNOTAVAIL, ENETDOWN, EAGAIN…).
   */
  send(data: Buffer, destination: string, source?: string): void;
  /** Stops receiving and closes the socket, leaving its groups; safe to repeat. */
  close(): void;
}

/** What the addon exports (see icmpv6.c). */
interface NativeSocket {
  send(data: Buffer, destination: string, source?: string): number;
  close(): void;
}

interface Icmpv6Addon {
  open(
    ifindex: number,
    receiveTypes: readonly number[],
    joinGroups: readonly string[],
    onMessage: (data: Buffer, source: string, hopLimit: number, ifindex: number) => void,
    onError: (err: Error) => void,
  ): NativeSocket;
}

/** Where node-gyp puts the addon, from the repository root. */
const ADDON_PATH = ['server', 'native', 'icmpv6', 'build', 'Release', 'icmpv6.node'] as const;

let addon: Icmpv6Addon | undefined;

/**
 * Loads the addon on first use, so that modules importing this one stay
 * loadable (and unit-testable) where it is not built. This file runs from
 * the sources (server/net/, under tsx) or compiled (dist/server/net/): the
 * repository root is the nearest directory upwards holding ADDON_PATH.
 */
function loadAddon(): Icmpv6Addon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, ...ADDON_PATH);
    if (existsSync(candidate)) {
      addon = require(candidate) as Icmpv6Addon;
      return addon;
    }
    if (dirname(dir) === dir) break;
  }
  throw new Icmpv6SocketError(`the ICMPv6 addon ${ADDON_PATH.join('/')} is not built: run "make native" (or "make build")`);
}

/**
 * Opens the socket on `link`. Throws Icmpv6SocketError: no root (EPERM,
 * needs CAP_NET_RAW), no such link (ENODEV), addon not built.
 */
export function openIcmpv6Socket(link: Icmpv6Link, options: Icmpv6SocketOptions, handlers: Icmpv6Handlers): Icmpv6Socket {
  const native = loadAddon();
  let socket: NativeSocket;
  try {
    socket = native.open(
      link.index,
      options.receiveTypes,
      options.joinGroups,
      (data, source, hopLimit, ifindex) => handlers.onMessage({ data, source, hopLimit, ifindex }),
      (err) => handlers.onError(err),
    );
  } catch (err) {
    const hint = (err as { code?: string }).code === 'EPERM' ? ' (needs root or CAP_NET_RAW)' : '';
    throw new Icmpv6SocketError(`interface ${link.name}: cannot open a raw ICMPv6 socket: ${(err as Error).message}${hint}`, { cause: err });
  }
  return {
    send(data, destination, source) {
      const sent = socket.send(data, destination, source);
      if (sent !== data.length) throw new Icmpv6SocketError(`interface ${link.name}: sent ${sent} of ${data.length} bytes to ${destination}`);
    },
    close() {
      socket.close();
    },
  };
}
