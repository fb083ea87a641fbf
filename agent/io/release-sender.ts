import type { ReleaseDatagram, ReleaseSender } from '../core/pending-release.ts';
import { run } from './exec.ts';

/**
 * Sends DHCPRELEASEs to their servers (UDP port 67, unicast as RFC 2131
 * §4.4.6 has it) from the bridge's namespace. Node cannot enter another
 * netns, so a short node child does the sending under nsenter — one child
 * for every release due in that namespace in a pass.
 */
const SEND_SCRIPT =
  "const s=require('dgram').createSocket('udp4');const a=process.argv.slice(1);let n=a.length/2,bad=0;" +
  "if(!n)process.exit(0);" +
  "for(let i=0;i<a.length;i+=2)s.send(Buffer.from(a[i],'hex'),67,a[i+1],(e)=>{if(e)bad++;if(--n===0){s.close();process.exit(bad?1:0)}})";

async function sendReleases(bridgeNetns: string | undefined, datagrams: readonly ReleaseDatagram[]): Promise<void> {
  if (datagrams.length === 0) return;
  const enter = bridgeNetns ? ['nsenter', `--net=/run/netns/${bridgeNetns}`] : [];
  const args = datagrams.flatMap((d) => [d.packet.toString('hex'), d.serverId]);
  await run([...enter, process.execPath, '-e', SEND_SCRIPT, ...args], { timeoutMs: 10_000 });
}

export const nsenterReleaseSender: ReleaseSender = { send: sendReleases };
