import { createRequire } from 'node:module';
import { LeaseholdError } from '../errors.ts';
import { ipv6ToBuffer } from '../wire/ipv6.ts';

/**
 * A raw ICMPv6 socket on one interface, through the `raw-socket` addon:
 * Node has no raw sockets of its own. Linux computes the checksum of what
 * is sent and verifies that of what is received (RFC 3542 §3.1); the
 * kernel chooses the source address, a link-local one for link-scoped
 * destinations when the interface has one that passed DAD.
 *
 * What this socket cannot do: `raw-socket` receives with recvfrom(), so no
 * ancillary data reaches us, and an IPv6 raw socket never delivers the IPv6
 * header (IPV6_HDRINCL affects sending only). The Hop Limit of a received
 * packet, which RFC 4861 §6.1.1 wants checked to be 255, is therefore
 * unknown, and so is the destination address. Attaching a BPF filter that
 * drops other hop limits needs a pointer in struct sock_fprog, which
 * JavaScript cannot give. What remains: the socket is bound to its
 * interface, so only what arrived on that link is read, and routers never
 * forward a packet from a link-local source (RFC 4291 §2.5.6), the source
 * every host solicits from. The worst an off-link sender can do is make the
 * rate-limited answer come earlier.
 */

// Linux <sys/socket.h>, <netinet/in.h>, <netinet/icmp6.h>.
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const IPPROTO_IPV6 = 41;
const IPPROTO_ICMPV6 = 58;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_MULTICAST_LOOP = 19;
const IPV6_JOIN_GROUP = 20;
const ICMP6_FILTER = 1;

/** Room for any ICMPv6 message up to the largest IPv6 payload without jumbograms. */
const RECEIVE_BUFFER_BYTES = 65_536;

/** The part of raw-socket's API used here (the package ships no types). */
interface RawSocket {
  setOption(level: number, option: number, value: number): void;
  setOption(level: number, option: number, value: Buffer, length: number): void;
  send(buffer: Buffer, offset: number, length: number, address: string, done: (error: Error | null, bytes: number) => void): void;
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'close', listener: () => void): void;
  close(): void;
}

interface RawSocketModule {
  createSocket(options: { addressFamily: number; protocol: number; bufferSize: number }): RawSocket;
  AddressFamily: { IPv6: number };
  Protocol: { ICMPv6: number };
}

const raw = createRequire(import.meta.url)('raw-socket') as RawSocketModule;

/**
 * Every open socket. raw-socket's native handle does not keep its
 * JavaScript object alive: one that nothing else references is collected,
 * its fd closed mid-send, and Node may exit with the send never done.
 */
const openSockets = new Set<RawSocket>();

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

export interface Icmpv6Handlers {
  /** One message, copied out of the socket's buffer, and its IPv6 source. */
  onMessage(data: Buffer, source: string): void;
  /** A receive failed (a bad checksum shows as one) or the socket closed under us. */
  onError(err: Error): void;
}

export interface Icmpv6Socket {
  /** Sends one ICMPv6 message; rejects with the send error. */
  send(data: Buffer, destination: string): Promise<void>;
  close(): void;
}

/**
 * Opens the socket bound to `link`, with hop limit 255 for unicast and
 * multicast (RFC 4861 §6.1.2: hosts drop Neighbor Discovery messages that
 * may have crossed a router), multicast sent out of `link` and not looped
 * back to ourselves. Throws Icmpv6SocketError (no root, no such link…).
 */
export function openIcmpv6Socket(link: Icmpv6Link, options: Icmpv6SocketOptions, handlers: Icmpv6Handlers): Icmpv6Socket {
  let socket: RawSocket;
  try {
    socket = raw.createSocket({ addressFamily: raw.AddressFamily.IPv6, protocol: raw.Protocol.ICMPv6, bufferSize: RECEIVE_BUFFER_BYTES });
  } catch (err) {
    throw new Icmpv6SocketError(`interface ${link.name}: cannot open a raw ICMPv6 socket: ${(err as Error).message} (needs root or CAP_NET_RAW)`, { cause: err });
  }
  try {
    const device = Buffer.from(`${link.name}\0`);
    setOption(socket, link, 'SO_BINDTODEVICE', SOL_SOCKET, SO_BINDTODEVICE, device);
    setOption(socket, link, 'ICMP6_FILTER', IPPROTO_ICMPV6, ICMP6_FILTER, passOnly(options.receiveTypes));
    setOption(socket, link, 'IPV6_UNICAST_HOPS', IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255);
    setOption(socket, link, 'IPV6_MULTICAST_HOPS', IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255);
    setOption(socket, link, 'IPV6_MULTICAST_IF', IPPROTO_IPV6, IPV6_MULTICAST_IF, link.index);
    setOption(socket, link, 'IPV6_MULTICAST_LOOP', IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0);
    for (const group of options.joinGroups) {
      setOption(socket, link, `IPV6_JOIN_GROUP ${group}`, IPPROTO_IPV6, IPV6_JOIN_GROUP, membership(group, link.index));
    }
  } catch (err) {
    socket.close();
    throw err;
  }

  let closing = false;
  openSockets.add(socket);
  // Copied: raw-socket reads every message into the same buffer.
  socket.on('message', (buffer, source) => handlers.onMessage(Buffer.from(buffer), source));
  socket.on('error', (err) => handlers.onError(err));
  socket.on('close', () => {
    if (!closing) handlers.onError(new Icmpv6SocketError(`interface ${link.name}: the ICMPv6 socket closed`));
  });

  return {
    send(data, destination) {
      return new Promise((resolve, reject) => {
        socket.send(data, 0, data.length, destination, (error, bytes) => {
          // raw-socket calls back from its poll handler, outside any Node
          // callback scope: promise reactions queued here would wait for
          // the next unrelated callback. An immediate runs them this turn.
          setImmediate(() => {
            if (error) reject(error);
            else if (bytes !== data.length) reject(new Icmpv6SocketError(`sent ${bytes} of ${data.length} bytes to ${destination}`));
            else resolve();
          });
        });
      });
    },
    close() {
      closing = true;
      openSockets.delete(socket);
      socket.close();
    },
  };
}

function setOption(socket: RawSocket, link: Icmpv6Link, name: string, level: number, option: number, value: number | Buffer): void {
  try {
    if (typeof value === 'number') socket.setOption(level, option, value);
    else socket.setOption(level, option, value, value.length);
  } catch (err) {
    throw new Icmpv6SocketError(`interface ${link.name}: setsockopt ${name}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * struct icmp6_filter: 256 bits in host-order 32-bit words, a set bit
 * blocking that type (Linux follows RFC 3542 §3.2's ICMP6_FILTER_SETBLOCK).
 */
function passOnly(types: readonly number[]): Buffer {
  const words = new Uint32Array(8).fill(0xffffffff);
  for (const type of types) words[type >> 5] &= ~(1 << (type & 31));
  return Buffer.from(words.buffer);
}

/** struct ipv6_mreq: the group's 16 bytes, then the interface index as a host-order int. */
function membership(group: string, index: number): Buffer {
  const mreq = Buffer.alloc(20);
  ipv6ToBuffer(group).copy(mreq);
  new Int32Array(mreq.buffer, mreq.byteOffset + 16, 1)[0] = index;
  return mreq;
}
