import test, { type ExecutionContext } from 'ava';
import { startDhcpCapture } from '../harness/capture.ts';
import { startDhclient, startUdhcpc } from '../harness/clients.ts';
import { sweepAround, useSegment, useServer, waitForLease } from '../harness/fixture.ts';
import type { TestServerConfig } from '../harness/servers.ts';

// DHCPDECLINE (RFC 2131 §3.1 step 5, §4.3.3): a client that finds its new
// address already in use says so, and the server keeps that address out of
// its pool for a while. Here the pool holds a single address, and a squatter
// on the segment has configured it by hand.

const PREFIX = 'lt-d4d';
sweepAround(test, PREFIX);

const SERVER = '198.18.23.1';
const ONLY_ADDRESS = '198.18.23.100';
const QUARANTINE_SECONDS = 8;
const CONFIG: TestServerConfig = {
  interface: 'eth0',
  declineQuarantineSeconds: QUARANTINE_SECONDS,
  subnets: [{
    cidr: '198.18.23.0/24',
    interface: 'eth0',
    pools: [{ start: ONLY_ADDRESS, end: ONLY_ADDRESS }],
    leaseTime: 600,
  }],
};

async function lanWithSquatter(t: ExecutionContext) {
  const segment = await useSegment(t, PREFIX);
  const serverHost = await segment.addHost('srv', { ipv4: `${SERVER}/24` });
  const server = await useServer(serverHost, CONFIG);
  const capture = await startDhcpCapture(serverHost);
  const squatter = await segment.addHost('squat', { ipv4: `${ONLY_ADDRESS}/24` });
  return { segment, server, capture, squatter };
}

test('udhcpc declines an address in use; it stays quarantined, then comes back', async (t) => {
  const { segment, server, capture, squatter } = await lanWithSquatter(t);
  const host = await segment.addHost('cli');
  const client = await startUdhcpc(host, { arpCheck: true });

  const decline = await capture.waitFor('a DHCPDECLINE', (p) => p.messageType === 4);
  const declinedAt = Date.now();
  t.is(decline.requestedIp, ONLY_ADDRESS);
  t.is(decline.serverId, SERVER);
  await waitForLease(server, ONLY_ADDRESS, 'declined', (lease) => lease?.state === 'declined');
  // udhcpc starts over (1 s pause, 3 DISCOVERs 1 s apart) and finds no free address.
  await client.waitFor('leasefail', 10_000);

  // The squatter leaves; the client keeps retrying and gets the address
  // once the quarantine is over, not before.
  await segment.ip(squatter.netns, 'addr', 'flush', 'dev', squatter.ifname);
  const bound = await client.waitFor('bound', (QUARANTINE_SECONDS + 15) * 1000);
  t.is(bound.ip, ONLY_ADDRESS);
  t.true(Date.now() - declinedAt >= (QUARANTINE_SECONDS - 1) * 1000, `bound ${Date.now() - declinedAt} ms after the decline`);
});

test('dhclient declines an address its ARP check finds in use', async (t) => {
  const { segment, server, capture } = await lanWithSquatter(t);
  const host = await segment.addHost('cli');
  const client = await startDhclient(host, { arpCheck: true });

  const inUse = await client.waitFor('ARPCHECK_IN_USE');

  t.is(inUse.new_ip_address, ONLY_ADDRESS);
  const decline = await capture.waitFor('a DHCPDECLINE', (p) => p.messageType === 4);
  t.is(decline.requestedIp, ONLY_ADDRESS);
  t.is(decline.chaddr, host.mac);
  const lease = await waitForLease(server, ONLY_ADDRESS, 'declined', (l) => l?.state === 'declined');
  t.is(lease?.state, 'declined');
});
