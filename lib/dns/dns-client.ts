import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { systemClock, type Clock } from '../core/clock.ts';
import { DnsExchangeError } from './dns-exchange-error.ts';
import { judgeResponse, prepareRequest, queryMessage, type PreparedRequest } from './dns-exchange.ts';
import { frameMessage, TcpFrameReader } from './tcp-framing.ts';
import type { DnsMessage } from './dns-message.ts';
import type { DnsRecord } from './dns-record.ts';
import { TsigError } from './tsig-error.ts';
import type { TsigKey } from './tsig.ts';
import { updateMessage } from './update-message.ts';
import type { UpdateRequest } from './update-request.ts';

/** RFC 1035 §4.2.1: UDP messages are at most 512 bytes without EDNS, which we do not send. */
export const UDP_LIMIT = 512;
export const DNS_PORT = 53;

export interface DnsServerAddress {
  address: string;
  port?: number;
}

export interface DnsClientOptions {
  server: DnsServerAddress;
  /** Sign every request and require signed answers (RFC 8945). */
  key?: TsigKey;
  /** How long each UDP try, and the whole TCP exchange, may take (default 2000 ms). */
  timeoutMs?: number;
  /** UDP tries, the first included (default 3). */
  attempts?: number;
  /** TSIG fudge in seconds (default 300, RFC 8945 §10). */
  fudge?: number;
  clock?: Clock;
}

/** DnsClientOptions checked, with the defaults filled in. */
export interface DnsClientSettings {
  server: Required<DnsServerAddress>;
  key: TsigKey | undefined;
  timeoutMs: number;
  attempts: number;
  fudge: number | undefined;
  clock: Clock;
}

/** Throws DnsExchangeError for a server given by name. */
export function clientSettings(options: DnsClientOptions): DnsClientSettings {
  // An address, never a name: resolving it would itself need DNS, and Node
  // would quietly ask the system resolver.
  if (net.isIP(options.server.address) === 0) {
    throw new DnsExchangeError('E_DNS_UNREACHABLE', `DNS server ${JSON.stringify(options.server.address)} is not an IP address`);
  }
  return {
    server: { address: options.server.address, port: options.server.port ?? DNS_PORT },
    key: options.key,
    timeoutMs: options.timeoutMs ?? 2000,
    attempts: options.attempts ?? 3,
    fudge: options.fudge,
    clock: options.clock ?? systemClock,
  };
}

export interface DnsExchange {
  /** The verified answer, RCODE NOERROR. */
  response: DnsMessage;
  /** How the answer came: TCP when the request or the UDP answer did not fit in 512 bytes. */
  transport: 'udp' | 'tcp';
}

/**
 * Sends DNS requests to one server: UDP with retries, TCP when the request
 * is too big for UDP or the UDP answer comes back truncated (RFC 1035
 * §4.2.1, RFC 7766 §5); TSIG-signed when it has a key. Every method
 * resolves with a verified NOERROR answer, or rejects with DnsRcodeError
 * (the server's RCODE), TsigError (a signature problem, either side's) or
 * DnsExchangeError (no usable answer).
 */
export class DnsClient {
  readonly #o: DnsClientSettings;

  constructor(options: DnsClientOptions) {
    this.#o = clientSettings(options);
  }

  /** An RFC 2136 UPDATE; prerequisite failures reject with DnsRcodeError (YXDOMAIN, YXRRSET, NXRRSET). */
  async update(req: UpdateRequest): Promise<DnsExchange> {
    return this.exchange(updateMessage(0, req));
  }

  /** The answer records for `name`/`type` (class IN); NXDOMAIN rejects with DnsRcodeError. */
  async query(name: string, type: number): Promise<DnsRecord[]> {
    const { response } = await this.exchange(queryMessage(0, name, type));
    return response.answers;
  }

  /**
   * Sends `message` with a fresh random ID in place of its own (RFC 5452
   * §9.2: IDs must not be guessable), and returns the answer.
   */
  async exchange(message: DnsMessage): Promise<DnsExchange> {
    const withId = { ...message, header: { ...message.header, id: randomInt(0x10000) } };
    const req = prepareRequest(withId, this.#o.key, this.#seconds(), this.#o.fudge);
    if (req.bytes.length <= UDP_LIMIT) {
      const response = await this.#udp(req);
      if (response) return { response, transport: 'udp' };
    }
    return { response: await this.#tcp(req), transport: 'tcp' };
  }

  #seconds(): number {
    return Math.floor(this.#o.clock.now() / 1000);
  }

  #where(): string {
    return `${this.#o.server.address} port ${this.#o.server.port}`;
  }

  /** The answer, or undefined when it came back truncated. */
  async #udp(req: PreparedRequest): Promise<DnsMessage | undefined> {
    const socket = dgram.createSocket(net.isIPv6(this.#o.server.address) ? 'udp6' : 'udp4');
    try {
      return await new Promise<DnsMessage | undefined>((resolve, reject) => {
        let attempt = 0;
        let timer: NodeJS.Timeout | undefined;
        // RFC 8945 §5.4: an answer that fails TSIG checks, or whose error
        // cannot be authenticated, is discarded and the wait goes on until the
        // try times out; that failure is what we report then, since it is the
        // likeliest reason (a wrong key, a clock).
        let signatureFailure: TsigError | undefined;
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          fn();
        };
        const send = () => {
          attempt++;
          socket.send(req.bytes, (err) => {
            if (err) finish(() => reject(this.#unreachable(req, err)));
          });
          timer = setTimeout(onTimeout, this.#o.timeoutMs);
        };
        const onTimeout = () => {
          if (signatureFailure) reject(signatureFailure);
          else if (attempt < this.#o.attempts) send();
          else reject(new DnsExchangeError('E_DNS_TIMEOUT', `${req.description}: no answer from ${this.#where()} after ${attempt} UDP tries of ${this.#o.timeoutMs} ms`));
        };
        socket.on('message', (data) => {
          try {
            const verdict = judgeResponse(req, data, this.#seconds());
            if (verdict.kind === 'answer') finish(() => resolve(verdict.message));
            else if (verdict.kind === 'truncated') finish(() => resolve(undefined));
          } catch (err) {
            if (err instanceof TsigError && !err.authenticated) signatureFailure = err;
            else finish(() => reject(err));
          }
        });
        // A connected UDP socket hears ICMP port unreachable as ECONNREFUSED.
        socket.on('error', (err) => finish(() => reject(this.#unreachable(req, err))));
        // Connected, so the kernel drops datagrams from any other address or port.
        socket.connect(this.#o.server.port, this.#o.server.address, send);
      });
    } finally {
      socket.close();
    }
  }

  /** One exchange on a connection of its own (RFC 1035 §4.2.2 framing). */
  async #tcp(req: PreparedRequest): Promise<DnsMessage> {
    const socket = net.connect({ host: this.#o.server.address, port: this.#o.server.port });
    try {
      const data = await new Promise<Buffer>((resolve, reject) => {
        const reader = new TcpFrameReader();
        socket.setTimeout(this.#o.timeoutMs, () =>
          reject(new DnsExchangeError('E_DNS_TIMEOUT', `${req.description}: no answer from ${this.#where()} over TCP within ${this.#o.timeoutMs} ms`)),
        );
        socket.on('error', (err) => reject(this.#unreachable(req, err)));
        socket.on('data', (chunk: Buffer) => {
          const [first] = reader.push(chunk);
          if (first) resolve(first);
        });
        socket.on('end', () => reject(new DnsExchangeError('E_DNS_UNREACHABLE', `${req.description}: ${this.#where()} closed the TCP connection before answering`)));
        socket.write(frameMessage(req.bytes));
      });
      const verdict = judgeResponse(req, data, this.#seconds());
      // Over TCP nobody else can answer: anything but the answer is an error.
      if (verdict.kind === 'foreign') throw new DnsExchangeError('E_DNS_BAD_RESPONSE', `${req.description}: ${this.#where()} answered over TCP with ${verdict.reason}`);
      if (verdict.kind === 'truncated') throw new DnsExchangeError('E_DNS_BAD_RESPONSE', `${req.description}: ${this.#where()} truncated its answer over TCP`);
      return verdict.message;
    } finally {
      socket.destroy();
    }
  }

  #unreachable(req: PreparedRequest, err: Error): DnsExchangeError {
    return new DnsExchangeError('E_DNS_UNREACHABLE', `${req.description}: ${this.#where()}: ${err.message}`, { cause: err });
  }
}
