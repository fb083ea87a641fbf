import test from 'ava';
import fc from 'fast-check';
import { internetChecksum, ipv4UdpPacketLength, writeIpv4UdpPacket } from '../../lib/wire/ipv4-udp-packet.ts';
import { ipToInt } from '../../lib/wire/ipv4.ts';

test('RFC 1071 §3 worked example: the checksum of 00 01 f2 03 f4 f5 f6 f7 is ~ddf2', (t) => {
  t.is(internetChecksum(Buffer.from('0001f203f4f5f6f7', 'hex'), 0, 8), ~0xddf2 & 0xffff);
  // An odd byte counts as the high half of a last word.
  t.is(internetChecksum(Buffer.from('01', 'hex'), 0, 1), ~0x0100 & 0xffff);
});

test('a DHCP reply packet: header fields, lengths and both checksums, byte for byte', (t) => {
  const payload = Buffer.from('0201060012345678', 'hex');
  const out = Buffer.alloc(64, 0xee);
  const n = writeIpv4UdpPacket(out, 4, { source: ipToInt('198.18.20.1'), destination: ipToInt('198.18.20.150'), sourcePort: 67, destinationPort: 68 }, payload);
  t.is(n, ipv4UdpPacketLength(payload.length));
  t.is(n, 36);
  const p = out.subarray(4, 4 + n);
  // Checksums computed independently (Python struct, RFC 1071 sum): IPv4 header 0xc60d, UDP over the pseudo-header 0xd9dd.
  t.is(p.toString('hex'), '45000024' + '00000000' + '4011' + 'c60d' + 'c6121401' + 'c6121496' + '00430044' + '0010' + 'd9dd' + '0201060012345678');
  t.is(out[3], 0xee, 'nothing before the offset is touched');
  t.is(out[4 + n], 0xee, 'nothing after the packet is touched');
});

test('property: a receiver verifying the checksums finds them right (sum over header, and over pseudo-header + UDP, is 0)', (t) => {
  fc.assert(
    fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 1, max: 0xffff }), fc.uint8Array({ maxLength: 600 }), (src, dst, port, payload) => {
      const out = Buffer.alloc(ipv4UdpPacketLength(payload.length));
      writeIpv4UdpPacket(out, 0, { source: ipToInt(src), destination: ipToInt(dst), sourcePort: 67, destinationPort: port }, payload);
      if (internetChecksum(out, 0, 20) !== 0) return false;
      const s = ipToInt(src);
      const d = ipToInt(dst);
      const udpLength = out.length - 20;
      const pseudo = (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff) + 17 + udpLength;
      return internetChecksum(out, 20, udpLength, pseudo) === 0 && out.readUInt16BE(24) === udpLength && out.readUInt16BE(2) === out.length;
    }),
  );
  t.pass();
});

test('too small a buffer or too big a payload is a RangeError', (t) => {
  const h = { source: 1, destination: 2, sourcePort: 67, destinationPort: 68 };
  t.throws(() => writeIpv4UdpPacket(Buffer.alloc(30), 0, h, Buffer.alloc(10)), { instanceOf: RangeError, message: /do not fit/ });
  t.throws(() => writeIpv4UdpPacket(Buffer.alloc(70000), 0, h, Buffer.alloc(65510)), { instanceOf: RangeError, message: /exceeds 65535/ });
});
