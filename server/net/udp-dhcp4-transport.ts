import dgram from 'node:dgram';
import sockopt from 'sockopt';
import { LeaseholdError } from '../../lib/core/errors.ts';
import type { LinkInfo } from './interfaces.ts';

const SOL_SOCKET = 1;
/**
 * SO_BINDTOIFINDEX (Linux ≥ 5.0, socket(7)): SO_BINDTODEVICE by index, an
 * integer option, so it can be set without a native addon of our own.
 */
const SO_BINDTOIFINDEX = 62;
/** SO_RCVBUFFORCE (socket(7)): like SO_RCVBUF but past net.core.rmem_max, for root. */
const SO_RCVBUFFORCE = 33;
/**
 * Room for a burst while the event loop waits on a lease-store sync: the
 * default (~208 KiB) holds only a few hundred DHCP packets. Not much more
 * than that, though: under overload a deeper queue only answers requests
 * whose clients have given up (RFC 2131 §4.1 retransmits after ~4 s).
 */
const RECEIVE_BUFFER_BYTES = 2 << 20;

/** The DHCP sockets could not be opened or used (port taken, no permission, no such socket). */
export class TransportError extends LeaseholdError {
  readonly code = 'E_TRANSPORT';
}

export interface ReceivedDatagram {
  data: Buffer;
  interfaceName: string;
  from: { address: string; port: number };
}

export interface Dhcp4Transport {
  /** Fire and forget: a failure is reported to `onSendError`, never thrown. */
  send(interfaceName: string, data: Buffer, to: { address: string; port: number }): void;
  close(): Promise<void>;
}

export interface TransportHandlers {
  onDatagram(d: ReceivedDatagram): void;
  onSendError(err: Error, to: { address: string; port: number }): void;
}

/**
 * One UDP socket per served interface, each bound to 0.0.0.0:67 and to its
 * device, so a broadcast DISCOVER is delivered once, to the socket of the
 * link it arrived on, and replies leave through that same link.
 */
export async function openDhcp4Transport(
  links: LinkInfo[],
  port: number,
  handlers: TransportHandlers,
): Promise<Dhcp4Transport> {
  await ensurePortFree(port);
  const sockets = new Map<string, dgram.Socket>();
  try {
    for (const link of links) {
      const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      sockets.set(link.name, socket);
      await bind(socket, port);
      setSocketOption(socket, SO_BINDTOIFINDEX, link.index);
      enlargeReceiveBuffer(socket);
      socket.setBroadcast(true);
      socket.on('message', (data, rinfo) =>
        handlers.onDatagram({ data, interfaceName: link.name, from: { address: rinfo.address, port: rinfo.port } }),
      );
      // An unhandled 'error' would end the process; nothing a peer does may.
      socket.on('error', (err) => handlers.onSendError(err, { address: '?', port: 0 }));
    }
  } catch (err) {
    for (const s of sockets.values()) s.close();
    throw err;
  }
  return {
    send(interfaceName, data, to) {
      const socket = sockets.get(interfaceName);
      if (!socket) {
        handlers.onSendError(new TransportError(`no socket for interface ${interfaceName}`), to);
        return;
      }
      socket.send(data, to.port, to.address, (err) => {
        if (err) handlers.onSendError(err, to);
      });
    },
    async close() {
      await Promise.all([...sockets.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}

/**
 * sockopt reads the fd from the socket's `_handle`, which Node flags as
 * deprecated on every first use; the warning is noise for operators, so it
 * is muted for that one call.
 */
function setSocketOption(socket: dgram.Socket, option: number, value: number): void {
  const previous = process.noDeprecation;
  process.noDeprecation = true;
  try {
    sockopt.setsockopt(socket, SOL_SOCKET, option, value);
  } finally {
    process.noDeprecation = previous;
  }
}

function enlargeReceiveBuffer(socket: dgram.Socket): void {
  try {
    setSocketOption(socket, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES);
  } catch {
    // Without CAP_NET_ADMIN: as much as net.core.rmem_max allows.
    socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
  }
}

/**
 * Our sockets share the port with each other (SO_REUSEADDR), which would
 * also let a second server bind it silently; an exclusive probe bind first
 * turns "port already in use" into a clear error.
 */
async function ensurePortFree(port: number): Promise<void> {
  const probe = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  try {
    await bind(probe, port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'already in use by another process' : code === 'EACCES' ? 'permission denied (needs root or CAP_NET_BIND_SERVICE)' : String(err);
    throw new TransportError(`UDP port ${port}: ${why}`);
  } finally {
    await new Promise<void>((resolve) => {
      try {
        probe.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

function bind(socket: dgram.Socket, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}
