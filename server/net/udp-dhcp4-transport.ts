import dgram from 'node:dgram';
import sockopt from 'sockopt';
import { intToIp, ipToInt } from '../../lib/wire/ipv4.ts';
import type { TransportLimits } from '../dhcp4/dhcp4-config.ts';
import { RECEIVE_BUFFER_BYTES, TransportError, type Dhcp4Transport, type TransportHandlers } from './dhcp4-transport.ts';
import type { LinkInfo } from './interfaces.ts';
import { openNativeDhcp4Sockets, nativeDhcp4SocketsAvailable } from './native-dhcp4-transport.ts';
import { ReplySendQueue, type PendingSend } from './reply-send-queue.ts';

const SOL_SOCKET = 1;
/**
 * SO_BINDTOIFINDEX (Linux ≥ 5.0, socket(7)): SO_BINDTODEVICE by index, an
 * integer option, so it can be set without a native addon of our own.
 */
const SO_BINDTOIFINDEX = 62;
/** SO_RCVBUFFORCE (socket(7)): like SO_RCVBUF but past net.core.rmem_max, for root. */
const SO_RCVBUFFORCE = 33;
/**
 * Sends libuv may hold for a dgram socket before ours queue instead: its
 * own queue is unbounded and cannot drop what has gone stale.
 */
const DGRAM_IN_FLIGHT = 16;

/**
 * One UDP socket per served interface, each bound to 0.0.0.0:67 and to its
 * device, so a broadcast DISCOVER is delivered once, to the socket of the
 * link it arrived on, and replies leave through that same link. Each
 * socket's replies go through a bounded ReplySendQueue.
 */
export async function openDhcp4Transport(
  links: LinkInfo[],
  port: number,
  handlers: TransportHandlers,
  limits: TransportLimits,
): Promise<Dhcp4Transport> {
  await ensurePortFree(port);
  const useNative = limits.implementation === 'native' || (limits.implementation === 'auto' && nativeDhcp4SocketsAvailable());
  if (useNative) return openNativeDhcp4Sockets(links, port, handlers, limits);
  return openDgramTransport(links, port, handlers, limits);
}

async function openDgramTransport(links: LinkInfo[], port: number, handlers: TransportHandlers, limits: TransportLimits): Promise<Dhcp4Transport> {
  const queues = new Map<string, ReplySendQueue>();
  const sockets: dgram.Socket[] = [];
  try {
    for (const link of links) {
      const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      sockets.push(socket);
      await bind(socket, port);
      setSocketOption(socket, SO_BINDTOIFINDEX, link.index);
      enlargeReceiveBuffer(socket);
      socket.setBroadcast(true);
      socket.on('message', (data, rinfo) =>
        handlers.onDatagram({ data, interfaceName: link.name, from: { address: rinfo.address, port: rinfo.port }, receivedAt: performance.now() }),
      );
      // An unhandled 'error' would end the process; nothing a peer does may.
      socket.on('error', (err) => handlers.onSendError(err, { address: '?', port: 0 }));
      const queue: ReplySendQueue = new ReplySendQueue(
        { maxQueued: limits.maxQueuedReplies, deadlineMs: limits.replyDeadlineMs, batch: DGRAM_IN_FLIGHT },
        {
          sendBatch(items, count) {
            for (let i = 0; i < count; i++) {
              if (socket.getSendQueueCount() >= DGRAM_IN_FLIGHT) return i;
              const item = items[i];
              socket.send(item.data, item.port, intToIp(item.address), (err) => {
                if (err) handlers.onSendError(err, { address: intToIp(item.address), port: item.port });
                if (queue.blocked) queue.resume();
              });
            }
            return count;
          },
        },
        (reason) => handlers.onSendDropped(reason),
      );
      queues.set(link.name, queue);
    }
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  return {
    kind: 'dgram',
    linkLayerSends: false,
    send(interfaceName, data, to, options) {
      const queue = queues.get(interfaceName);
      if (!queue) {
        handlers.onSendError(new TransportError(`no socket for interface ${interfaceName}`), to);
        return;
      }
      const item: PendingSend = { data, address: ipToInt(to.address), port: to.port };
      queue.enqueue(item, options.requestReceivedAt);
    },
    async close() {
      for (const q of queues.values()) q.close();
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
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
