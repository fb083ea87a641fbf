import { DecodeError } from '../wire/decode-error.ts';
import { bufferToIpv6, ipv6ToBuffer } from '../wire/ipv6.ts';
import { checkUint } from '../wire/check-uint.ts';
import type { NdOptionCodec } from './nd-option-codec.ts';
import { preferenceBits, preferenceFromBits, type RoutePreference } from './router-preference.ts';

/**
 * RFC 4191 §2.3 Route Information (type 24): a route through the sending
 * router, with its preference and lifetime in seconds (0xffffffff is
 * infinity). The prefix field holds only as many 8-octet units as the
 * prefix needs: Length 1 (no prefix bytes) for ::/0, 2 up to /64, 3 beyond.
 * Every length the RFC allows is accepted; encoding always sends the whole
 * prefix (Length 3), as radvd does, so that any prefix text survives a
 * round trip.
 */
export interface RouteInformationOption {
  kind: 'route-information';
  prefixLength: number;
  preference: RoutePreference;
  lifetime: number;
  /** RFC 5952 text; the bytes the option did not carry read as zero. */
  prefix: string;
}

const HEAD_LENGTH = 6;
const FIELD = 'route-information';

export const routeInformation: NdOptionCodec<RouteInformationOption> = {
  type: 24,
  bodyLength: () => HEAD_LENGTH + 16,
  write(w, value) {
    w.u8(checkUint(`${FIELD}.prefixLength`, value.prefixLength, 128))
      .u8(preferenceBits(value.preference))
      .u32(checkUint(`${FIELD}.lifetime`, value.lifetime, 0xffffffff))
      .bytes(ipv6ToBuffer(value.prefix));
  },
  read(r, field) {
    const length = (r.remaining + 2) / 8;
    if (length > 3) throw new DecodeError(field, r.offset - 1, `Length must be 1, 2 or 3, got ${length}`);
    const at = r.offset;
    const prefixLength = r.u8(field);
    if (prefixLength > 128) throw new DecodeError(field, at, `prefix length ${prefixLength} is over 128`);
    // §2.3: /1../64 need Length 2 or more, longer prefixes Length 3.
    const needed = prefixLength === 0 ? 1 : prefixLength <= 64 ? 2 : 3;
    if (length < needed) throw new DecodeError(field, at, `a /${prefixLength} needs Length ${needed} or more, got ${length}`);
    const flags = r.u8(field);
    const lifetime = r.u32(field);
    const prefix = Buffer.alloc(16);
    r.bytes(r.remaining, field).copy(prefix);
    return { kind: 'route-information', prefixLength, preference: preferenceFromBits(flags), lifetime, prefix: bufferToIpv6(prefix) };
  },
};
