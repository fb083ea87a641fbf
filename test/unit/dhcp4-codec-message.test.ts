import test from 'ava';
import { BOOTP_MIN_LENGTH, Dhcp4Message, Dhcp4Options } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType, Opt } from '../../lib/dhcp4/option-defs.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';
import { assertRoundTrip, messageCodec } from './helpers/roundtrip.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A hand-written RFC 2131 §2 header, independent of the encoder under test. */
function header(overrides: { op?: number; hlen?: number; cookie?: string; sname?: Buffer; file?: Buffer } = {}): Buffer {
  const h = Buffer.alloc(240);
  hex(
    '01 01 06 02' + // op, htype, hlen, hops
      'deadbeef' + // xid
      '0005 8000' + // secs, flags (broadcast)
      'c6120064 c6120065 c6120001 c6120002' + // ciaddr, yiaddr, siaddr, giaddr
      '0a00c612c811 00000000000000000000', // chaddr
  ).copy(h, 0);
  if (overrides.op !== undefined) h[0] = overrides.op;
  if (overrides.hlen !== undefined) h[2] = overrides.hlen;
  overrides.sname?.copy(h, 44);
  overrides.file?.copy(h, 108);
  hex(overrides.cookie ?? '63825363').copy(h, 236);
  return h;
}

const packet = (options: string, h = header()): Buffer => Buffer.concat([h, hex(options)]);

test('decodes every RFC 2131 header field', (t) => {
  const sname = Buffer.from('server.test');
  const file = Buffer.from('/boot/pxe');
  const msg = Dhcp4Message.decode(packet('350101 ff', header({ sname, file })));
  t.is(msg.op, 1);
  t.is(msg.htype, 1);
  t.is(msg.hlen, 6);
  t.is(msg.hops, 2);
  t.is(msg.xid, 0xdeadbeef);
  t.is(msg.secs, 5);
  t.is(msg.flags, 0x8000);
  t.true(msg.broadcast);
  t.is(msg.ciaddr, '198.18.0.100');
  t.is(msg.yiaddr, '198.18.0.101');
  t.is(msg.siaddr, '198.18.0.1');
  t.is(msg.giaddr, '198.18.0.2');
  t.is(msg.chaddr.toString('hex'), '0a00c612c811' + '00'.repeat(10));
  t.is(msg.hwAddress(), '0a:00:c6:12:c8:11');
  t.is(msg.sname.length, 64);
  t.is(msg.sname.subarray(0, sname.length).toString(), 'server.test');
  t.is(msg.file.length, 128);
  t.is(msg.file.subarray(0, file.length).toString(), '/boot/pxe');
  t.is(msg.options.get(Opt.MessageType), Dhcp4MessageType.Discover);
});

test('the smallest valid message is 240 bytes; shorter ones are DecodeErrors', (t) => {
  const min = header();
  t.is(Dhcp4Message.decode(min).options.size, 0, 'no options, no End: tolerated');
  for (const len of [0, 1, 235, 236, 239]) {
    const err = t.throws(() => Dhcp4Message.decode(min.subarray(0, len)), { instanceOf: DecodeError }, String(len));
    t.is(err?.field, 'message');
  }
});

test('a wrong magic cookie, hlen over 16 or an unknown op are DecodeErrors', (t) => {
  const cookie = t.throws(() => Dhcp4Message.decode(packet('ff', header({ cookie: '63825364' }))), { instanceOf: DecodeError });
  t.is(cookie?.field, 'magic-cookie');
  t.is(cookie?.offset, 236);
  const hlen = t.throws(() => Dhcp4Message.decode(packet('ff', header({ hlen: 17 }))), { instanceOf: DecodeError });
  t.is(hlen?.field, 'hlen');
  t.is(Dhcp4Message.decode(packet('ff', header({ hlen: 16 }))).hwAddress().split(':').length, 16);
  for (const op of [0, 3, 255]) {
    t.throws(() => Dhcp4Message.decode(packet('ff', header({ op }))), { instanceOf: DecodeError, message: /^op/ });
  }
});

test('pad is a single byte with no length; pads anywhere are skipped', (t) => {
  // A decoder that reads a length after pad (as the npm "dhcp" package does)
  // would swallow the host name here.
  const msg = Dhcp4Message.decode(packet('00 350101 00 0c0161 0000 3d020101 ff'));
  t.deepEqual(msg.options.codes(), [53, 12, 61]);
  t.is(msg.options.get(Opt.Hostname), 'a');
  t.deepEqual(msg.options.get(Opt.ClientId), { type: 1, id: hex('01') });
});

test('End stops parsing: anything after it is ignored', (t) => {
  const msg = Dhcp4Message.decode(packet('350101 ff 0c0161 ffff 0102'));
  t.deepEqual(msg.options.codes(), [53]);
});

test('a missing End is tolerated, a truncated option is not', (t) => {
  t.deepEqual(Dhcp4Message.decode(packet('350101 0c0161')).options.codes(), [53, 12]);
  const err = t.throws(() => Dhcp4Message.decode(packet('350101 0c0561')), { instanceOf: DecodeError });
  t.is(err?.offset, 243);
  t.regex(err?.message ?? '', /option 12/);
  t.throws(() => Dhcp4Message.decode(packet('350101 0c')), { instanceOf: DecodeError, message: /length byte missing/ });
});

test('repeated options are concatenated in place (RFC 3396 §7)', (t) => {
  const msg = Dhcp4Message.decode(packet('0c026162 350101 0c0163 0c00 ff'));
  t.deepEqual(msg.options.codes(), [12, 53], 'position of the first instance');
  t.is(msg.options.get(Opt.Hostname), 'abc');
});

test('values longer than 255 bytes are split on encode and rejoined on decode (RFC 3396 §5)', (t) => {
  const msg = new Dhcp4Message();
  const value = Buffer.alloc(600, 0x61);
  msg.options.setRaw(224, value);
  msg.options.setRaw(225, Buffer.alloc(0));
  const bytes = assertRoundTrip(messageCodec, msg);
  const opts = bytes.subarray(240);
  t.deepEqual([opts[0], opts[1]], [224, 255]);
  t.deepEqual([opts[257], opts[258]], [224, 255]);
  t.deepEqual([opts[514], opts[515]], [224, 90]);
  t.deepEqual([opts[606], opts[607], opts[608]], [225, 0, 255]);
  t.is(msg.encodingLength(), 240 + 606 + 2 + 1);
  t.deepEqual(Dhcp4Message.decode(bytes).options.getRaw(224), value);
});

test('relay agent information is written last (RFC 3046 §2.1), other options in map order', (t) => {
  const msg = new Dhcp4Message();
  msg.options.set(Opt.MessageType, Dhcp4MessageType.Offer);
  msg.options.set(Opt.RelayAgentInfo, { subOptions: [{ code: 1, data: Buffer.from('x') }] });
  msg.options.set(Opt.ServerId, '198.18.0.1');
  msg.options.setRaw(250, Buffer.from([7]));
  const bytes = assertRoundTrip(messageCodec, msg);
  t.is(bytes.subarray(240, 240 + 3 + 6 + 3 + 5 + 1).toString('hex'), '350102' + '3604c6120001' + 'fa0107' + '5203010178' + 'ff');
  t.deepEqual(Dhcp4Message.decode(bytes).options.codes(), [53, 54, 250, 82]);
});

test('option overload (52): options in file, then sname, are merged and the fields read as empty', (t) => {
  // RFC 2131 §4.1: options field first, then file, then sname.
  const file = hex('0c0162 ff'); // host name continued: "b"
  const sname = hex('0f0378797a 00 0c0163 ff'); // domain name, pad, host name continued: "c"
  const both = Dhcp4Message.decode(packet('350101 340103 0c0161 ff', header({ sname, file })));
  t.is(both.options.get(Opt.Hostname), 'abc');
  t.is(both.options.get(Opt.DomainName), 'xyz');
  t.false(both.options.has(Opt.Overload.code), 'encode never overloads, so the option goes');
  t.deepEqual(both.file, Buffer.alloc(128));
  t.deepEqual(both.sname, Buffer.alloc(64));
  t.deepEqual(both.options.codes(), [53, 12, 15]);

  const onlyFile = Dhcp4Message.decode(packet('340101 ff', header({ sname: Buffer.from('keep'), file })));
  t.is(onlyFile.options.get(Opt.Hostname), 'b');
  t.is(onlyFile.sname.subarray(0, 4).toString(), 'keep');

  const onlySname = Dhcp4Message.decode(packet('340102 ff', header({ sname, file: Buffer.from('/boot') })));
  t.is(onlySname.options.get(Opt.Hostname), 'c');
  t.is(onlySname.file.subarray(0, 5).toString(), '/boot');

  t.throws(() => Dhcp4Message.decode(packet('340104 ff')), { instanceOf: DecodeError, message: /option-overload/ });
  t.throws(() => Dhcp4Message.decode(packet('34020101 ff')), { instanceOf: DecodeError, message: /option-overload/ });
  // An option may not run past the end of its field into sname.
  const overrun = Buffer.concat([Buffer.alloc(125), hex('0c0561')]);
  t.throws(() => Dhcp4Message.decode(packet('340101 ff', header({ file: overrun }))), {
    instanceOf: DecodeError,
    message: /file option 12/,
  });
});

test('a new message encodes to at least 300 bytes (RFC 1542 §3.1.2), zero-padded after End', (t) => {
  const msg = new Dhcp4Message({ xid: 0x01020304, chaddr: Buffer.concat([hex('0a00c612c801'), Buffer.alloc(10)]) });
  msg.options.set(Opt.MessageType, Dhcp4MessageType.Discover);
  const bytes = assertRoundTrip(messageCodec, msg);
  t.is(bytes.length, BOOTP_MIN_LENGTH);
  t.is(bytes.subarray(236, 244).toString('hex'), '63825363' + '350101' + 'ff');
  t.true(bytes.subarray(244).every((b) => b === 0));
  t.is(Dhcp4Message.decode(bytes).minLength, BOOTP_MIN_LENGTH);
});

test('a decoded message keeps its length so that it re-encodes to the same bytes', (t) => {
  const short = packet('350101 ff'); // 244 bytes, shorter than the BOOTP minimum
  const decodedShort = Dhcp4Message.decode(short);
  t.is(decodedShort.minLength, 244);
  t.deepEqual(decodedShort.encode(), short);
  const long = Buffer.concat([packet('350101 ff'), Buffer.alloc(300)]); // 544 bytes of padding
  t.deepEqual(Dhcp4Message.decode(long).encode(), long);
  // Pads between options are not kept: that normalisation is documented.
  const padded = packet('350101 00 ff');
  t.deepEqual(Dhcp4Message.decode(padded).encode(), packet('350101 ff 00'));
});

test('decode works on a copy: the caller may reuse its buffer', (t) => {
  const buf = packet('0c0161 ff');
  const msg = Dhcp4Message.decode(buf);
  buf.fill(0xee);
  t.is(msg.hwAddress(), '0a:00:c6:12:c8:11');
  t.is(msg.options.get(Opt.Hostname), 'a');
});

test('defaults, broadcast flag and hwAddress', (t) => {
  const msg = new Dhcp4Message();
  t.is(msg.op, 1);
  t.is(msg.hlen, 6);
  t.is(msg.ciaddr, '0.0.0.0');
  t.false(msg.broadcast);
  msg.flags = 0x0001;
  msg.broadcast = true;
  t.is(msg.flags, 0x8001);
  msg.broadcast = false;
  t.is(msg.flags, 0x0001);
  msg.chaddr = Buffer.concat([hex('0A00C612C8FF'), Buffer.alloc(10, 0xaa)]);
  t.is(msg.hwAddress(), '0a:00:c6:12:c8:ff');
  msg.hlen = 0;
  t.is(msg.hwAddress(), '');
});

test('a reply with every kind of field round-trips', (t) => {
  const options = new Dhcp4Options()
    .set(Opt.MessageType, Dhcp4MessageType.Ack)
    .set(Opt.ServerId, '198.18.0.1')
    .set(Opt.LeaseTime, 3600)
    .set(Opt.SubnetMask, '255.255.0.0')
    .set(Opt.Router, ['198.18.0.1'])
    .set(Opt.DomainServer, ['198.18.0.2'])
    .set(Opt.DomainName, 'leasehold.test')
    .set(Opt.DomainSearch, ['lab.leasehold.test', 'leasehold.test'])
    .set(Opt.ClasslessRoutes, [{ destination: '198.19.0.0/16', router: '198.18.0.1' }])
    .set(Opt.ClientFqdn, { flags: { s: true, o: false, e: true, n: false }, rcode1: 0, rcode2: 0, name: 'h.lab.leasehold.test', partial: false })
    .set(Opt.ClientId, { type: 1, id: hex('0a00c612c801') })
    .set(Opt.RelayAgentInfo, { subOptions: [{ code: 2, data: hex('0102') }] });
  const msg = new Dhcp4Message({
    op: 2,
    xid: 0xfffffffe,
    secs: 0xffff,
    flags: 0x8000,
    yiaddr: '198.18.0.100',
    siaddr: '198.18.0.1',
    giaddr: '198.18.0.11',
    hops: 1,
    chaddr: Buffer.concat([hex('0a00c612c801'), Buffer.alloc(10)]),
    sname: Buffer.concat([Buffer.from('leasehold'), Buffer.alloc(55)]),
    options,
  });
  const bytes = assertRoundTrip(messageCodec, msg);
  t.true(bytes.length > BOOTP_MIN_LENGTH);
});

test('encode refuses fields it cannot represent', (t) => {
  const bad: Array<[string, Partial<Dhcp4Message>]> = [
    ['xid', { xid: 2 ** 32 }],
    ['secs', { secs: -1 }],
    ['flags', { flags: 0x10000 }],
    ['htype', { htype: 256 }],
    ['hlen', { hlen: 17 }],
    ['chaddr', { chaddr: Buffer.alloc(6) }],
    ['sname', { sname: Buffer.alloc(65) }],
    ['file', { file: Buffer.alloc(0) }],
    ['ipv4', { ciaddr: '198.18.0' }],
    ['op', { op: 3 as 1 }],
  ];
  for (const [field, patch] of bad) {
    const msg = Object.assign(new Dhcp4Message(), patch);
    const err = t.throws(() => msg.encode(), { instanceOf: EncodeError }, field);
    t.is(err?.field, field);
  }
  t.throws(() => new Dhcp4Options().setRaw(0, Buffer.alloc(1)), { instanceOf: EncodeError });
  t.throws(() => new Dhcp4Options().setRaw(255, Buffer.alloc(1)), { instanceOf: EncodeError });
});

test('Dhcp4Options: raw access, has, delete, codes and iteration', (t) => {
  const o = new Dhcp4Options();
  o.setRaw(12, Buffer.from('h')).set(Opt.MessageType, Dhcp4MessageType.Request);
  t.true(o.has(12));
  t.deepEqual(o.getRaw(53), hex('03'));
  t.deepEqual([...o], [
    [12, Buffer.from('h')],
    [53, hex('03')],
  ]);
  t.true(o.delete(12));
  t.false(o.delete(12));
  t.deepEqual(o.codes(), [53]);
  t.is(o.size, 1);
  t.is(o.encodingLength(), 3);
});
