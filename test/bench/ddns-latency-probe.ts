// ACK-to-resolvable probe for ddns-bench.ts. Runs inside the client
// namespace (`ip netns exec <ns> node --import=tsx test/bench/ddns-latency-probe.ts '<json>'`):
// acts as a relay agent like perfdhcp (listens on <relay>:67, giaddr <relay>,
// unicast to the server), starts full DORA exchanges for `count` new clients
// at a fixed rate, each asking the server to choose its name (option 81 with
// an empty name, S=1), and for each ACK polls the DNS server for the A record
// of the name the ACK's option 81 carries until it holds the leased address.
// One JSON object (ProbeResult) on stdout at the end; nothing else.

import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RrType } from '../../lib/dns/dns-codes.ts';
import { DnsClient } from '../../lib/dns/dns-client.ts';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';

export interface ProbeArgs {
  server: string;
  relay: string;
  dns: string;
  /** new clients per second */
  rate: number;
  count: number;
  /** how long after its ACK a name may take to resolve before it counts as unresolved */
  resolveTimeoutMs: number;
  /** pause between two queries for the same name (a query is sent only when the last one was answered) */
  pollMs: number;
  /** second byte of the clients' MACs (02:<b>:…), so runs against different servers use different clients */
  macByte: number;
}

export interface ProbeSample {
  ip: string;
  fqdn: string;
  /** DISCOVER sent -> ACK received */
  doraMs: number;
  /** ACK received -> first DNS answer holding the leased address */
  resolveMs: number;
  queries: number;
}

export interface ProbeResult {
  started: number;
  acked: number;
  /** no ACK within 2 s (dropped, NAK or no offer) */
  dhcpFailed: number;
  /** ACK without option 81: the server did not say which name it registers */
  noName: number;
  /** not resolvable within resolveTimeoutMs */
  unresolved: number;
  samples: ProbeSample[];
  /** a few examples of what went wrong */
  notes: string[];
}

const DHCP_TIMEOUT_MS = 2000;
const FQDN_REQUEST = { flags: { s: true, o: false, e: false, n: false }, rcode1: 0, rcode2: 0, name: '', partial: true };

interface Client {
  index: number;
  xid: number;
  chaddr: Buffer;
  sentAt: number;
  state: 'discover' | 'request' | 'done';
  timer?: NodeJS.Timeout;
}

function message(c: Client, relay: string, type: Dhcp4MessageType): Dhcp4Message {
  const m = new Dhcp4Message({ xid: c.xid, hops: 1, giaddr: relay, chaddr: c.chaddr });
  m.options.set(Opt.MessageType, type);
  m.options.set(Opt.ClientFqdn, FQDN_REQUEST);
  m.options.set(Opt.ParamRequestList, [1, 3, 6, 51, 54, 81]);
  return m;
}

async function probe(a: ProbeArgs): Promise<ProbeResult> {
  const result: ProbeResult = { started: 0, acked: 0, dhcpFailed: 0, noName: 0, unresolved: 0, samples: [], notes: [] };
  const note = (s: string): void => {
    if (result.notes.length < 5) result.notes.push(s);
  };
  const dns = new DnsClient({ server: { address: a.dns }, timeoutMs: 500, attempts: 1 });
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(67, a.relay, () => resolve());
  });
  const byXid = new Map<number, Client>();
  const pending = new Set<Promise<void>>();
  const xidBase = randomInt(0x10000000);

  const send = (m: Dhcp4Message): void => {
    socket.send(m.encode(), 67, a.server);
  };

  const resolveName = async (c: Client, ip: string, fqdn: string, ackAt: number): Promise<void> => {
    let queries = 0;
    while (true) {
      queries++;
      const answers = await dns.query(fqdn, RrType.A).catch(() => []);
      const now = performance.now();
      if (answers.some((r) => r.rdata.kind === 'a' && r.rdata.value === ip)) {
        result.samples.push({ ip, fqdn, doraMs: ackAt - c.sentAt, resolveMs: now - ackAt, queries });
        return;
      }
      if (now - ackAt > a.resolveTimeoutMs) {
        result.unresolved++;
        note(`${fqdn} A ${ip} not resolvable ${a.resolveTimeoutMs} ms after the ACK`);
        return;
      }
      await new Promise((r) => setTimeout(r, a.pollMs));
    }
  };

  socket.on('message', (data) => {
    const at = performance.now();
    let m: Dhcp4Message;
    try {
      m = Dhcp4Message.decode(data);
    } catch {
      return;
    }
    const c = byXid.get(m.xid);
    if (!c || c.state === 'done') return;
    const type = m.options.get(Opt.MessageType);
    if (type === Dhcp4MessageType.Offer && c.state === 'discover') {
      c.state = 'request';
      const req = message(c, a.relay, Dhcp4MessageType.Request);
      req.options.set(Opt.RequestedIp, m.yiaddr);
      const sid = m.options.get(Opt.ServerId);
      if (sid !== undefined) req.options.set(Opt.ServerId, sid);
      send(req);
    } else if (type === Dhcp4MessageType.Ack && c.state === 'request') {
      c.state = 'done';
      clearTimeout(c.timer);
      result.acked++;
      const fqdn = m.options.get(Opt.ClientFqdn)?.name;
      if (!fqdn) {
        result.noName++;
        note(`ACK for ${m.yiaddr} has no option 81`);
        return;
      }
      const p = resolveName(c, m.yiaddr, fqdn, at);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    } else if (type === Dhcp4MessageType.Nak) {
      c.state = 'done';
      clearTimeout(c.timer);
      result.dhcpFailed++;
      note(`NAK for client ${c.index}`);
    }
  });

  const t0 = performance.now();
  for (let i = 0; i < a.count; i++) {
    const due = t0 + (i * 1000) / a.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const chaddr = Buffer.alloc(16);
    Buffer.from([0x02, a.macByte, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, randomInt(256)]).copy(chaddr);
    const c: Client = { index: i, xid: (xidBase + i) >>> 0, chaddr, sentAt: performance.now(), state: 'discover' };
    byXid.set(c.xid, c);
    c.timer = setTimeout(() => {
      if (c.state === 'done') return;
      c.state = 'done';
      result.dhcpFailed++;
      note(`client ${i}: no ACK within ${DHCP_TIMEOUT_MS} ms`);
    }, DHCP_TIMEOUT_MS);
    result.started++;
    send(message(c, a.relay, Dhcp4MessageType.Discover));
  }
  // Every exchange ends within DHCP_TIMEOUT_MS, every name within resolveTimeoutMs of its ACK.
  await new Promise((r) => setTimeout(r, DHCP_TIMEOUT_MS + 50));
  while (pending.size > 0) await Promise.all([...pending]);
  socket.close();
  return result;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ProbeArgs;
probe(args).then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (err: unknown) => {
    process.stderr.write(`ddns-latency-probe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
