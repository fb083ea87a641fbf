import test from 'ava';
import { BUCKET_COUNT, RFC3074_MIXING_TABLE, bucketOf, loadBalanceHash, loadBalanceKey } from '../../lib/dhcp4/load-balance-hash.ts';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';
import { shouldAnswer, type LoadBalanceView } from '../../server/dhcp4/load-balance.ts';

// RFC 3074 §5/§6: the hash Kea's HA hook and ISC DHCP's failover use, and
// which requests a server answers when several split the clients.

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('the mixing table is a permutation of 0..255 (RFC 3074 §6)', (t) => {
  t.is(RFC3074_MIXING_TABLE.length, 256);
  t.deepEqual([...RFC3074_MIXING_TABLE].sort((a, b) => a - b), Array.from({ length: 256 }, (_, i) => i));
});

test('hash test vectors computed from the RFC 3074 §6 table', (t) => {
  t.is(loadBalanceHash(hex('00 00 00 00 00 00')), 254);
  t.is(loadBalanceHash(hex('02 42 c6 12 00 0b')), 237);
  t.is(loadBalanceHash(hex('ff ff ff ff ff ff')), 79);
  t.is(loadBalanceHash(hex('01 02 42 c6 12 00 0b')), 101);
  t.is(loadBalanceHash(Buffer.concat([hex('00'), Buffer.from('leasehold:abcdef012345')])), 123);
});

test('the hash starts from the length and reads the key backwards', (t) => {
  // Independent of the module: h = len; for i from last to first, h = T[h ^ key[i]].
  const key = hex('de ad be ef');
  const T = RFC3074_MIXING_TABLE;
  t.is(loadBalanceHash(key), T[T[T[T[4 ^ 0xef] ^ 0xbe] ^ 0xad] ^ 0xde]);
  t.is(loadBalanceHash(new Uint8Array()), 0);
});

function request(type: Dhcp4MessageType, init: { mac?: string; clientId?: string; secs?: number; ciaddr?: string; serverId?: string; hlen?: number } = {}): Dhcp4Message {
  const chaddr = Buffer.alloc(16);
  hex(init.mac ?? '02 42 c6 12 00 0b').copy(chaddr);
  const msg = new Dhcp4Message({ chaddr, secs: init.secs ?? 0, ciaddr: init.ciaddr, hlen: init.hlen ?? 6 });
  msg.options.set(Opt.MessageType, type);
  if (init.clientId !== undefined) msg.options.setRaw(61, hex(init.clientId));
  if (init.serverId !== undefined) msg.options.set(Opt.ServerId, init.serverId);
  return msg;
}

test('the key is option 61 whole (type byte included), else chaddr[0..hlen)', (t) => {
  t.is(bucketOf(request(Dhcp4MessageType.Discover)), 237);
  t.is(bucketOf(request(Dhcp4MessageType.Discover, { clientId: '01 02 42 c6 12 00 0b' })), 101);
  t.deepEqual([...(loadBalanceKey(request(Dhcp4MessageType.Discover, { hlen: 0 })) ?? [])], []);
  t.is(bucketOf(request(Dhcp4MessageType.Discover, { hlen: 0 })), undefined);
});

const MINE = 237;
const view = (over: Partial<LoadBalanceView> = {}): LoadBalanceView => ({
  fenced: false,
  servesBucket: (b) => b === MINE,
  loadBalanceMaxSecs: 10,
  grantedByUs: () => false,
  ...over,
});
const OTHER_MAC = 'ff ff ff ff ff ff'; // bucket 79

test('DISCOVER: own bucket answered, another server\'s not, until secs reaches the service delay', (t) => {
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Discover), view()), { answer: true, why: 'own-bucket' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Discover, { mac: OTHER_MAC }), view()), { answer: false, reason: 'other-server' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Discover, { mac: OTHER_MAC, secs: 9 }), view()), { answer: false, reason: 'other-server' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Discover, { mac: OTHER_MAC, secs: 10 }), view()), { answer: true, why: 'service-delay' });
  // 0 turns the service delay off.
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Discover, { mac: OTHER_MAC, secs: 65535 }), view({ loadBalanceMaxSecs: 0 })), {
    answer: false,
    reason: 'other-server',
  });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Inform, { mac: OTHER_MAC }), view()), { answer: false, reason: 'other-server' });
});

test('fenced: nothing is answered, not even a renewal of our own lease', (t) => {
  const fenced = view({ fenced: true, grantedByUs: () => true });
  for (const type of [Dhcp4MessageType.Discover, Dhcp4MessageType.Request, Dhcp4MessageType.Release, Dhcp4MessageType.Decline]) {
    t.deepEqual(shouldAnswer(request(type, { secs: 100, ciaddr: '198.18.1.5' }), fenced), { answer: false, reason: 'fenced' });
  }
});

test('the client chose a server (option 54, DECLINE, RELEASE): the engine\'s server identifier check decides', (t) => {
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Request, { mac: OTHER_MAC, serverId: '198.18.0.2' }), view()), { answer: true, why: 'server-chosen' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Release, { mac: OTHER_MAC }), view()), { answer: true, why: 'server-chosen' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Decline, { mac: OTHER_MAC }), view()), { answer: true, why: 'server-chosen' });
});

test('RENEWING/REBINDING: answered when we granted the lease, else by bucket; INIT-REBOOT by bucket', (t) => {
  const ours = view({ grantedByUs: (ip) => ip === '198.18.1.5' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Request, { mac: OTHER_MAC, ciaddr: '198.18.1.5' }), ours), { answer: true, why: 'renewal-of-ours' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Request, { mac: OTHER_MAC, ciaddr: '198.18.1.6' }), ours), { answer: false, reason: 'other-server' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Request, { ciaddr: '198.18.1.6' }), ours), { answer: true, why: 'own-bucket' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Request, { mac: OTHER_MAC }), ours), { answer: false, reason: 'other-server' });
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Request), ours), { answer: true, why: 'own-bucket' });
});

test('a request with no identity to hash is answered (the database still arbitrates)', (t) => {
  t.deepEqual(shouldAnswer(request(Dhcp4MessageType.Discover, { hlen: 0 }), view({ servesBucket: () => false })), { answer: true, why: 'unhashable' });
  t.is(BUCKET_COUNT, 256);
});
