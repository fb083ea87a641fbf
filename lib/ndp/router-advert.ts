import { ByteReader } from '../wire/byte-reader.ts';
import { ByteWriter } from '../wire/byte-writer.ts';
import { checkUint } from '../wire/check-uint.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { ndOptionsEncodingLength, readNdOptions, writeNdOptions, type NdOption } from './nd-options.ts';
import { preferenceBits, preferenceFromBits, type RoutePreference } from './router-preference.ts';

/** ICMPv6 type of a Router Advertisement (RFC 4861 §4.2). */
export const ROUTER_ADVERTISEMENT = 134;
const HEADER_LENGTH = 16;
const MANAGED = 0x80;
const OTHER_CONFIG = 0x40;

/**
 * RFC 4861 §4.2 Router Advertisement, the ICMPv6 message without the IPv6
 * header. Times are as on the wire: lifetimes in seconds, the reachable
 * time and retransmit timer in milliseconds, 0 meaning "unspecified by
 * this router". The Checksum is the socket's business: on a raw ICMPv6
 * socket the kernel computes it on send and verifies it on receipt (RFC
 * 3542 §3.1), so it is written as zero and not read. The flags this model
 * does not name (Home Agent of RFC 6275, Proxy of RFC 4389, reserved) are
 * ignored on receipt and sent as zero.
 */
export interface RouterAdvert {
  curHopLimit: number;
  /** M: addresses are available from DHCPv6 (RFC 4861 §4.2). */
  managed: boolean;
  /** O: other configuration is available from DHCPv6. */
  otherConfig: boolean;
  /** Default Router Preference (RFC 4191 §2.2). */
  routerPreference: RoutePreference;
  /** Seconds this router may be a default router; 0: not one. */
  routerLifetime: number;
  reachableTime: number;
  retransTimer: number;
  options: NdOption[];
}

export const routerAdvert = {
  encodingLength(ra: RouterAdvert): number {
    return HEADER_LENGTH + ndOptionsEncodingLength(ra.options);
  },

  /** Throws EncodeError when a field is out of range. */
  encode(ra: RouterAdvert): Buffer {
    const w = new ByteWriter(routerAdvert.encodingLength(ra));
    w.u8(ROUTER_ADVERTISEMENT)
      .u8(0)
      .u16(0)
      .u8(checkUint('curHopLimit', ra.curHopLimit, 0xff))
      .u8((ra.managed ? MANAGED : 0) | (ra.otherConfig ? OTHER_CONFIG : 0) | preferenceBits(ra.routerPreference))
      .u16(checkUint('routerLifetime', ra.routerLifetime, 0xffff))
      .u32(checkUint('reachableTime', ra.reachableTime, 0xffffffff))
      .u32(checkUint('retransTimer', ra.retransTimer, 0xffffffff));
    writeNdOptions(w, ra.options);
    return w.finish();
  },

  /**
   * Throws DecodeError: another ICMPv6 type, a short header, an option that
   * breaks RFC 4861 §4.6 or its own definition. The Code is not judged
   * here: RFC 4861 §6.1.2 makes that the receiver's check.
   */
  decode(buf: Buffer): RouterAdvert {
    const r = new ByteReader(buf);
    const type = r.u8('type');
    if (type !== ROUTER_ADVERTISEMENT) throw new DecodeError('type', 0, `${type} is not a Router Advertisement (${ROUTER_ADVERTISEMENT})`);
    r.bytes(3, 'header');
    const curHopLimit = r.u8('header');
    const flags = r.u8('header');
    const routerLifetime = r.u16('header');
    const reachableTime = r.u32('header');
    const retransTimer = r.u32('header');
    return {
      curHopLimit,
      managed: (flags & MANAGED) !== 0,
      otherConfig: (flags & OTHER_CONFIG) !== 0,
      routerPreference: preferenceFromBits(flags),
      routerLifetime,
      reachableTime,
      retransTimer,
      options: readNdOptions(r),
    };
  },
};
