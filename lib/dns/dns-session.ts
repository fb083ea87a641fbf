import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { clientSettings, UDP_LIMIT, type DnsClientOptions, type DnsClientSettings, type DnsExchange, type DnsServerAddress } from './dns-client.ts';
import { DnsExchangeError } from './dns-exchange-error.ts';
import { judgeResponse, prepareRequest, type PreparedRequest } from './dns-exchange.ts';
import type { DnsMessage } from './dns-message.ts';
import { frameMessage, TcpFrameReader } from './tcp-framing.ts';
import { TsigError } from './tsig-error.ts';
import { updateMessage } from './update-message.ts';
import type { UpdateRequest } from './update-request.ts';

const ID_SPACE = 0x10000;

/** A datagram socket to the one server (connected: the kernel drops datagrams from anyone else). */
export interface DatagramChannel {
  send(bytes: Buffer): void;
  close(): void;
}

export interface DatagramHandlers {
  message(data: Buffer): void;
  /** A connected UDP socket hears ICMP port unreachable as ECONNREFUSED. */
  error(err: Error): void;
}

/** DnsClient's options (`timeoutMs`: each UDP try, and the wait for an answer over TCP), and the session's own. */
export interface DnsSessionOptions extends DnsClientOptions {
  /** Messages that fit in 512 bytes go over UDP (default); false: everything over TCP. */
  udp?: boolean;
  /** A TCP connection with nothing outstanding is closed after this long (default 10 s; RFC 7766 §6.2.1). */
  idleMs?: number;
  /** Opens the TCP connection (tests give an in-memory stream); default `net.connect` to the server. */
  connect?: () => Duplex;
  /** Opens the UDP channel (tests give their own); default a connected `dgram` socket. */
  openDatagram?: (handlers: DatagramHandlers) => DatagramChannel;
}

interface Pending {
  id: number;
  req: PreparedRequest;
  resolve(exchange: DnsExchange): void;
  reject(err: unknown): void;
  timer?: NodeJS.Timeout;
  transport: 'udp' | 'tcp';
  /** UDP tries made. */
  attempt: number;
  /** TCP: already sent again on a new connection once. */
  resent: boolean;
  /** When it was last written, for the dead-connection check. */
  sentAt: number;
  /** RFC 8945 §5.4: an answer failing TSIG is dropped and the wait goes on; this is reported if nothing better comes. */
  signatureFailure?: TsigError;
  conn?: TcpConnection;
}

interface TcpConnection {
  stream: Duplex;
  reader: TcpFrameReader;
  pending: Set<Pending>;
  /** It connected (or answered): a request lost on it may be worth one more try. */
  established: boolean;
  /** When it last delivered data. */
  heardAt: number;
  idleTimer?: NodeJS.Timeout;
  lost: boolean;
}

/**
 * A long-lived conversation with one DNS server: many requests in flight
 * at once, each with an ID of its own among those outstanding (RFC 7766
 * §7), answers matched by ID in whatever order they come.
 *
 * - TCP: one connection kept open and pipelined (RFC 7766 §6.2.1.1:
 *   requests are sent without waiting for earlier answers). A connection
 *   the server closes is opened again on the next request; requests it
 *   left unanswered are sent once more on the new one (a server may close
 *   an idle-looking connection as we write, §6.2.3). One with nothing
 *   outstanding is closed after `idleMs`.
 * - UDP: one connected socket for every small message, with retries, and
 *   TCP when the answer comes back truncated (RFC 1035 §4.2.1).
 *
 * Every message is TSIG-signed on its own and its answer verified against
 * its MAC (RFC 8945 §5.1), so a session can be shared by any number of
 * callers. Results are those of DnsClient: a verified NOERROR answer, or
 * DnsRcodeError, TsigError, DnsExchangeError.
 */
export class DnsSession {
  readonly #o: DnsClientSettings;
  readonly #udpEnabled: boolean;
  readonly #idleMs: number;
  readonly #connect: () => Duplex;
  readonly #openDatagram: (handlers: DatagramHandlers) => DatagramChannel;
  readonly #pending = new Map<number, Pending>();
  #tcp: TcpConnection | undefined;
  #udp: DatagramChannel | undefined;
  #closed = false;
  #closeWhenIdle = false;

  constructor(options: DnsSessionOptions) {
    this.#o = clientSettings(options);
    const server = this.#o.server;
    this.#udpEnabled = options.udp ?? true;
    this.#idleMs = options.idleMs ?? 10_000;
    this.#connect = options.connect ?? (() => net.connect({ host: server.address, port: server.port }));
    this.#openDatagram = options.openDatagram ?? ((handlers) => connectedDatagram(server, handlers));
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** An RFC 2136 UPDATE; prerequisite failures reject with DnsRcodeError (YXDOMAIN, YXRRSET, NXRRSET). */
  update(req: UpdateRequest): Promise<DnsExchange> {
    return this.exchange(updateMessage(0, req));
  }

  /** Sends `message` under a fresh random ID (RFC 5452 §9.2) unique among those outstanding. */
  exchange(message: DnsMessage): Promise<DnsExchange> {
    if (this.#closed || this.#closeWhenIdle) {
      return Promise.reject(new DnsExchangeError('E_DNS_UNREACHABLE', `the session with ${this.#where()} is closed`));
    }
    let req: PreparedRequest;
    try {
      const id = this.#freeId();
      req = prepareRequest({ ...message, header: { ...message.header, id } }, this.#o.key, Math.floor(this.#o.clock.now() / 1000), this.#o.fudge);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<DnsExchange>((resolve, reject) => {
      const udp = this.#udpEnabled && req.bytes.length <= UDP_LIMIT;
      const p: Pending = { id: req.message.header.id, req, resolve, reject, transport: udp ? 'udp' : 'tcp', attempt: 0, resent: false, sentAt: 0 };
      this.#pending.set(p.id, p);
      if (udp) this.#sendUdp(p);
      else this.#sendTcp(p);
    });
  }

  /** Takes no more requests and closes once those outstanding are answered (a key was replaced: they finish with the old one). */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (this.#pending.size === 0) this.close();
  }

  /** Closes the sockets at once; requests outstanding reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [...this.#pending.values()]) this.#fail(p, new DnsExchangeError('E_DNS_UNREACHABLE', `${p.req.description}: the session with ${this.#where()} was closed`));
    if (this.#tcp) this.#drop(this.#tcp);
    this.#udp?.close();
    this.#udp = undefined;
  }

  #freeId(): number {
    if (this.#pending.size >= ID_SPACE) throw new DnsExchangeError('E_DNS_UNREACHABLE', `${ID_SPACE} requests outstanding with ${this.#where()}: no message ID is free`);
    let id: number;
    do id = randomInt(ID_SPACE);
    while (this.#pending.has(id));
    return id;
  }

  #where(): string {
    return `${this.#o.server.address} port ${this.#o.server.port}`;
  }

  #now(): number {
    return performance.now();
  }

  #resolve(p: Pending, response: DnsMessage): void {
    if (!this.#settle(p)) return;
    p.resolve({ response, transport: p.transport });
  }

  #fail(p: Pending, err: unknown): void {
    if (!this.#settle(p)) return;
    p.reject(err);
  }

  /** Forgets `p`; false when it was settled already. */
  #settle(p: Pending): boolean {
    if (this.#pending.get(p.id) !== p) return false;
    this.#pending.delete(p.id);
    clearTimeout(p.timer);
    const conn = p.conn;
    if (conn) {
      conn.pending.delete(p);
      if (conn.pending.size === 0 && !conn.lost) this.#idle(conn);
    }
    if (this.#closeWhenIdle && this.#pending.size === 0) queueMicrotask(() => this.close());
    return true;
  }

  // -- UDP ------------------------------------------------------------------

  #sendUdp(p: Pending): void {
    this.#udp ??= this.#openDatagram({ message: (data) => this.#onDatagram(data), error: (err) => this.#onDatagramError(err) });
    p.attempt++;
    p.sentAt = this.#now();
    this.#udp.send(p.req.bytes);
    p.timer = setTimeout(() => this.#onUdpTimeout(p), this.#o.timeoutMs);
  }

  #onUdpTimeout(p: Pending): void {
    if (p.signatureFailure) this.#fail(p, p.signatureFailure);
    else if (p.attempt < this.#o.attempts) this.#sendUdp(p);
    else this.#fail(p, new DnsExchangeError('E_DNS_TIMEOUT', `${p.req.description}: no answer from ${this.#where()} after ${p.attempt} UDP tries of ${this.#o.timeoutMs} ms`));
  }

  #onDatagram(data: Buffer): void {
    const p = data.length >= 2 ? this.#pending.get(data.readUInt16BE(0)) : undefined;
    // Not ours (any more): a late answer to a try given up, or a stray datagram (RFC 5452 §9.1).
    if (!p || p.transport !== 'udp') return;
    try {
      const verdict = judgeResponse(p.req, data, Math.floor(this.#o.clock.now() / 1000));
      if (verdict.kind === 'answer') this.#resolve(p, verdict.message);
      else if (verdict.kind === 'truncated') {
        clearTimeout(p.timer);
        p.transport = 'tcp';
        this.#sendTcp(p);
      }
    } catch (err) {
      if (err instanceof TsigError && !err.authenticated) p.signatureFailure = err;
      else this.#fail(p, err);
    }
  }

  #onDatagramError(err: Error): void {
    const channel = this.#udp;
    this.#udp = undefined;
    channel?.close();
    for (const p of [...this.#pending.values()]) {
      if (p.transport === 'udp') this.#fail(p, new DnsExchangeError('E_DNS_UNREACHABLE', `${p.req.description}: ${this.#where()}: ${err.message}`, { cause: err }));
    }
  }

  // -- TCP ------------------------------------------------------------------

  #sendTcp(p: Pending): void {
    const conn = this.#tcp ?? this.#open();
    clearTimeout(conn.idleTimer);
    conn.pending.add(p);
    p.conn = conn;
    p.sentAt = this.#now();
    conn.stream.write(frameMessage(p.req.bytes));
    p.timer = setTimeout(() => this.#onTcpTimeout(p), this.#o.timeoutMs);
  }

  #open(): TcpConnection {
    const stream = this.#connect();
    const conn: TcpConnection = { stream, reader: new TcpFrameReader(), pending: new Set(), established: false, heardAt: 0, lost: false };
    this.#tcp = conn;
    // RFC 7766 §10: small requests should not wait for Nagle's algorithm.
    if (stream instanceof net.Socket) {
      stream.setNoDelay(true);
      stream.unref();
    }
    stream.on('connect', () => (conn.established = true));
    stream.on('data', (chunk: Buffer) => this.#onTcpData(conn, chunk));
    stream.on('error', (err: Error) => this.#lost(conn, err));
    stream.on('close', () => this.#lost(conn));
    stream.on('end', () => this.#lost(conn));
    return conn;
  }

  #onTcpData(conn: TcpConnection, chunk: Buffer): void {
    conn.established = true;
    conn.heardAt = this.#now();
    for (const message of conn.reader.push(chunk)) {
      const p = message.length >= 2 ? this.#pending.get(message.readUInt16BE(0)) : undefined;
      // An answer to a request that timed out, or went to another connection meanwhile.
      if (!p || p.conn !== conn) continue;
      try {
        const verdict = judgeResponse(p.req, message, Math.floor(this.#o.clock.now() / 1000));
        // Over TCP nobody else can answer: anything but the answer is an error.
        if (verdict.kind === 'answer') this.#resolve(p, verdict.message);
        else if (verdict.kind === 'foreign') this.#fail(p, new DnsExchangeError('E_DNS_BAD_RESPONSE', `${p.req.description}: ${this.#where()} answered over TCP with ${verdict.reason}`));
        else this.#fail(p, new DnsExchangeError('E_DNS_BAD_RESPONSE', `${p.req.description}: ${this.#where()} truncated its answer over TCP`));
      } catch (err) {
        this.#fail(p, err);
      }
    }
  }

  #onTcpTimeout(p: Pending): void {
    const conn = p.conn;
    this.#fail(p, new DnsExchangeError('E_DNS_TIMEOUT', `${p.req.description}: no answer from ${this.#where()} over TCP within ${this.#o.timeoutMs} ms`));
    // Nothing at all came back since it was sent: the connection may be
    // dead without our knowing (a peer gone, state lost in between); the
    // others waiting on it get their one more try on a new connection.
    if (conn && !conn.lost && conn.heardAt < p.sentAt) this.#lost(conn, new Error('no answer on the connection'));
  }

  /** The connection ended or failed: requests on it go once more on a new one, or fail. */
  #lost(conn: TcpConnection, err?: Error): void {
    if (conn.lost) return;
    this.#drop(conn);
    for (const p of [...conn.pending]) {
      conn.pending.delete(p);
      clearTimeout(p.timer);
      p.conn = undefined;
      if (conn.established && !p.resent && !this.#closed) {
        p.resent = true;
        this.#sendTcp(p);
      } else {
        const why = err ? err.message : 'closed the TCP connection before answering';
        this.#fail(p, new DnsExchangeError('E_DNS_UNREACHABLE', `${p.req.description}: ${this.#where()}: ${why}`, err && { cause: err }));
      }
    }
  }

  #drop(conn: TcpConnection): void {
    conn.lost = true;
    clearTimeout(conn.idleTimer);
    if (this.#tcp === conn) this.#tcp = undefined;
    conn.stream.destroy();
  }

  #idle(conn: TcpConnection): void {
    clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      if (conn.pending.size === 0) {
        conn.lost = true;
        if (this.#tcp === conn) this.#tcp = undefined;
        conn.stream.end();
      }
    }, this.#idleMs);
    conn.idleTimer.unref();
  }
}

function connectedDatagram(server: Required<DnsServerAddress>, handlers: DatagramHandlers): DatagramChannel {
  const socket = dgram.createSocket(net.isIPv6(server.address) ? 'udp6' : 'udp4');
  let closed = false;
  /** What was sent before the connect completed (Node refuses a send without an address until then). */
  let waiting: Buffer[] | undefined = [];
  const write = (bytes: Buffer) =>
    socket.send(bytes, (err) => {
      if (err && !closed) handlers.error(err);
    });
  socket.on('message', (data) => handlers.message(data));
  socket.on('error', (err) => {
    if (!closed) handlers.error(err);
  });
  socket.connect(server.port, server.address, () => {
    const queued = waiting ?? [];
    waiting = undefined;
    if (!closed) queued.forEach(write);
  });
  socket.unref();
  return {
    send: (bytes) => (waiting ? waiting.push(bytes) : write(bytes)),
    close: () => {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
