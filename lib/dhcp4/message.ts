import { ByteWriter } from '../wire/byte-writer.ts';
import { checkUint } from '../wire/check-uint.ts';
import { toColonHex } from '../wire/colon-hex.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { EncodeError } from '../wire/encode-error.ts';
import { bufferToIpv4 } from '../wire/ipv4.ts';
import { Dhcp4Options, END } from './dhcp4-options.ts';
import { Opt } from './option-defs.ts';

export { Dhcp4Options } from './dhcp4-options.ts';

/** RFC 2131 §2 fixed header: 236 bytes, then the magic cookie. */
const HEADER_SIZE = 236;
const CHADDR_SIZE = 16;
const SNAME_OFFSET = 44;
const SNAME_SIZE = 64;
const FILE_OFFSET = 108;
const FILE_SIZE = 128;
/** RFC 2131 §3: 99.130.83.99, the start of the options field. */
const MAGIC_COOKIE = 0x63825363;
const OPTIONS_OFFSET = HEADER_SIZE + 4;
/**
 * RFC 1542 §3.1.2: BOOTP messages are at least 300 bytes, and some relays
 * and clients still drop shorter ones.
 */
export const BOOTP_MIN_LENGTH = 300;
/** RFC 2131 §2: the broadcast bit is the top bit of `flags`. */
const BROADCAST_FLAG = 0x8000;

export const BootpOp = { Request: 1, Reply: 2 } as const;

/** RFC 2132 §9.3: which of `file` (1) and `sname` (2) carry options. */
const OVERLOAD_FILE = 1;
const OVERLOAD_SNAME = 2;

export interface Dhcp4MessageInit {
  op?: 1 | 2;
  htype?: number;
  hlen?: number;
  hops?: number;
  xid?: number;
  secs?: number;
  flags?: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  chaddr?: Buffer;
  sname?: Buffer;
  file?: Buffer;
  options?: Dhcp4Options;
  minLength?: number;
}

/**
 * A DHCPv4 message (RFC 2131 §2): every BOOTP header field, as mutable
 * public fields, and the options.
 *
 * Decoding copies the packet once and keeps views into that copy, so the
 * caller's buffer may be reused; options are decoded only by their getters.
 */
export class Dhcp4Message {
  op: 1 | 2;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** Always 16 bytes; the hardware address is the first `hlen`. */
  chaddr: Buffer;
  /** Always 64 bytes. */
  sname: Buffer;
  /** Always 128 bytes. */
  file: Buffer;
  options: Dhcp4Options;
  /**
   * The encoding is zero-padded after End up to this many bytes:
   * BOOTP_MIN_LENGTH for a new message. A decoded message keeps the length
   * it arrived with when that differs from what padding to
   * BOOTP_MIN_LENGTH would give (e.g. perfdhcp's 262-byte packets or Kea's
   * 299-byte replies), so that a received packet re-encodes to the very same
   * bytes.
   */
  minLength: number;

  /** Defaults: a BOOTREQUEST over Ethernet (htype 1, hlen 6), all else zero. */
  constructor(init: Dhcp4MessageInit = {}) {
    this.op = init.op ?? BootpOp.Request;
    this.htype = init.htype ?? 1;
    this.hlen = init.hlen ?? 6;
    this.hops = init.hops ?? 0;
    this.xid = init.xid ?? 0;
    this.secs = init.secs ?? 0;
    this.flags = init.flags ?? 0;
    this.ciaddr = init.ciaddr ?? '0.0.0.0';
    this.yiaddr = init.yiaddr ?? '0.0.0.0';
    this.siaddr = init.siaddr ?? '0.0.0.0';
    this.giaddr = init.giaddr ?? '0.0.0.0';
    this.chaddr = init.chaddr ?? zeroed(CHADDR_SIZE);
    this.sname = init.sname ?? zeroed(SNAME_SIZE);
    this.file = init.file ?? zeroed(FILE_SIZE);
    this.options = init.options ?? new Dhcp4Options();
    this.minLength = init.minLength ?? BOOTP_MIN_LENGTH;
  }

  /** Lower-case colon hex of the first `hlen` bytes of `chaddr`. */
  hwAddress(): string {
    return toColonHex(this.chaddr, 0, Math.min(this.hlen, CHADDR_SIZE));
  }

  get broadcast(): boolean {
    return (this.flags & BROADCAST_FLAG) !== 0;
  }

  set broadcast(on: boolean) {
    this.flags = on ? this.flags | BROADCAST_FLAG : this.flags & ~BROADCAST_FLAG;
  }

  /** Parses any byte string; throws DecodeError, and only that, if it is not a DHCP message. */
  static decode(input: Uint8Array): Dhcp4Message {
    if (input.length < OPTIONS_OFFSET) {
      throw new DecodeError(
        'message',
        0,
        `${input.length} bytes is shorter than the ${OPTIONS_OFFSET}-byte minimum (236-byte header + magic cookie)`,
      );
    }
    const buf = Buffer.from(input);
    const op = buf[0];
    if (op !== BootpOp.Request && op !== BootpOp.Reply) {
      throw new DecodeError('op', 0, `${op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)`);
    }
    const hlen = buf[2];
    if (hlen > CHADDR_SIZE) throw new DecodeError('hlen', 2, `${hlen} is larger than chaddr (16 bytes)`);
    const cookie = buf.readUInt32BE(HEADER_SIZE);
    if (cookie !== MAGIC_COOKIE) {
      throw new DecodeError('magic-cookie', HEADER_SIZE, `0x${cookie.toString(16).padStart(8, '0')} is not 0x63825363`);
    }
    const msg = new Dhcp4Message({
      op: op === BootpOp.Request ? BootpOp.Request : BootpOp.Reply,
      htype: buf[1],
      hlen,
      hops: buf[3],
      xid: buf.readUInt32BE(4),
      secs: buf.readUInt16BE(8),
      flags: buf.readUInt16BE(10),
      ciaddr: bufferToIpv4(buf, 12),
      yiaddr: bufferToIpv4(buf, 16),
      siaddr: bufferToIpv4(buf, 20),
      giaddr: bufferToIpv4(buf, 24),
      chaddr: buf.subarray(28, 28 + CHADDR_SIZE),
      sname: buf.subarray(SNAME_OFFSET, SNAME_OFFSET + SNAME_SIZE),
      file: buf.subarray(FILE_OFFSET, FILE_OFFSET + FILE_SIZE),
    });
    const options = msg.options;
    options.decodeArea(buf, OPTIONS_OFFSET, buf.length, 'options');

    const overload = options.get(Opt.Overload);
    if (overload !== undefined) {
      if (overload < 1 || overload > 3) {
        throw new DecodeError(Opt.Overload.name, 0, `${overload} is not 1 (file), 2 (sname) or 3 (both)`);
      }
      // RFC 3396 §5 / RFC 2131 §4.1: options, then file, then sname. The
      // options now live in the map, and encode never overloads, so the
      // fields read as empty and the overload option itself goes.
      if (overload & OVERLOAD_FILE) {
        options.decodeArea(buf, FILE_OFFSET, FILE_OFFSET + FILE_SIZE, 'file');
        msg.file = zeroed(FILE_SIZE);
      }
      if (overload & OVERLOAD_SNAME) {
        options.decodeArea(buf, SNAME_OFFSET, SNAME_OFFSET + SNAME_SIZE, 'sname');
        msg.sname = zeroed(SNAME_SIZE);
      }
      options.delete(Opt.Overload.code);
    }

    // Keep the received length only if padding to the BOOTP minimum would
    // not reproduce it, so that decode(encode(m)) keeps m's minLength.
    const content = msg.contentLength();
    if (buf.length >= content && buf.length !== Math.max(BOOTP_MIN_LENGTH, content)) {
      msg.minLength = buf.length;
    }
    return msg;
  }

  /** Header, cookie, options and End, before padding. */
  private contentLength(): number {
    return OPTIONS_OFFSET + this.options.encodingLength() + 1;
  }

  encodingLength(): number {
    return Math.max(this.minLength, this.contentLength());
  }

  /** Throws EncodeError if a field is out of range or a buffer has the wrong size. */
  encode(): Buffer {
    if (this.op !== BootpOp.Request && this.op !== BootpOp.Reply) {
      throw new EncodeError('op', `${String(this.op)} is neither 1 nor 2`);
    }
    checkUint('hlen', this.hlen, CHADDR_SIZE);
    fixedSize('chaddr', this.chaddr, CHADDR_SIZE);
    fixedSize('sname', this.sname, SNAME_SIZE);
    fixedSize('file', this.file, FILE_SIZE);
    const length = this.encodingLength();
    const w = new ByteWriter(length);
    w.u8(this.op)
      .u8(checkUint('htype', this.htype, 0xff))
      .u8(this.hlen)
      .u8(checkUint('hops', this.hops, 0xff))
      .u32(checkUint('xid', this.xid, 0xffffffff))
      .u16(checkUint('secs', this.secs, 0xffff))
      .u16(checkUint('flags', this.flags, 0xffff))
      .ipv4(this.ciaddr)
      .ipv4(this.yiaddr)
      .ipv4(this.siaddr)
      .ipv4(this.giaddr)
      .bytes(this.chaddr)
      .bytes(this.sname)
      .bytes(this.file)
      .u32(MAGIC_COOKIE);
    this.options.encodeInto(w);
    w.u8(END);
    w.zeros(length - w.offset);
    return w.finish();
  }
}

/**
 * A zero-filled buffer from Node's pool: Buffer.alloc creates a new
 * ArrayBuffer per call, which is the slowest part of building a reply.
 */
function zeroed(size: number): Buffer {
  return Buffer.allocUnsafe(size).fill(0);
}

function fixedSize(field: string, buf: Buffer, size: number): void {
  if (buf.length !== size) throw new EncodeError(field, `must be ${size} bytes, is ${buf.length}`);
}
