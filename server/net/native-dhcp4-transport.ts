import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import { intToIp, ipToInt } from '../../lib/wire/ipv4.ts';
import { ipv4UdpPacketLength, writeIpv4UdpPacket } from '../../lib/wire/ipv4-udp-packet.ts';
import type { TransportLimits } from '../dhcp4/dhcp4-config.ts';
import { CLIENT_PORT, SERVER_PORT } from '../dhcp4/reply-destination.ts';
import type { LinkInfo } from './interfaces.ts';
import { ReplySendQueue, type PendingSend } from './reply-send-queue.ts';
import { RECEIVE_BUFFER_BYTES, TransportError, type Dhcp4Transport, type TransportHandlers } from './dhcp4-transport.ts';

/** What server/native/dhcp4sock/dhcp4sock.c exports (its header comment is the contract). */
interface NativeSocket {
  sendBatch(data: Buffer, meta: Uint32Array, count: number): number;
  sendFrames(data: Buffer, meta: Uint32Array, count: number): number;
  close(): void;
}
interface Addon {
  batch: number;
  open(
    ifindex: number,
    port: number,
    receiveBufferBytes: number,
    meta: Uint32Array,
    onBatch: (data: Buffer, count: number) => void,
    onWritable: () => void,
    onError: (err: Error) => void,
  ): NativeSocket;
}

const META_WORDS = 5;
/** Room per datagram in the reused send buffer: a DHCP message fits one Ethernet frame (RFC 2131 §2). */
const SLOT_BYTES = 1536;

// server/net (tsx) or dist/server/net (tsc): the addon is built in the source tree.
const here = dirname(fileURLToPath(import.meta.url));
const ADDON_PATHS = [join(here, '../native/dhcp4sock/build/Release/dhcp4sock.node'), join(here, '../../../server/native/dhcp4sock/build/Release/dhcp4sock.node')];

let addon: Addon | undefined;
function loadAddon(): Addon | undefined {
  if (addon) return addon;
  const path = ADDON_PATHS.find((p) => existsSync(p));
  if (!path) return undefined;
  addon = createRequire(import.meta.url)(path) as Addon;
  return addon;
}

/** Whether `make native` built the addon (else the server uses dgram). */
export function nativeDhcp4SocketsAvailable(): boolean {
  return loadAddon() !== undefined;
}

/**
 * The Dhcp4Transport over server/native/dhcp4sock: datagrams read with
 * recvmmsg() up to 64 at a time, each stamped with the kernel's receive
 * time; replies sent with sendmmsg() once per event-loop turn through a
 * bounded ReplySendQueue per socket; replies unicast to a client's ciaddr
 * sent over AF_PACKET to its Ethernet address (no ARP), never queued
 * behind the others.
 */
export function openNativeDhcp4Sockets(links: LinkInfo[], port: number, handlers: TransportHandlers, limits: TransportLimits): Dhcp4Transport {
  const native = loadAddon();
  if (!native) throw new TransportError('the native DHCPv4 sockets are not built (make native)');
  const batch = native.batch;
  // One send buffer and one meta array for every socket: a batch is handed over and sent synchronously.
  const sendData = Buffer.allocUnsafe(batch * SLOT_BYTES);
  const sendMeta = new Uint32Array(batch * META_WORDS);
  const frames = new FrameBatch(batch);
  const opened = new Map<string, { socket: NativeSocket; queue: ReplySendQueue; frames: PendingFrame[] }>();
  let framesScheduled = false;

  const reportErrors = (meta: Uint32Array, count: number, items: readonly PendingSend[] | undefined) => {
    for (let i = 0; i < count; i++) {
      const errno = meta[i * META_WORDS + 4];
      if (errno === 0) continue;
      const code = getSystemErrorName(-errno);
      const to = items ? { address: intToIp(items[i].address), port: items[i].port } : { address: 'link', port: CLIENT_PORT };
      handlers.onSendError(Object.assign(new Error(`sendmmsg: ${code}`), { code, errno: -errno, syscall: 'sendmmsg' }), to);
    }
  };

  const flushFrames = () => {
    framesScheduled = false;
    for (const entry of opened.values()) {
      while (entry.frames.length > 0) {
        const count = frames.pack(entry.frames, sendData, sendMeta);
        const consumed = entry.socket.sendFrames(sendData, sendMeta, count);
        reportErrors(sendMeta, consumed, undefined);
        // A packet socket never waits for ARP; a full buffer is a real overload: the rest are dropped.
        for (let i = consumed; i < count; i++) handlers.onSendDropped('overflow');
        entry.frames.splice(0, count);
      }
    }
  };

  try {
    for (const link of links) {
      const receiveMeta = new Uint32Array(batch * META_WORDS);
      const name = link.name;
      // Set right after the open; the socket calls onWritable only after a send, so never before.
      let queue: ReplySendQueue | undefined = undefined;
      const socket = native.open(
        link.index,
        port,
        RECEIVE_BUFFER_BYTES,
        receiveMeta,
        (data, count) => {
          const now = performance.now();
          for (let i = 0; i < count; i++) {
            const m = i * META_WORDS;
            const offset = receiveMeta[m];
            handlers.onDatagram({
              data: data.subarray(offset, offset + receiveMeta[m + 1]),
              interfaceName: name,
              from: { address: intToIp(receiveMeta[m + 2]), port: receiveMeta[m + 3] },
              receivedAt: now - receiveMeta[m + 4] / 1000,
            });
          }
        },
        () => queue?.resume(),
        (err) => handlers.onSendError(err, { address: '?', port: 0 }),
      );
      queue = new ReplySendQueue(
        { maxQueued: limits.maxQueuedReplies, deadlineMs: limits.replyDeadlineMs, batch },
        {
          sendBatch(items, count) {
            let offset = 0;
            for (let i = 0; i < count; i++) {
              const item = items[i];
              const m = i * META_WORDS;
              item.data.copy(sendData, offset);
              sendMeta[m] = offset;
              sendMeta[m + 1] = item.data.length;
              sendMeta[m + 2] = item.address;
              sendMeta[m + 3] = item.port;
              offset += SLOT_BYTES;
            }
            const consumed = socket.sendBatch(sendData, sendMeta, count);
            reportErrors(sendMeta, consumed, items);
            return consumed;
          },
        },
        (reason) => handlers.onSendDropped(reason),
      );
      opened.set(name, { socket, queue, frames: [] });
    }
  } catch (err) {
    for (const e of opened.values()) e.socket.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EPERM') throw new TransportError(`UDP port ${port}: ${(err as Error).message}`, { cause: err });
    throw err;
  }

  return {
    kind: 'native',
    linkLayerSends: true,
    send(interfaceName, data, to, options) {
      const entry = opened.get(interfaceName);
      if (!entry) {
        handlers.onSendError(new TransportError(`no socket for interface ${interfaceName}`), to);
        return;
      }
      if (data.length > SLOT_BYTES - ipv4UdpPacketLength(0)) {
        handlers.onSendError(new TransportError(`a reply of ${data.length} bytes does not fit one frame`), to);
        return;
      }
      if (options.link) {
        entry.frames.push({ data, destination: ipToInt(to.address), source: ipToInt(options.link.sourceAddress), port: to.port, hardwareAddress: options.link.hardwareAddress });
        if (!framesScheduled) {
          framesScheduled = true;
          setImmediate(flushFrames);
        }
        return;
      }
      entry.queue.enqueue({ data, address: ipToInt(to.address), port: to.port }, options.requestReceivedAt);
    },
    async close() {
      flushFrames();
      for (const e of opened.values()) {
        e.queue.flush();
        e.queue.close();
        e.socket.close();
      }
    },
  };
}

interface PendingFrame {
  data: Buffer;
  source: number;
  destination: number;
  port: number;
  hardwareAddress: Buffer;
}

/** Packs frames into the shared send buffer: IPv4 + UDP around each reply, the MAC in the meta words. */
class FrameBatch {
  constructor(private readonly batch: number) {}

  pack(pending: readonly PendingFrame[], data: Buffer, meta: Uint32Array): number {
    const count = Math.min(pending.length, this.batch);
    for (let i = 0; i < count; i++) {
      const f = pending[i];
      const offset = i * SLOT_BYTES;
      const length = writeIpv4UdpPacket(data, offset, { source: f.source, destination: f.destination, sourcePort: SERVER_PORT, destinationPort: f.port }, f.data);
      const m = i * META_WORDS;
      const mac = f.hardwareAddress;
      meta[m] = offset;
      meta[m + 1] = length;
      meta[m + 2] = ((mac[0] << 24) | (mac[1] << 16) | (mac[2] << 8) | mac[3]) >>> 0;
      meta[m + 3] = (mac[4] << 8) | mac[5];
      meta[m + 4] = 0;
    }
    return count;
  }
}
