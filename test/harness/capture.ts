import type { Host } from './netns.ts';
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
  /** When the kernel captured it, ms since the epoch (the wall clock Date.now() reads). */
  at: number;
}

// tshark -e fields, in the order parseLine reads them.
const FIELDS = [
  'eth.dst', 'ip.src', 'ip.dst', 'dhcp.option.dhcp', 'dhcp.hw.mac_addr', 'dhcp.ip.client', 'dhcp.ip.your',
  'dhcp.ip.relay', 'dhcp.option.dhcp_server_id', 'dhcp.option.requested_ip_address',
  'dhcp.option.agent_information_option.agent_circuit_id', 'frame.time_epoch',
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
    at: Number(cell(11)) * 1000,
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
  const child = host.segment.spawnIn(
    host.netns,
    ['tshark', '-i', host.ifname, '-l', '-n', '-f', 'udp port 67 or udp port 68', '-Y', 'dhcp', '-T', 'fields', '-E', 'occurrence=f',
      ...FIELDS.flatMap((field) => ['-e', field])],
    // dumpcap's ring file goes to TMPDIR: keep it in the segment's temp dir.
    { label: `tshark@${host.netns}`, env: { TMPDIR: host.segment.tmpDir, HOME: host.segment.tmpDir } },
  );
  await child.waitForOutput(/Capturing on/, 20_000);
  return new DhcpCapture(child);
}
