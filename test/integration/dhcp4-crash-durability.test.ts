import test, { type ExecutionContext } from 'ava';
import { startDhcpCapture, type CapturedDhcp } from '../harness/capture.ts';
import { startUdhcpc, type UdhcpcClient } from '../harness/clients.ts';
import { sweepAround, useSegment, useServer } from '../harness/fixture.ts';
import { pollUntil } from '../harness/poll.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// RFC 2131 §4.3.1: a server must not forget a binding it has acknowledged.
// Real udhcpc clients get leases while the server is killed with SIGKILL in
// the middle of the stream; every ACK seen on the wire before the kill must
// name a lease the restarted server holds, for the client it was sent to.

const PREFIX = 'lt-d4k';
sweepAround(test, PREFIX);

const SERVER = '198.18.26.1';
const CLIENTS = 40;
const KILL_AFTER_ACKS = 20;
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  subnets: [{
    cidr: '198.18.26.0/24',
    interface: 'eth0',
    pools: [{ start: '198.18.26.10', end: '198.18.26.250' }],
    leaseTime: 600,
  }],
};

const DHCPACK = 5;

function acksFromServer(packets: readonly CapturedDhcp[]): CapturedDhcp[] {
  return packets.filter((p) => p.messageType === DHCPACK && p.ipSrc === SERVER && p.yiaddr !== '');
}

async function crashMidStream(t: ExecutionContext) {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const server = await useServer(serverHost, CONFIG);
  const capture = await startDhcpCapture(serverHost);
  const hosts = await segment.addHosts(Array.from({ length: CLIENTS }, (_, i) => ({ name: `c${i}` })));

  // Clients start one after another, so some are mid-exchange when the server dies.
  const clients: UdhcpcClient[] = [];
  let starting = true;
  const starter = (async () => {
    for (const host of hosts) {
      if (!starting) break;
      clients.push(await startUdhcpc(host, { oneShot: true, discoverTries: 20 }));
    }
  })();
  await pollUntil(`${KILL_AFTER_ACKS} ACKs`, () => acksFromServer(capture.packets()).length >= KILL_AFTER_ACKS || undefined, { timeoutMs: 60_000 });
  await server.kill9();
  starting = false;
  await starter;
  // The server is dead: whatever tshark prints from now on was sent before the kill.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const acked = acksFromServer(capture.packets());
  t.true(acked.length >= KILL_AFTER_ACKS, `${acked.length} ACKs before the kill`);

  await server.restart();
  const held = new Map((await server.leases()).filter((l) => l.state === 'bound').map((l) => [l.ip, l.hwAddress]));
  for (const ack of acked) t.is(held.get(ack.yiaddr), ack.chaddr, `ACK of ${ack.yiaddr} to ${ack.chaddr}`);
  t.log(`${acked.length} ACKs before SIGKILL, ${held.size} bound leases after the restart`);
  await Promise.all(clients.map((c) => c.stop()));
}

test('every lease ACKed before a SIGKILL is held after the restart', async (t) => {
  await crashMidStream(t);
});
