import { join } from 'node:path';
import type { Host } from './netns.ts';
import type { TrackedProcess } from './tracked-process.ts';

export interface RelayOptions {
  serverIp: string;
  /** Interface towards the server. */
  upstreamIf: string;
  /** Interface towards the clients; its address becomes giaddr. */
  downstreamIf: string;
  /**
   * `-a`: add relay agent information (option 82, circuit-id = the
   * downstream interface) and strip it from replies; dhcrelay drops a reply
   * whose option 82 does not name one of its interfaces (RFC 3046 §2.2).
   */
  appendAgentInfo?: boolean;
}

/**
 * ISC dhcrelay in a namespace that sits on two segments. IP forwarding is
 * switched on in that namespace only, so unicast renewals from relayed
 * clients reach the server too.
 */
export async function startRelay(host: Host, options: RelayOptions): Promise<TrackedProcess> {
  const segment = host.segment;
  await segment.exec(host.netns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  const child = segment.spawnIn(
    host.netns,
    ['dhcrelay', '-d', '-4', '-pf', join(segment.tmpDir, `dhcrelay-${host.name}.pid`),
      ...(options.appendAgentInfo ? ['-a'] : []),
      '-id', options.downstreamIf, '-iu', options.upstreamIf, options.serverIp],
    { label: `dhcrelay@${host.netns}` },
  );
  // dhcrelay lists its sockets once they are open.
  await child.waitForOutput(new RegExp(`Sending on +LPF/${options.upstreamIf}/`), 10_000);
  await child.waitForOutput(new RegExp(`Listening on +LPF/${options.downstreamIf}/`), 10_000);
  return child;
}
