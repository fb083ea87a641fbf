import test from 'ava';
import { Duplex, PassThrough } from 'node:stream';
import { Rcode } from '../../lib/dns/dns-codes.ts';
import { decodeMessageLayout, encodeMessage, type DnsMessage } from '../../lib/dns/dns-message.ts';
import { DnsRcodeError } from '../../lib/dns/dns-rcode-error.ts';
import { DnsSession, type DatagramHandlers } from '../../lib/dns/dns-session.ts';
import { frameMessage, TcpFrameReader } from '../../lib/dns/tcp-framing.ts';
import { signMessage, verifyMessage, type TsigKey } from '../../lib/dns/tsig.ts';
import type { UpdateRequest } from '../../lib/dns/update-request.ts';

const KEY: TsigKey = { name: 'leasehold-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 9) };
const SERVER = { address: '198.18.0.2', port: 53 };

const update = (name: string, extra = 0): UpdateRequest => ({
  zone: 'leasehold.test',
  prerequisites: [{ kind: 'name-not-in-use', name }],
  // `extra` padding records make the message too big for UDP.
  updates: Array.from({ length: 1 + extra }, (_, i) => ({ kind: 'add' as const, name, ttl: 60, record: { type: 'A' as const, data: `198.18.1.${i + 1}` } })),
});

/** A DNS server's side of the conversation: verifies each request's TSIG and signs its answer with the request's MAC. */
function answer(request: Buffer, rcode: number = Rcode.NOERROR, change: (m: DnsMessage) => DnsMessage = (m) => m): Buffer {
  const layout = decodeMessageLayout(request);
  const tsig = verifyMessage(request, layout, KEY, { now: Math.floor(Date.now() / 1000) });
  const m = layout.message;
  const reply = change({ header: { ...m.header, qr: true, rcode }, questions: m.questions, answers: [], authorities: [], additionals: [] });
  return signMessage(encodeMessage(reply), KEY, { time: Math.floor(Date.now() / 1000), requestMac: tsig.mac }).bytes;
}

/**
 * An in-memory TCP peer: every connection the session opens, with the
 * requests it carried; `respond` decides per request (an answer, or
 * nothing), and answers may be released later, in any order.
 */
class FakeTcpServer {
  readonly connections: Array<{ requests: Buffer[]; toClient: PassThrough; client: Duplex }> = [];
  respond: (request: Buffer, conn: number) => Buffer | undefined = (r) => answer(r);

  connect = (): Duplex => {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    const client = Duplex.from({ readable: toClient, writable: toServer });
    const conn = { requests: [] as Buffer[], toClient, client };
    const index = this.connections.push(conn) - 1;
    const reader = new TcpFrameReader();
    toServer.on('data', (chunk: Buffer) => {
      for (const request of reader.push(chunk)) {
        conn.requests.push(request);
        const reply = this.respond(request, index);
        if (reply) toClient.write(frameMessage(reply));
      }
    });
    // As a socket: connected a moment later, and what was written before reaches the server only then.
    toServer.pause();
    setImmediate(() => {
      client.emit('connect');
      toServer.resume();
    });
    return client;
  };

  get requests(): Buffer[] {
    return this.connections.flatMap((c) => c.requests);
  }

  /** The server closes connection `i` (as BIND does after its idle timeout). */
  close(i: number): void {
    this.connections[i].toClient.end();
    this.connections[i].client.destroy();
  }
}

function session(tcp: FakeTcpServer, over: Partial<ConstructorParameters<typeof DnsSession>[0]> = {}): DnsSession {
  return new DnsSession({ server: SERVER, key: KEY, udp: false, timeoutMs: 200, connect: tcp.connect, ...over });
}

const idOf = (bytes: Buffer) => bytes.readUInt16BE(0);

test('pipelined over one TCP connection: many requests in flight, distinct IDs, each signed and its answer verified, answers in any order', async (t) => {
  const tcp = new FakeTcpServer();
  const held: Buffer[] = [];
  tcp.respond = (r) => void held.push(r);
  const s = session(tcp);
  const results = Array.from({ length: 50 }, (_, i) => s.update(update(`n${i}.leasehold.test`)));
  while (held.length < 50) await new Promise((r) => setImmediate(r));
  t.is(tcp.connections.length, 1, 'one connection');
  t.is(s.inFlight, 50, 'all sent before any answer (RFC 7766 §6.2.1.1)');
  t.is(new Set(held.map(idOf)).size, 50, 'unique message IDs among those outstanding');
  // Answered back to front.
  for (const r of held.reverse()) tcp.connections[0].toClient.write(frameMessage(answer(r)));
  const done = await Promise.all(results);
  t.true(done.every((d) => d.transport === 'tcp' && d.response.header.rcode === 0));
  t.is(s.inFlight, 0);
  s.close();
});

test('an RCODE rejects only its own request; an answer with a bad signature rejects with TsigError', async (t) => {
  const tcp = new FakeTcpServer();
  tcp.respond = (r) => {
    const name = decodeMessageLayout(r).message.answers[0].name;
    if (name.startsWith('taken')) return answer(r, Rcode.YXDOMAIN);
    if (name.startsWith('forged')) {
      const good = answer(r);
      good[good.length - 10] ^= 0xff; // inside the MAC of the last (TSIG) record
      return good;
    }
    return answer(r);
  };
  const s = session(tcp);
  const [ok, taken, forged] = await Promise.allSettled([s.update(update('ok.leasehold.test')), s.update(update('taken.leasehold.test')), s.update(update('forged.leasehold.test'))]);
  t.is(ok.status, 'fulfilled');
  t.like(taken.status === 'rejected' && taken.reason, { code: 'E_DNS_YXDOMAIN' });
  t.true(taken.status === 'rejected' && taken.reason instanceof DnsRcodeError);
  t.like(forged.status === 'rejected' && forged.reason, { name: 'TsigError' });
  s.close();
});

test('a connection the server closes: the requests it left unanswered go once more on a new one; the next request opens one too', async (t) => {
  const tcp = new FakeTcpServer();
  // The first connection takes requests and never answers them.
  tcp.respond = (r, conn) => (conn === 0 ? undefined : answer(r));
  const s = session(tcp, { timeoutMs: 1000 });
  const pending = [s.update(update('a.leasehold.test')), s.update(update('b.leasehold.test'))];
  while (tcp.requests.length < 2) await new Promise((r) => setImmediate(r));
  tcp.close(0);
  const done = await Promise.all(pending);
  t.is(done.length, 2);
  t.is(tcp.connections.length, 2);
  t.is(tcp.connections[1].requests.length, 2, 'both sent again on the new connection');
  t.deepEqual(tcp.connections[1].requests.map(idOf).sort(), tcp.connections[0].requests.map(idOf).sort(), 'with their IDs and signatures');
  tcp.close(1);
  await new Promise((r) => setImmediate(r));
  await s.update(update('c.leasehold.test'));
  t.is(tcp.connections.length, 3, 'reconnected for the next request');
  s.close();
});

test('a request sent again that is lost again fails; one without an answer times out', async (t) => {
  const tcp = new FakeTcpServer();
  tcp.respond = () => undefined;
  const s = session(tcp, { timeoutMs: 100 });
  const lost = s.update(update('a.leasehold.test'));
  while (tcp.requests.length < 1) await new Promise((r) => setImmediate(r));
  tcp.close(0);
  while (tcp.requests.length < 2) await new Promise((r) => setImmediate(r));
  tcp.close(1);
  await t.throwsAsync(lost, { code: 'E_DNS_UNREACHABLE' });
  await t.throwsAsync(s.update(update('b.leasehold.test')), { code: 'E_DNS_TIMEOUT' });
  s.close();
});

test('a quota drop (one request unanswered, others answered) times out that request only and keeps the connection', async (t) => {
  const tcp = new FakeTcpServer();
  tcp.respond = (r) => (decodeMessageLayout(r).message.answers[0].name.startsWith('dropped') ? undefined : answer(r));
  const s = session(tcp, { timeoutMs: 100 });
  const dropped = s.update(update('dropped.leasehold.test'));
  const fine = Array.from({ length: 3 }, (_, i) => s.update(update(`fine${i}.leasehold.test`)));
  await Promise.all(fine);
  await t.throwsAsync(dropped, { code: 'E_DNS_TIMEOUT' });
  await s.update(update('after.leasehold.test'));
  t.is(tcp.connections.length, 1);
  s.close();
});

test('small messages over UDP on one socket, big ones over TCP; a truncated UDP answer is asked again over TCP', async (t) => {
  const tcp = new FakeTcpServer();
  const datagrams: Buffer[] = [];
  let handlers: DatagramHandlers | undefined;
  let truncate = false;
  const openDatagram = (h: DatagramHandlers) => {
    handlers = h;
    return {
      send: (bytes: Buffer) => {
        datagrams.push(bytes);
        setImmediate(() => h.message(answer(bytes, Rcode.NOERROR, (m) => ({ ...m, header: { ...m.header, tc: truncate } }))));
      },
      close: () => undefined,
    };
  };
  const s = session(tcp, { udp: true, openDatagram });
  t.is((await s.update(update('small.leasehold.test'))).transport, 'udp');
  t.is(datagrams.length, 1);
  t.is(tcp.connections.length, 0);
  const big = await s.update(update('big.leasehold.test', 40));
  t.is(big.transport, 'tcp', 'over 512 bytes');
  truncate = true;
  t.is((await s.update(update('truncated.leasehold.test'))).transport, 'tcp');
  t.is(datagrams.length, 2);
  t.truthy(handlers);
  s.close();
});

test('UDP: a lost datagram is sent again; a stray datagram is ignored; an ICMP error fails the UDP requests', async (t) => {
  const tcp = new FakeTcpServer();
  let handlers: DatagramHandlers | undefined;
  const sent: Buffer[] = [];
  const openDatagram = (h: DatagramHandlers) => {
    handlers = h;
    return {
      send: (bytes: Buffer) => {
        sent.push(bytes);
        // Only every second try gets through.
        if (sent.length % 2 === 0) setImmediate(() => h.message(answer(bytes)));
        else setImmediate(() => h.message(Buffer.from('stray')));
      },
      close: () => undefined,
    };
  };
  const s = session(tcp, { udp: true, openDatagram, timeoutMs: 50, attempts: 3 });
  t.is((await s.update(update('retried.leasehold.test'))).transport, 'udp');
  t.is(sent.length, 2);
  const refused = s.update(update('refused.leasehold.test'));
  await new Promise((r) => setImmediate(r));
  handlers?.error(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  await t.throwsAsync(refused, { code: 'E_DNS_UNREACHABLE' });
  s.close();
});

test('closeWhenIdle takes nothing new and closes once what is outstanding is answered; close rejects what is outstanding', async (t) => {
  const tcp = new FakeTcpServer();
  const held: Buffer[] = [];
  tcp.respond = (r) => void held.push(r);
  const s = session(tcp);
  const outstanding = s.update(update('a.leasehold.test'));
  while (held.length < 1) await new Promise((r) => setImmediate(r));
  s.closeWhenIdle();
  await t.throwsAsync(s.update(update('b.leasehold.test')), { code: 'E_DNS_UNREACHABLE', message: /closed/ });
  tcp.connections[0].toClient.write(frameMessage(answer(held[0])));
  await outstanding;
  const other = session(new FakeTcpServer());
  const cut = other.update(update('c.leasehold.test'));
  other.close();
  await t.throwsAsync(cut, { code: 'E_DNS_UNREACHABLE' });
});

test('TcpFrameReader: messages split anywhere and several per chunk', (t) => {
  const a = Buffer.from('first message');
  const b = Buffer.from('second');
  const stream = Buffer.concat([frameMessage(a), frameMessage(b), frameMessage(a)]);
  for (const cut of [1, 2, 3, 15, 16, 17, stream.length - 1]) {
    const reader = new TcpFrameReader();
    const got = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
    t.deepEqual(got.map(String), ['first message', 'second', 'first message'], `cut at ${cut}`);
    t.is(reader.buffered, 0);
  }
  const reader = new TcpFrameReader();
  t.deepEqual(reader.push(Buffer.from([0, 5, 1, 2])), []);
  t.is(reader.buffered, 4);
});
