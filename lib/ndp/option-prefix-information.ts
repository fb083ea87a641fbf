import { DecodeError } from '../wire/decode-error.ts';
import { bufferToIpv6, ipv6ToBuffer } from '../wire/ipv6.ts';
import { checkUint } from '../wire/check-uint.ts';
import type { NdOptionCodec } from './nd-option-codec.ts';

/**
 * RFC 4861 §4.6.2 Prefix Information (type 3, Length 4): a prefix that is
 * on-link (L) and/or usable for stateless autoconfiguration (A, RFC 4862
 * §5.5.3), with its valid and preferred lifetimes in seconds (0xffffffff is
 * infinity). The prefix is kept as sent, bits past the prefix length
 * included; the Reserved fields, and the R flag of RFC 6275, are ignored
 * on receipt and sent as zero.
 */
export interface PrefixInformationOption {
  kind: 'prefix-information';
  prefixLength: number;
  onLink: boolean;
  autonomous: boolean;
  validLifetime: number;
  preferredLifetime: number;
  /** RFC 5952 text. */
  prefix: string;
}

const BODY_LENGTH = 30;
const ON_LINK = 0x80;
const AUTONOMOUS = 0x40;
const FIELD = 'prefix-information';

export const prefixInformation: NdOptionCodec<PrefixInformationOption> = {
  type: 3,
  bodyLength: () => BODY_LENGTH,
  write(w, value) {
    w.u8(checkUint(`${FIELD}.prefixLength`, value.prefixLength, 128))
      .u8((value.onLink ? ON_LINK : 0) | (value.autonomous ? AUTONOMOUS : 0))
      .u32(checkUint(`${FIELD}.validLifetime`, value.validLifetime, 0xffffffff))
      .u32(checkUint(`${FIELD}.preferredLifetime`, value.preferredLifetime, 0xffffffff))
      .u32(0)
      .bytes(ipv6ToBuffer(value.prefix));
  },
  read(r, field) {
    if (r.remaining !== BODY_LENGTH) throw new DecodeError(field, r.offset - 1, `Length must be 4, got ${(r.remaining + 2) / 8}`);
    const at = r.offset;
    const prefixLength = r.u8(field);
    if (prefixLength > 128) throw new DecodeError(field, at, `prefix length ${prefixLength} is over 128`);
    const flags = r.u8(field);
    const validLifetime = r.u32(field);
    const preferredLifetime = r.u32(field);
    r.u32(field);
    return {
      kind: 'prefix-information',
      prefixLength,
      onLink: (flags & ON_LINK) !== 0,
      autonomous: (flags & AUTONOMOUS) !== 0,
      validLifetime,
      preferredLifetime,
      prefix: bufferToIpv6(r.bytes(16, field)),
    };
  },
};
