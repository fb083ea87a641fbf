import test from 'ava';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt, optionDefByCode } from '../../lib/dhcp4/option-defs.ts';
import { circuitId, findSubOption, remoteId } from '../../lib/dhcp4/options/relay-agent-info.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';
import { assertOptionRoundTrip } from './helpers/roundtrip.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Runs `kind.decode` on hex data and returns the DecodeError it must throw. */
function decodeFails<T>(t: import('ava').ExecutionContext, decode: (b: Buffer) => T, data: string): DecodeError {
  const err = t.throws(() => decode(hex(data)), { instanceOf: DecodeError }, data);
  return err as DecodeError;
}

test('ip (subnet mask, server id, requested ip…): exactly 4 bytes', (t) => {
  assertOptionRoundTrip(Opt.SubnetMask, '255.255.255.0', 'ffffff00');
  assertOptionRoundTrip(Opt.ServerId, '198.18.0.1', 'c6120001');
  assertOptionRoundTrip(Opt.RequestedIp, '198.18.0.100', 'c6120064');
  assertOptionRoundTrip(Opt.BroadcastAddress, '198.18.255.255', 'c612ffff');
  decodeFails(t, Opt.SubnetMask.kind.decode, 'ffffff');
  decodeFails(t, Opt.SubnetMask.kind.decode, 'ffffff0000');
  t.throws(() => Opt.ServerId.kind.encode('198.18.0'), { instanceOf: EncodeError });
});

test('ip-list (routers, DNS, NTP): one or more addresses', (t) => {
  assertOptionRoundTrip(Opt.Router, ['198.18.0.1'], 'c6120001');
  assertOptionRoundTrip(Opt.DomainServer, ['198.18.0.2', '198.18.0.3'], 'c6120002c6120003');
  assertOptionRoundTrip(Opt.NtpServers, ['198.19.0.1']);
  // 70 addresses = 280 bytes: split into two options on the wire (RFC 3396).
  const many = Array.from({ length: 70 }, (_, i) => `198.18.1.${i}`);
  assertOptionRoundTrip(Opt.DomainServer, many);
  decodeFails(t, Opt.Router.kind.decode, '');
  decodeFails(t, Opt.Router.kind.decode, 'c612000102');
  t.throws(() => Opt.Router.kind.encode([]), { instanceOf: EncodeError });
});

test('u16 / u32 (MTU, max message size, lease, T1, T2) and u8 (overload)', (t) => {
  assertOptionRoundTrip(Opt.InterfaceMtu, 1500, '05dc');
  assertOptionRoundTrip(Opt.MaxMessageSize, 576, '0240');
  assertOptionRoundTrip(Opt.LeaseTime, 0xffffffff, 'ffffffff');
  assertOptionRoundTrip(Opt.RenewalTime, 1800, '00000708');
  assertOptionRoundTrip(Opt.RebindingTime, 3150, '00000c4e');
  t.is(Opt.Overload.kind.decode(hex('03')), 3);
  decodeFails(t, Opt.LeaseTime.kind.decode, '000e10');
  decodeFails(t, Opt.InterfaceMtu.kind.decode, '05dc00');
  for (const bad of [-1, 0x10000, 1.5, Number.NaN]) {
    t.throws(() => Opt.InterfaceMtu.kind.encode(bad), { instanceOf: EncodeError }, String(bad));
  }
  t.throws(() => Opt.LeaseTime.kind.encode(2 ** 32), { instanceOf: EncodeError });
});

test('string (host name, domain name, vendor class, message): bytes map 1:1, nothing trimmed', (t) => {
  assertOptionRoundTrip(Opt.Hostname, 'cap-udhcpc', '6361702d756468637063');
  assertOptionRoundTrip(Opt.DomainName, 'leasehold.test');
  assertOptionRoundTrip(Opt.VendorClassId, 'udhcp 1.35.0');
  assertOptionRoundTrip(Opt.Message, 'no address\u0000\u00ff');
  assertOptionRoundTrip(Opt.Hostname, '');
  assertOptionRoundTrip(Opt.Message, 'x'.repeat(600));
  t.is(Opt.Hostname.kind.decode(hex('68 00')), 'h\u0000', 'a NUL some clients append is kept');
  t.throws(() => Opt.Hostname.kind.encode('caf\u00e9\u20ac'), { instanceOf: EncodeError });
});

test('u8-list (parameter request list)', (t) => {
  assertOptionRoundTrip(Opt.ParamRequestList, [1, 3, 6, 12, 15, 28, 42, 119, 121], '0103060c0f1c2a7779');
  assertOptionRoundTrip(Opt.ParamRequestList, []);
  t.throws(() => Opt.ParamRequestList.kind.encode([1, 256]), { instanceOf: EncodeError });
});

test('message type (53): a one-byte enum; unknown types decode as their number', (t) => {
  assertOptionRoundTrip(Opt.MessageType, Dhcp4MessageType.Discover, '01');
  assertOptionRoundTrip(Opt.MessageType, Dhcp4MessageType.Inform, '08');
  t.is<number, number>(Opt.MessageType.kind.decode(hex('0d')), 13);
  t.is(Opt.MessageType.kind.format(Dhcp4MessageType.Ack), 'Ack');
  t.is(Opt.MessageType.kind.format(13 as Dhcp4MessageType), 'unknown(13)');
  decodeFails(t, Opt.MessageType.kind.decode, '');
  decodeFails(t, Opt.MessageType.kind.decode, '0101');
  t.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => Dhcp4MessageType[n]),
    ['Discover', 'Offer', 'Request', 'Decline', 'Ack', 'Nak', 'Release', 'Inform'],
  );
});

test('client identifier (61): type byte and binary id', (t) => {
  assertOptionRoundTrip(Opt.ClientId, { type: 1, id: hex('0a00c612c812') }, '010a00c612c812');
  // RFC 4361 §6.1: type 255, IAID, then a DUID.
  assertOptionRoundTrip(Opt.ClientId, { type: 255, id: hex('00000001 000100010203040506') });
  assertOptionRoundTrip(Opt.ClientId, { type: 0, id: Buffer.from('any\u0000binary') });
  assertOptionRoundTrip(Opt.ClientId, { type: 7, id: Buffer.alloc(0) });
  t.deepEqual(Opt.ClientId.kind.decode(hex('ff')), { type: 255, id: Buffer.alloc(0) });
  decodeFails(t, Opt.ClientId.kind.decode, '');
  t.is(Opt.ClientId.kind.format({ type: 1, id: hex('0a00c612c812') }), 'type=1 id=0a:00:c6:12:c8:12');
  t.throws(() => Opt.ClientId.kind.encode({ type: 256, id: Buffer.alloc(1) }), { instanceOf: EncodeError });
});

const noFlags = { s: false, o: false, e: false, n: false };

test('client FQDN (81): RFC 4702 §2.1 flag bits S=1, O=2, E=4, N=8', (t) => {
  const name = { rcode1: 0, rcode2: 0, name: 'h', partial: true };
  assertOptionRoundTrip(Opt.ClientFqdn, { ...name, flags: { ...noFlags, s: true } }, '010000 68');
  assertOptionRoundTrip(Opt.ClientFqdn, { ...name, flags: { ...noFlags, o: true } }, '020000 68');
  assertOptionRoundTrip(Opt.ClientFqdn, { ...name, flags: { ...noFlags, n: true } }, '080000 68');
  assertOptionRoundTrip(Opt.ClientFqdn, { ...name, flags: { ...noFlags, e: true } }, '040000 0168');
  assertOptionRoundTrip(Opt.ClientFqdn, { ...name, flags: { s: true, o: true, e: true, n: true } }, '0f0000 0168');
  // RFC 4702 §2.1: MBZ bits are ignored by the receiver.
  t.deepEqual(Opt.ClientFqdn.kind.decode(hex('f10000 68')).flags, { ...noFlags, s: true });
});

test('client FQDN (81): canonical wire-format names, full and partial (RFC 4702 §2.3.1)', (t) => {
  const flags = { ...noFlags, s: true, e: true };
  // What ISC dhclient sends for `send fqdn.fqdn "cap-dhclient.web."`.
  assertOptionRoundTrip(
    Opt.ClientFqdn,
    { flags, rcode1: 0, rcode2: 0, name: 'cap-dhclient.web', partial: false },
    '050000 0c6361702d6468636c69656e74 03776562 00',
  );
  // A partial name has no terminating root label.
  assertOptionRoundTrip(
    Opt.ClientFqdn,
    { flags, rcode1: 0, rcode2: 0, name: 'host.web', partial: true },
    '050000 04686f7374 03776562',
  );
  // Deprecated rcode values of 255 (RFC 4702 §2.2) survive.
  assertOptionRoundTrip(Opt.ClientFqdn, { flags, rcode1: 255, rcode2: 255, name: '', partial: false }, '05ffff 00');
  assertOptionRoundTrip(Opt.ClientFqdn, { flags, rcode1: 0, rcode2: 0, name: '', partial: true }, '050000');
  // Compression is not allowed in this option, nor bytes after the root label.
  decodeFails(t, Opt.ClientFqdn.kind.decode, '050000 0161 00 c003');
  decodeFails(t, Opt.ClientFqdn.kind.decode, '050000 0161 c003');
  decodeFails(t, Opt.ClientFqdn.kind.decode, '050000 0161 00 00');
  decodeFails(t, Opt.ClientFqdn.kind.decode, '050000 0561');
  decodeFails(t, Opt.ClientFqdn.kind.decode, '0500');
});

test('client FQDN (81): deprecated ASCII names; a trailing dot means fully qualified', (t) => {
  const flags = { ...noFlags, s: true };
  // What busybox udhcpc sends for `-F cap-udhcpc.web`.
  assertOptionRoundTrip(
    Opt.ClientFqdn,
    { flags, rcode1: 0, rcode2: 0, name: 'cap-udhcpc.web', partial: true },
    '010000 6361702d7564686370632e776562',
  );
  // What Kea answers to it.
  assertOptionRoundTrip(
    Opt.ClientFqdn,
    { flags: { ...noFlags, o: true, n: true }, rcode1: 0, rcode2: 0, name: 'cap-udhcpc.web', partial: false },
    '0a0000 6361702d7564686370632e7765622e',
  );
  assertOptionRoundTrip(Opt.ClientFqdn, { flags, rcode1: 0, rcode2: 0, name: '', partial: false }, '010000 2e');
  t.is(
    Opt.ClientFqdn.kind.format({ flags: { ...noFlags, s: true, e: true }, rcode1: 0, rcode2: 0, name: 'a.b', partial: false }),
    'a.b. flags=SE rcode=0/0',
  );
});

test('relay agent information (82): sub-options kept in order, circuit-id and remote-id helpers', (t) => {
  const info = {
    subOptions: [
      { code: 1, data: Buffer.from('eth0:42') },
      { code: 2, data: hex('0a00c612c801') },
      { code: 9, data: hex('000001') },
      { code: 1, data: Buffer.from('second') },
    ],
  };
  assertOptionRoundTrip(Opt.RelayAgentInfo, info, '0107 657468303a3432 0206 0a00c612c801 0903 000001 0106 7365636f6e64');
  t.deepEqual(circuitId(info), Buffer.from('eth0:42'), 'the first instance wins');
  t.deepEqual(remoteId(info), hex('0a00c612c801'));
  t.deepEqual(findSubOption(info, 9), hex('000001'));
  t.is(findSubOption(info, 5), undefined);
  assertOptionRoundTrip(Opt.RelayAgentInfo, { subOptions: [{ code: 1, data: Buffer.alloc(0) }] }, '0100');
  t.is(Opt.RelayAgentInfo.kind.format(info).split(' ')[0], 'circuit-id=65:74:68:30:3a:34:32');
  decodeFails(t, Opt.RelayAgentInfo.kind.decode, '0105 6162');
  decodeFails(t, Opt.RelayAgentInfo.kind.decode, '0102 6162 02');
  t.throws(() => Opt.RelayAgentInfo.kind.encode({ subOptions: [{ code: 1, data: Buffer.alloc(256) }] }), {
    instanceOf: EncodeError,
  });
});

test('domain search (119): RFC 3397 §2 example, compressed on encode', (t) => {
  const names = ['eng.apple.com', 'marketing.apple.com'];
  const data = assertOptionRoundTrip(
    Opt.DomainSearch,
    names,
    '03 656e67 05 6170706c65 03 636f6d 00' + '09 6d61726b6574696e67 c004',
  );
  t.is(data.length, 27);
  // The RFC sends the same 27 bytes as three options of 9 bytes each; the
  // decoder must join them before following the pointer (RFC 3396).
  const msg = new Dhcp4Message();
  const raw = msg.encode();
  const options = Buffer.concat([
    Buffer.from([119, 9]),
    data.subarray(0, 9),
    Buffer.from([119, 9]),
    data.subarray(9, 18),
    Buffer.from([119, 9]),
    data.subarray(18, 27),
    Buffer.from([255]),
  ]);
  const packet = Buffer.concat([raw.subarray(0, 240), options]);
  t.deepEqual(Dhcp4Message.decode(packet).options.get(Opt.DomainSearch), names);
});

test('domain search (119): trailing dots, shared suffixes, escapes, long lists', (t) => {
  t.deepEqual(Opt.DomainSearch.kind.encode(['a.b.']), Opt.DomainSearch.kind.encode(['a.b']));
  assertOptionRoundTrip(Opt.DomainSearch, ['lab.leasehold.test', 'leasehold.test'], '036c6162 096c65617365686f6c64 0474657374 00 c004');
  assertOptionRoundTrip(Opt.DomainSearch, ['a\\.b.c', 'x\\032y.c', '']);
  assertOptionRoundTrip(Opt.DomainSearch, []);
  const long = Array.from({ length: 40 }, (_, i) => `host${i}.zone${i % 3}.example`);
  const data = assertOptionRoundTrip(Opt.DomainSearch, long);
  t.true(data.length > 255, 'long enough to be split across options');
  // Kea sends its list uncompressed; that decodes the same.
  t.deepEqual(
    Opt.DomainSearch.kind.decode(hex('036c6162096c65617365686f6c64047465737400096c65617365686f6c64047465737400')),
    ['lab.leasehold.test', 'leasehold.test'],
  );
  t.is(Opt.DomainSearch.kind.format(['a.b', '']), 'a.b, .');
});

test('domain search (119): malformed lists and pointer loops are DecodeErrors', (t) => {
  decodeFails(t, Opt.DomainSearch.kind.decode, '0161'); // no root label
  decodeFails(t, Opt.DomainSearch.kind.decode, '0161 00 c003'); // second name points at itself
  decodeFails(t, Opt.DomainSearch.kind.decode, '0161 c004 00 0162 00'); // forward pointer
  decodeFails(t, Opt.DomainSearch.kind.decode, '0161 00 c0'); // truncated pointer
  t.throws(() => Opt.DomainSearch.kind.encode(['a..b']), { instanceOf: EncodeError });
});

test('classless static routes (121): the destination descriptors of RFC 3442 §3', (t) => {
  const router = '198.18.0.1';
  const r = 'c6120001';
  const table: Array<[string, string]> = [
    ['0.0.0.0/0', '00'],
    ['10.0.0.0/8', '08 0a'],
    ['10.0.0.0/24', '18 0a0000'],
    ['10.17.0.0/16', '10 0a11'],
    ['10.27.129.0/24', '18 0a1b81'],
    ['10.229.0.128/25', '19 0ae50080'],
    ['10.198.122.47/32', '20 0ac67a2f'],
  ];
  for (const [destination, descriptor] of table) {
    assertOptionRoundTrip(Opt.ClasslessRoutes, [{ destination, router }], descriptor + r);
  }
  const all = table.map(([destination]) => ({ destination, router }));
  assertOptionRoundTrip(Opt.ClasslessRoutes, all, table.map(([, d]) => d + r).join(''));
  // Bits past the prefix inside the last significant octet are kept as sent.
  assertOptionRoundTrip(Opt.ClasslessRoutes, [{ destination: '10.17.0.0/9', router }], '09 0a11' + r);
  t.is(Opt.ClasslessRoutes.kind.format(all.slice(0, 2)), `0.0.0.0/0 via ${router}, 10.0.0.0/8 via ${router}`);
});

test('classless static routes (121): malformed data and bad values', (t) => {
  decodeFails(t, Opt.ClasslessRoutes.kind.decode, '21 0a000000 00' + 'c6120001'); // /33
  decodeFails(t, Opt.ClasslessRoutes.kind.decode, '18 0a00');
  decodeFails(t, Opt.ClasslessRoutes.kind.decode, '08 0a c61200');
  const router = '198.18.0.1';
  for (const destination of ['10.0.0.1/8', '10.0.0.0', '10.0.0.0/33', '10.0.0.0/x', '10.0.0/8', '10.0.0.0/-1']) {
    t.throws(() => Opt.ClasslessRoutes.kind.encode([{ destination, router }]), { instanceOf: EncodeError }, destination);
  }
});

test('a getter on a malformed option throws DecodeError whose field is the option name', (t) => {
  const msg = new Dhcp4Message();
  msg.options.setRaw(Opt.LeaseTime.code, hex('0e10'));
  msg.options.setRaw(Opt.RelayAgentInfo.code, hex('0105 6162'));
  const lease = t.throws(() => msg.options.get(Opt.LeaseTime), { instanceOf: DecodeError });
  t.is(lease?.field, 'ip-address-lease-time');
  t.is(lease?.code, 'E_DECODE');
  const rai = t.throws(() => msg.options.get(Opt.RelayAgentInfo), { instanceOf: DecodeError });
  t.is(rai?.field, 'relay-agent-information');
  t.regex(rai?.message ?? '', /sub-option 1/);
  t.true(rai?.cause instanceof DecodeError);
  t.is(msg.options.get(Opt.Hostname), undefined, 'absent is undefined');
});

test('option definitions: codes and lookup', (t) => {
  const codes = Object.values(Opt).map((d) => d.code);
  t.deepEqual(codes, [1, 3, 6, 12, 15, 26, 28, 42, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 81, 82, 119, 121]);
  t.is(new Set(Object.values(Opt).map((d) => d.name)).size, codes.length, 'names are unique');
  t.is<object, object>(optionDefByCode(61), Opt.ClientId);
  const unknown = optionDefByCode(250);
  t.is(unknown.name, 'option-250');
  t.deepEqual(unknown.kind.decode(hex('0102')), hex('0102'));
});
