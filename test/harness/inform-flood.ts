// Run inside a test namespace: sends DHCPINFORMs whose ciaddr is a random
// on-link address nobody owns, from random chaddrs, at a bounded rate and
// count, to a subnet-directed broadcast on UDP port 67. Each one asks the
// server for a unicast ACK to that ciaddr (RFC 2131 §4.1, §4.3.5), which
// through the IP stack would wait on ARP for an answer that never comes.
// Only ever addresses inside the given 198.18.0.0/15 prefix.
//   node --import=tsx test/harness/inform-flood.ts BROADCAST CIADDR_PREFIX/24 COUNT RATE
// Prints {"sent":N,"ms":T} when done.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';
import { intToIp, ipToInt } from '../../lib/wire/ipv4.ts';

const [broadcast, prefix, countText, rateText] = process.argv.slice(2);
const [network, lengthText] = (prefix ?? '').split('/');
const count = Number(countText);
const rate = Number(rateText);
if (!broadcast || lengthText !== '24' || !(count > 0) || !(rate > 0) || !broadcast.startsWith('198.1') || !network.startsWith('198.1')) {
  process.stderr.write('usage: inform-flood.ts BROADCAST 198.18.x.0/24 COUNT RATE\n');
  process.exit(2);
}
const base = ipToInt(network);

function inform(): Buffer {
  const msg = new Dhcp4Message();
  msg.op = 1;
  msg.xid = randomBytes(4).readUInt32BE(0);
  // .2-.99: on the link, outside the test's pool and hosts.
  msg.ciaddr = intToIp(base + 2 + Math.floor(Math.random() * 98));
  const chaddr = Buffer.alloc(16);
  randomBytes(6).copy(chaddr);
  chaddr[0] = (chaddr[0] & 0xfe) | 0x02; // locally administered, unicast
  msg.chaddr = chaddr;
  msg.options.set(Opt.MessageType, Dhcp4MessageType.Inform);
  return msg.encode();
}

const socket = dgram.createSocket('udp4');
socket.bind(0, () => {
  socket.setBroadcast(true);
  const started = Date.now();
  let sent = 0;
  const perTick = Math.max(1, Math.round(rate / 100));
  const timer = setInterval(() => {
    for (let i = 0; i < perTick && sent < count; i++, sent++) socket.send(inform(), 67, broadcast);
    if (sent >= count) {
      clearInterval(timer);
      socket.close(() => process.stdout.write(`${JSON.stringify({ sent, ms: Date.now() - started })}\n`));
    }
  }, 10);
});
