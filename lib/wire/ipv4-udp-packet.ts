/** What an IPv4 packet carrying one UDP datagram says; addresses are host-order uint32 (see ipToInt). */
export interface Ipv4UdpHeader {
  source: number;
  destination: number;
  sourcePort: number;
  destinationPort: number;
  /** RFC 1122 §3.2.1.7: 64 is the recommended default. */
  ttl?: number;
}

export const IPV4_HEADER_BYTES = 20;
export const UDP_HEADER_BYTES = 8;
const PROTOCOL_UDP = 17;

/** Bytes `writeIpv4UdpPacket` writes for a payload of `payloadLength`. */
export function ipv4UdpPacketLength(payloadLength: number): number {
  return IPV4_HEADER_BYTES + UDP_HEADER_BYTES + payloadLength;
}

/**
 * Writes a complete IPv4 packet (RFC 791, no options, DF clear, id 0 —
 * allowed for an unfragmented datagram, RFC 6864 §4.1) around a UDP
 * datagram (RFC 768, with its checksum) into `out` at `offset`; returns
 * the bytes written. For sending over a packet socket, where the kernel
 * adds only the link-layer header. Throws RangeError when `out` is too
 * short or the packet would exceed 65,535 bytes.
 */
export function writeIpv4UdpPacket(out: Buffer, offset: number, header: Ipv4UdpHeader, payload: Uint8Array): number {
  const total = ipv4UdpPacketLength(payload.length);
  if (total > 0xffff) throw new RangeError(`an IPv4 packet of ${total} bytes exceeds 65535`);
  if (offset < 0 || offset + total > out.length) throw new RangeError(`${total} bytes do not fit at offset ${offset} of ${out.length}`);
  const ip = offset;
  out[ip] = 0x45; // version 4, IHL 5 words
  out[ip + 1] = 0; // DSCP/ECN
  out.writeUInt16BE(total, ip + 2);
  out.writeUInt32BE(0, ip + 4); // identification, flags, fragment offset
  out[ip + 8] = header.ttl ?? 64;
  out[ip + 9] = PROTOCOL_UDP;
  out.writeUInt16BE(0, ip + 10);
  out.writeUInt32BE(header.source >>> 0, ip + 12);
  out.writeUInt32BE(header.destination >>> 0, ip + 16);
  out.writeUInt16BE(internetChecksum(out, ip, IPV4_HEADER_BYTES, 0), ip + 10);

  const udp = ip + IPV4_HEADER_BYTES;
  const udpLength = UDP_HEADER_BYTES + payload.length;
  out.writeUInt16BE(header.sourcePort, udp);
  out.writeUInt16BE(header.destinationPort, udp + 2);
  out.writeUInt16BE(udpLength, udp + 4);
  out.writeUInt16BE(0, udp + 6);
  out.set(payload, udp + UDP_HEADER_BYTES);
  // RFC 768: the checksum covers a pseudo-header of both addresses, the protocol and the UDP length.
  const pseudo =
    (header.source >>> 16) + (header.source & 0xffff) + (header.destination >>> 16) + (header.destination & 0xffff) + PROTOCOL_UDP + udpLength;
  const sum = internetChecksum(out, udp, udpLength, pseudo);
  // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
  out.writeUInt16BE(sum === 0 ? 0xffff : sum, udp + 6);
  return total;
}

/** RFC 1071: the ones' complement of the ones' complement sum of 16-bit words (an odd byte is padded with 0). */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  const end = offset + length;
  let i = offset;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}
