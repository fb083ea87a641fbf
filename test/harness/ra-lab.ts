// The pieces the RA integration tests and the RA benchmark share: a router
// and clients on a harness segment with the IPv6 settings SLAAC needs,
// Leasehold or radvd advertising the same thing, and what a client's
// kernel made of it. (They would sit in test/harness/ once RA settles.)
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Host, Segment } from './netns.ts';
import { pollUntil } from './poll.ts';
import type { TrackedProcess } from './tracked-process.ts';
import { bufferToIpv6, ipv6ToBuffer } from '../../lib/wire/ipv6.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The RA fixtures' helper scripts (rs-probe.ts, icmpv6-listen.ts). */
const HERE = join(REPO_ROOT, 'test', 'fixtures', 'ra');

/** The lab's prefix, resolver and search domain (config/leasehold.example.yaml). */
export const LAB_PREFIX = 'fd00:198:18::/64';
export const LAB_RDNSS = 'fd00:198:18::2';
export const LAB_DNSSL = 'leasehold.test';
/** A route next to the prefix, to see RFC 4191 Route Information land in a routing table. */
export const LAB_ROUTE = 'fd00:198:19::/48';

/** The router's MAC and the link-local address the kernel forms from it (RFC 4291 Appendix A). */
export const ROUTER_MAC = '02:00:00:00:00:01';
export const ROUTER_LINK_LOCAL = 'fe80::ff:fe00:1';

/**
 * The modified EUI-64 interface identifier of a MAC (RFC 4291 Appendix A:
 * ff:fe in the middle, the universal/local bit inverted) in a /64, written
 * out here rather than taken from the server, so the test checks it.
 */
export function eui64Address(prefix64: string, mac: string): string {
  const address = ipv6ToBuffer(prefix64.split('/')[0]);
  const m = mac.split(':').map((h) => parseInt(h, 16));
  Buffer.from([m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]).copy(address, 8);
  return bufferToIpv6(address);
}

async function sysctls(segment: Segment, host: Host, settings: Record<string, string | number>): Promise<void> {
  for (const [key, value] of Object.entries(settings)) {
    await segment.exec(host.netns, ['sysctl', '-qw', `net.ipv6.conf.${key.replace('IF', host.ifname)}=${value}`]);
  }
}

/** Down and up again: IPv6 starts over with the new settings (addresses and RA routes are flushed on down). */
export async function restartLink(host: Host): Promise<void> {
  await host.segment.ip(host.netns, 'link', 'set', host.ifname, 'down');
  await host.segment.ip(host.netns, 'link', 'set', host.ifname, 'up');
}

/**
 * The router side. DAD off (the kernel's would keep the link-local
 * tentative for a second, dad_transmits × retrans_time, and no RA may go
 * out before it passes). `forwarding` for radvd, which advertises Router
 * Lifetime 0 when the host does not forward.
 */
export async function prepareRouter(router: Host, options: { forwarding?: boolean } = {}): Promise<void> {
  await sysctls(router.segment, router, { 'IF.accept_dad': 0, ...(options.forwarding && { 'all.forwarding': 1 }) });
  await restartLink(router);
  await waitForLinkLocal(router);
}

/**
 * No IPv6 on the segment's bridge and its ports: the core namespace would
 * otherwise solicit routers and form addresses like any host, and its RSs
 * would be counted with the clients'. A bridge forwards without it.
 */
export async function quietBridge(segment: Segment): Promise<void> {
  for (const scope of ['all', 'default']) {
    await segment.exec(segment.coreNetns, ['sysctl', '-qw', `net.ipv6.conf.${scope}.disable_ipv6=1`]);
  }
}

export interface ClientOptions {
  /** The kernel sends Router Solicitations (default) or only listens for unsolicited RAs. */
  solicit?: boolean;
  /** Installs Route Information routes up to /64 (Linux ignores them by default). */
  routeInformation?: boolean;
}

/**
 * A client the way the agent sets up containers: accept_ra, SLAAC with an
 * EUI-64 identifier (addr_gen_mode 0), no DAD, so the address is usable as
 * soon as the RA is in; its link then starts over with these settings. Kernel timings that remain: the first RS goes out
 * once the link-local address is usable (at once without DAD), then every
 * router_solicitation_interval (4 s) until an RA comes.
 */
export async function prepareClient(client: Host, options: ClientOptions = {}): Promise<void> {
  await sysctls(client.segment, client, {
    'IF.accept_ra': 1,
    'IF.autoconf': 1,
    'IF.addr_gen_mode': 0,
    'IF.accept_dad': 0,
    'IF.router_solicitations': options.solicit === false ? 0 : -1,
    'IF.accept_ra_rt_info_max_plen': options.routeInformation ? 64 : 0,
  });
  await restartLink(client);
  await waitForLinkLocal(client);
}

export async function waitForLinkLocal(host: Host): Promise<void> {
  await pollUntil(`a usable link-local address on ${host.netns}`, async () => {
    const { stdout } = await host.segment.ip(host.netns, '-6', 'addr', 'show', 'dev', host.ifname, 'scope', 'link');
    return stdout.includes('inet6 fe80:') && !stdout.includes('tentative');
  }, { timeoutMs: 5000 });
}

/** The lab's RA settings, in Leasehold's config terms; `over` replaces fields. */
export function labRa(ifname: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: ifname,
    maxIntervalSeconds: 10,
    minIntervalSeconds: 3,
    routerLifetimeSeconds: 1800,
    mtu: 1400,
    prefixes: [{ prefix: LAB_PREFIX, validLifetimeSeconds: 86400, preferredLifetimeSeconds: 14400 }],
    routes: [{ prefix: LAB_ROUTE, preference: 'high', lifetimeSeconds: 1800 }],
    rdnss: [LAB_RDNSS],
    dnssl: [LAB_DNSSL],
    dnsLifetimeSeconds: 1800,
    ...over,
  };
}

/** The same as radvd.conf (radvd's defaults match ours for everything not named). */
export function labRadvdConf(ifname: string, intervals = { minSeconds: 3, maxSeconds: 10 }): string {
  return `interface ${ifname} {
  AdvSendAdvert on;
  MinRtrAdvInterval ${intervals.minSeconds};
  MaxRtrAdvInterval ${intervals.maxSeconds};
  AdvDefaultLifetime 1800;
  AdvLinkMTU 1400;
  prefix ${LAB_PREFIX} { AdvValidLifetime 86400; AdvPreferredLifetime 14400; };
  route ${LAB_ROUTE} { AdvRoutePreference high; AdvRouteLifetime 1800; };
  RDNSS ${LAB_RDNSS} { AdvRDNSSLifetime 1800; };
  DNSSL ${LAB_DNSSL} { AdvDNSSLLifetime 1800; };
};
`;
}

/**
 * `leasehold-server serve` on the router with `ra` as its one RA interface
 * (and the DHCPv4 side it always runs, on a subnet no client asks from).
 * Resolves once it logged "ready"; the segment stops it. Tests read its
 * debug log (every solicitation, and what was done about it).
 */
export async function startLeasehold(
  router: Host,
  ra: Record<string, unknown>,
  { name = 'leasehold', logLevel = 'debug' }: { name?: string; logLevel?: 'debug' | 'info' } = {},
): Promise<TrackedProcess> {
  const dir = router.segment.tmpDir;
  const configPath = join(dir, `${name}.json`);
  await writeFile(
    configPath,
    JSON.stringify({
      interfaces: [{ name: router.ifname, address: '198.18.0.1' }],
      subnets: [{ id: 'lab', subnet: '198.18.0.0/16', interface: router.ifname, leaseTime: 3600 }],
      leaseStore: { path: join(dir, `${name}.sqlite`) },
      log: { level: logLevel },
      ra: { interfaces: [ra] },
    }),
  );
  const child = router.segment.spawnIn(router.netns, ['node', '--import=tsx', 'server/cli/main.ts', 'serve', '--config', configPath], {
    cwd: REPO_ROOT,
    label: `${name}@${router.netns}`,
  });
  await child.waitForOutput(/"event":"ready"/, 30_000);
  return child;
}

/** radvd in the foreground with our own config and pid file (never the system's). */
export async function startRadvd(router: Host, conf: string, name = 'radvd'): Promise<TrackedProcess> {
  const confPath = join(router.segment.tmpDir, `${name}.conf`);
  await writeFile(confPath, conf);
  const child = router.segment.spawnIn(router.netns, ['radvd', '-n', '-m', 'stderr', '-d', '1', '-C', confPath, '-p', join(router.segment.tmpDir, `${name}.pid`)], {
    label: `${name}@${router.netns}`,
  });
  await child.waitForOutput(/version \S+ started/, 10_000);
  return child;
}

/**
 * What the client's kernel did with the RAs: its IPv6 addresses on the
 * link and routes through it, with the countdowns (lifetimes left,
 * "expires") taken out, and the IPv6 MTU of the link.
 */
export interface ClientIpv6 {
  addresses: string[];
  routes: string[];
  mtu: string;
}

export async function clientIpv6(client: Host): Promise<ClientIpv6> {
  const { segment, netns, ifname } = client;
  const addresses = (await segment.ip(netns, '-6', '-o', 'addr', 'show', 'dev', ifname)).stdout
    .split('\n')
    .map((line) => line.match(/inet6 (.*?)\s*\\/)?.[1])
    .filter((line): line is string => line !== undefined);
  const routes = (await segment.ip(netns, '-6', 'route', 'show', 'dev', ifname)).stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.replace(/ expires \d+sec/, '').trim());
  const mtu = (await segment.exec(netns, ['sysctl', '-n', `net.ipv6.conf.${ifname}.mtu`])).stdout.trim();
  return { addresses: addresses.sort(), routes: routes.sort(), mtu };
}

export async function waitForClient(client: Host, what: string, accept: (state: ClientIpv6) => boolean, timeoutMs = 15_000): Promise<ClientIpv6> {
  let last: ClientIpv6 | undefined;
  return pollUntil(
    `${client.netns}: ${what}`,
    async () => {
      last = await clientIpv6(client);
      return accept(last) && last;
    },
    { timeoutMs, describe: () => `last seen: ${JSON.stringify(last, null, 1)}` },
  );
}

/** rs-probe.ts in `host`'s namespace (see that file); returns its JSON line. */
export async function rsProbe(host: Host, args: string[]): Promise<Record<string, number>> {
  const { stdout } = await host.segment.exec(host.netns, ['node', '--import=tsx', join(HERE, 'rs-probe.ts'), ...args], { cwd: REPO_ROOT });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

/** One Router Advertisement as tshark saw it on the wire. */
export interface CapturedRa {
  /** Seconds since the epoch. */
  time: number;
  source: string;
  destination: string;
  hopLimit: number;
  /** Router Lifetime, s: 0 in a final RA (RFC 4861 §6.2.5). */
  routerLifetime: number;
  /** Preferred lifetime of the first prefix, s; NaN without one. */
  preferredLifetime: number;
}

export interface RaCapture {
  /** Every RA seen so far. */
  captured(): CapturedRa[];
  /** Resolves with the first `count` RAs once that many were seen. */
  waitForCount(count: number, timeoutMs: number): Promise<CapturedRa[]>;
}

/** tshark on `host`'s interface, recording every RA: the IPv6 header fields the kernel set for us. */
export async function startRaCapture(host: Host): Promise<RaCapture> {
  const child = host.segment.spawnIn(
    host.netns,
    ['tshark', '-i', host.ifname, '-l', '-n', '-f', 'icmp6', '-Y', 'icmpv6.type == 134', '-T', 'fields', '-E', 'occurrence=f',
      '-e', 'frame.time_epoch', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'ipv6.hlim', '-e', 'icmpv6.nd.ra.router_lifetime',
      '-e', 'icmpv6.opt.prefix.preferred_lifetime'],
    // dumpcap's ring file goes to TMPDIR: keep it in the segment's temp dir.
    { label: `tshark@${host.netns}`, env: { TMPDIR: host.segment.tmpDir, HOME: host.segment.tmpDir } },
  );
  await child.waitForOutput(/Capturing on/, 20_000);
  const captured = (): CapturedRa[] =>
    child.output
      .split('\n')
      .map((line) => line.split('\t'))
      .filter((cells) => cells.length === 6)
      .map(([time, source, destination, hopLimit, routerLifetime, preferredLifetime]) => ({
        time: Number(time),
        source,
        destination,
        hopLimit: Number(hopLimit),
        routerLifetime: Number(routerLifetime),
        preferredLifetime: preferredLifetime === '' ? NaN : Number(preferredLifetime),
      }));
  return {
    captured,
    waitForCount: (count, timeoutMs) =>
      pollUntil(`${count} RAs on ${host.netns}`, () => captured().length >= count && captured().slice(0, count), {
        timeoutMs,
        describe: () => child.tail(),
      }),
  };
}
