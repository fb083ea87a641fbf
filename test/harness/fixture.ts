import type { ExecutionContext, TestFn } from 'ava';
import type { UdhcpcClient } from './clients.ts';
import { createSegment, sweepStale, type Host, type Segment } from './netns.ts';
import { pollUntil } from './poll.ts';
import { createServer, type DhcpServerUnderTest, type ServerLease, type TestServerConfig } from './servers.ts';

/**
 * Every integration file owns one name prefix (`lt-d4l`, `lt-d4r`…): it
 * sweeps leftovers of a crashed run before its tests and again after them.
 */
export function sweepAround(test: TestFn, prefix: string): void {
  test.before(() => sweepStale(prefix));
  test.after.always(() => sweepStale(prefix));
}

/** A segment torn down with the test, pass or fail; on failure the log shows every process's output. */
export async function useSegment(t: ExecutionContext, prefix: string): Promise<Segment> {
  const segment = await createSegment(prefix);
  t.teardown(async () => {
    if (!t.passed) t.log(segment.describeProcesses());
    await segment.destroy();
  });
  return segment;
}

/** The server selected by LEASEHOLD_TEST_SERVER, started on `host`; the segment's teardown stops it. */
export async function useServer(host: Host, config: TestServerConfig): Promise<DhcpServerUnderTest> {
  const server = createServer();
  await server.start(host, config);
  return server;
}

export async function leaseFor(server: DhcpServerUnderTest, ip: string): Promise<ServerLease> {
  const lease = (await server.leases()).find((l) => l.ip === ip);
  if (!lease) throw new Error(`the ${server.kind} server has no lease for ${ip}`);
  return lease;
}

/**
 * Polls the server's lease table until `accept` holds for the lease on `ip`
 * (undefined when there is none): what the server records after it answers
 * a RELEASE or a DECLINE is not synchronised with anything a test can see.
 */
export async function waitForLease(
  server: DhcpServerUnderTest,
  ip: string,
  what: string,
  accept: (lease: ServerLease | undefined) => boolean,
): Promise<ServerLease | undefined> {
  let last: ServerLease | undefined;
  await pollUntil(`${server.kind} to show the lease on ${ip} ${what}`, async () => {
    last = (await server.leases()).find((l) => l.ip === ip);
    return accept(last);
  }, { timeoutMs: 5000, describe: () => `last seen: ${JSON.stringify(last)}` });
  return last;
}

/** The IPv4 addresses (with prefix length) on a host's segment interface. */
export async function addressesOf(host: Host): Promise<string[]> {
  const { stdout } = await host.segment.ip(host.netns, '-4', '-o', 'addr', 'show', 'dev', host.ifname);
  return [...stdout.matchAll(/inet (\S+)/g)].map((m) => m[1]);
}

/**
 * Renews (SIGUSR1) until the server's expiry for `ip` moves past `before`:
 * a server may count in whole seconds, so one renewal in the same second as
 * the grant proves nothing. Each renewal must keep the address.
 */
export async function renewUntilExtended(client: UdhcpcClient, server: DhcpServerUnderTest, ip: string, before: number): Promise<ServerLease> {
  return pollUntil(`${server.kind} to extend the lease on ${ip}`, async () => {
    client.renew();
    const renewed = await client.waitFor('renew');
    if (renewed.ip !== ip) throw new Error(`renewal moved the client from ${ip} to ${renewed.ip}`);
    const lease = await leaseFor(server, ip);
    return lease.expiresAt > before && lease;
  }, { timeoutMs: 10_000, intervalMs: 200 });
}
