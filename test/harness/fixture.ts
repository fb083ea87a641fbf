import type { ExecutionContext, TestFn } from 'ava';
import { createSegment, sweepStale, type Host, type Segment } from './netns.ts';
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

export async function hasBoundLease(server: DhcpServerUnderTest, ip: string): Promise<boolean> {
  return (await server.leases()).some((lease) => lease.ip === ip && lease.state === 'bound');
}

/** The IPv4 addresses (with prefix length) on a host's segment interface. */
export async function addressesOf(host: Host): Promise<string[]> {
  const { stdout } = await host.segment.ip(host.netns, '-4', '-o', 'addr', 'show', 'dev', host.ifname);
  return [...stdout.matchAll(/inet (\S+)/g)].map((m) => m[1]);
}
