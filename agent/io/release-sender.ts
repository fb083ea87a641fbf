import { run } from './exec.ts';

/**
 * Sends one DHCPRELEASE to the server (UDP port 67, unicast as RFC 2131
 * §4.4.6 has it) from the bridge's namespace. Node cannot enter another
 * netns, so a short node child does the send under nsenter; releases are
 * rare (one per dead attachment, with back-off), so its start-up is fine.
 */
const SEND_SCRIPT =
  "const s=require('dgram').createSocket('udp4');" +
  "s.send(Buffer.from(process.argv[1],'hex'),67,process.argv[2],(e)=>{s.close();process.exit(e?1:0)})";

export async function sendRelease(bridgeNetns: string | undefined, serverId: string, packet: Buffer): Promise<void> {
  const enter = bridgeNetns ? ['nsenter', `--net=/run/netns/${bridgeNetns}`] : [];
  await run([...enter, process.execPath, '-e', SEND_SCRIPT, packet.toString('hex'), serverId], { timeoutMs: 10_000 });
}
