import type { Host, Segment } from './netns.ts';
import { pollUntil } from './poll.ts';
import type { TrackedProcess } from './tracked-process.ts';

/** The fields of one captured DHCP packet the tests look at; absent fields are empty strings. */
export interface CapturedDhcp {
  ethDst: string;
  ipSrc: string;
  ipDst: string;
  /** Option 53 (1 DISCOVER … 7 RELEASE, 8 INFORM). */
  messageType: number;
  chaddr: string;
  ciaddr: string;
  yiaddr: string;
  giaddr: string;
  serverId: string;
  requestedIp: string;
  /** Relay agent information (option 82), circuit-id sub-option, as hex. */
  circuitId: string;
  /** The transaction id, `0x…`: a reply carries its request's. */
  xid: string;
  /** When the kernel captured it, ms since the epoch (the wall clock Date.now() reads). */
  at: number;
  /** The capture interface (a bridge port with startPortCapture). */
  interface: string;
}

// tshark -e fields, in the order parseLine reads them.
const FIELDS = [
  'eth.dst', 'ip.src', 'ip.dst', 'dhcp.option.dhcp', 'dhcp.hw.mac_addr', 'dhcp.ip.client', 'dhcp.ip.your',
  'dhcp.ip.relay', 'dhcp.option.dhcp_server_id', 'dhcp.option.requested_ip_address',
  'dhcp.option.agent_information_option.agent_circuit_id', 'dhcp.id', 'frame.time_epoch', 'frame.interface_name',
];

function parseLine(line: string): CapturedDhcp {
  const cells = line.split('\t');
  const cell = (i: number) => cells[i] ?? '';
  return {
    ethDst: cell(0),
    ipSrc: cell(1),
    ipDst: cell(2),
    messageType: Number(cell(3)),
    chaddr: cell(4),
    ciaddr: cell(5),
    yiaddr: cell(6),
    giaddr: cell(7),
    serverId: cell(8),
    requestedIp: cell(9),
    circuitId: cell(10),
    xid: cell(11),
    at: Number(cell(12)) * 1000,
    interface: cell(13),
  };
}

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/**
 * tshark on one interface of a namespace, decoding DHCP: the evidence that a
 * renewal went unicast, a rebind went broadcast, a relay set giaddr.
 */
export class DhcpCapture {
  constructor(private readonly process: TrackedProcess) {}

  packets(): CapturedDhcp[] {
    return this.process.output
      .split('\n')
      .filter((line) => line.includes('\t'))
      .map(parseLine);
  }

  async waitFor(what: string, predicate: (packet: CapturedDhcp) => boolean, timeoutMs = 15_000): Promise<CapturedDhcp> {
    return pollUntil(what, () => this.packets().find(predicate), {
      timeoutMs,
      describe: () => `captured:\n${this.packets().map((p) => JSON.stringify(p)).join('\n')}`,
    });
  }
}

export async function startDhcpCapture(host: Host): Promise<DhcpCapture> {
  return capture(host.segment, host.netns, [host.ifname], {});
}

/**
 * tshark in the segment's core on the bridge ports of `hosts`: every DHCP
 * packet those hosts send or receive, in one time-ordered stream, and it
 * keeps capturing when a host's processes die (a server killed with SIGKILL).
 */
export async function startPortCapture(segment: Segment, hosts: readonly Host[], options: CaptureOptions = {}): Promise<DhcpCapture> {
  return capture(segment, segment.coreNetns, hosts.map((h) => segment.portOf(h)), options);
}

export interface CaptureOptions {
  /** Output kept, in characters (default 1 MiB). */
  outputLimit?: number;
  /** dumpcap's kernel buffer per interface, MiB (default 2): more, so a loaded machine drops no packet. */
  bufferMiB?: number;
}

async function capture(segment: Segment, netns: string, ifnames: readonly string[], options: CaptureOptions): Promise<DhcpCapture> {
  const buffer = options.bufferMiB === undefined ? [] : ['-B', String(options.bufferMiB)];
  const child = segment.spawnIn(
    netns,
    // -f and -B before the first -i: the setting of every interface (after one, of that one only).
    ['tshark', '-f', 'udp port 67 or udp port 68', ...buffer, ...ifnames.flatMap((i) => ['-i', i]), '-l', '-n', '-Y', 'dhcp', '-T', 'fields', '-E', 'occurrence=f',
      ...FIELDS.flatMap((field) => ['-e', field])],
    // dumpcap's ring file goes to TMPDIR: keep it in the segment's temp dir.
    { label: `tshark@${netns}`, env: { TMPDIR: segment.tmpDir, HOME: segment.tmpDir }, outputLimit: options.outputLimit },
  );
  await child.waitForOutput(/Capturing on/, 20_000);
  return new DhcpCapture(child);
}
