import type { QueueDropReason } from '../../lib/core/deadline-queue.ts';
import { LeaseholdError } from '../../lib/core/errors.ts';

/*
 * What the DHCPv4 service sees of its sockets, whichever implementation
 * serves (native-dhcp4-transport.ts, or dgram in udp-dhcp4-transport.ts,
 * which also picks one).
 */

/**
 * Room for a burst while the event loop waits on a lease-store sync: the
 * default (~208 KiB) holds only a few hundred DHCP packets. Not much more
 * than that, though: under overload a deeper queue only answers requests
 * whose clients have given up (RFC 2131 §4.1 retransmits after ~4 s).
 */
export const RECEIVE_BUFFER_BYTES = 2 << 20;

/** The DHCP sockets could not be opened or used (port taken, no permission, no such socket). */
export class TransportError extends LeaseholdError {
  readonly code = 'E_TRANSPORT';
}

export interface ReceivedDatagram {
  data: Buffer;
  interfaceName: string;
  from: { address: string; port: number };
  /**
   * When it arrived, on performance.now()'s clock: the kernel's receive
   * time with the native sockets (so time spent in the socket's receive
   * queue counts), the moment Node handed it over with dgram.
   */
  receivedAt: number;
}

export interface SendOptions {
  /** When the request this answers arrived (ReceivedDatagram.receivedAt): the reply's deadline counts from it. */
  requestReceivedAt: number;
  /**
   * Send it straight to this Ethernet address, with this source IPv4
   * address, instead of through the IP stack (see linkLayerTarget); used
   * when the transport can (`linkLayerSends`), else ignored.
   */
  link?: { hardwareAddress: Buffer; sourceAddress: string };
}

export interface Dhcp4Transport {
  /** 'native': server/native/dhcp4sock (recvmmsg/sendmmsg, link-layer sends); 'dgram': Node's dgram. */
  readonly kind: 'native' | 'dgram';
  /** Whether `SendOptions.link` is honoured. */
  readonly linkLayerSends: boolean;
  /** Fire and forget: a failure is reported to `onSendError`, a drop to `onSendDropped`, never thrown. */
  send(interfaceName: string, data: Buffer, to: { address: string; port: number }, options: SendOptions): void;
  close(): Promise<void>;
}

export interface TransportHandlers {
  onDatagram(d: ReceivedDatagram): void;
  onSendError(err: Error, to: { address: string; port: number }): void;
  /** A reply was not sent: its deadline passed while it waited (`stale`), or the queue was full (`overflow`). */
  onSendDropped(reason: QueueDropReason): void;
}

