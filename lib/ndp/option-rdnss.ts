import { DecodeError } from '../wire/decode-error.ts';
import { EncodeError } from '../wire/encode-error.ts';
import { bufferToIpv6, ipv6ToBuffer } from '../wire/ipv6.ts';
import { checkUint } from '../wire/check-uint.ts';
import type { NdOptionCodec } from './nd-option-codec.ts';

/**
 * RFC 8106 §5.1 Recursive DNS Server (type 25): one or more resolver
 * addresses and how many seconds they may be used (0: no longer;
 * 0xffffffff: infinity). Length is 1 + 2 per address, so odd and at
 * least 3.
 */
export interface RdnssOption {
  kind: 'rdnss';
  lifetime: number;
  /** RFC 5952 text. */
  servers: string[];
}

const HEAD_LENGTH = 6;

export const rdnssOption: NdOptionCodec<RdnssOption> = {
  type: 25,
  bodyLength: (value) => HEAD_LENGTH + 16 * value.servers.length,
  write(w, value) {
    if (value.servers.length === 0) throw new EncodeError('rdnss', 'needs at least one server address');
    w.u16(0).u32(checkUint('rdnss.lifetime', value.lifetime, 0xffffffff));
    for (const server of value.servers) w.bytes(ipv6ToBuffer(server));
  },
  read(r, field) {
    const length = (r.remaining + 2) / 8;
    if (length < 3 || length % 2 === 0) {
      throw new DecodeError(field, r.offset - 1, `Length must be odd and at least 3 (1 + 2 per address), got ${length}`);
    }
    r.u16(field);
    const lifetime = r.u32(field);
    const servers: string[] = [];
    while (r.remaining > 0) servers.push(bufferToIpv6(r.bytes(16, field)));
    return { kind: 'rdnss', lifetime, servers };
  },
};
