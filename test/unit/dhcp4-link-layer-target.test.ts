import test from 'ava';
import { Dhcp4MessageType } from '../../lib/dhcp4/option-defs.ts';
import { linkLayerTarget, replyDestination } from '../../server/dhcp4/reply-destination.ts';
import { clientRequest } from './helpers/dhcp4-requests.ts';

const MAC = '02:00:5e:10:20:30';

test('a unicast to ciaddr on the link goes straight to chaddr (no ARP)', (t) => {
  const req = clientRequest({ type: Dhcp4MessageType.Inform, mac: MAC, ciaddr: '198.18.20.77' });
  const to = replyDestination(req, Dhcp4MessageType.Ack);
  t.deepEqual(to, { address: '198.18.20.77', port: 68 });
  t.is(linkLayerTarget(req, to)?.toString('hex'), '02005e102030');
});

test('broadcasts, relayed requests and NAKs go through the IP stack', (t) => {
  const discover = clientRequest({ type: Dhcp4MessageType.Discover, mac: MAC });
  t.is(linkLayerTarget(discover, replyDestination(discover, Dhcp4MessageType.Offer)), undefined);
  const relayed = clientRequest({ type: Dhcp4MessageType.Request, mac: MAC, ciaddr: '198.18.30.7', giaddr: '198.18.30.1' });
  t.is(linkLayerTarget(relayed, replyDestination(relayed, Dhcp4MessageType.Ack)), undefined);
  const renewNak = clientRequest({ type: Dhcp4MessageType.Request, mac: MAC, ciaddr: '198.18.20.77' });
  t.is(linkLayerTarget(renewNak, replyDestination(renewNak, Dhcp4MessageType.Nak)), undefined);
});

test('no link-layer send without a usable Ethernet address', (t) => {
  const to = { address: '198.18.20.77', port: 68 };
  const tokenRing = clientRequest({ type: Dhcp4MessageType.Inform, mac: MAC, ciaddr: to.address });
  tokenRing.htype = 6;
  t.is(linkLayerTarget(tokenRing, to), undefined);
  const longAddress = clientRequest({ type: Dhcp4MessageType.Inform, mac: MAC, ciaddr: to.address });
  longAddress.hlen = 16;
  t.is(linkLayerTarget(longAddress, to), undefined);
  for (const mac of ['01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00']) {
    t.is(linkLayerTarget(clientRequest({ type: Dhcp4MessageType.Inform, mac, ciaddr: to.address }), to), undefined, mac);
  }
  // Somewhere other than ciaddr (never chosen by replyDestination, but the rule is about ciaddr).
  t.is(linkLayerTarget(clientRequest({ type: Dhcp4MessageType.Inform, mac: MAC, ciaddr: to.address }), { address: '198.18.20.78', port: 68 }), undefined);
});
