import { DecodeError } from '../wire/decode-error.ts';
import { bufferToIpv6, ipv6ToBuffer } from '../wire/ipv6.ts';
import { RrType } from './dns-codes.ts';
import type { RdataCodec } from './rdata-codec.ts';

/** AAAA (RFC 3596 §2.2): a 128-bit address, as RFC 5952 text. */
export const aaaaRdata: RdataCodec<string> = {
  type: RrType.AAAA,
  encodingLength: () => 16,
  write: (w, address) => void w.bytes(ipv6ToBuffer(address)),
  read(r) {
    if (r.remaining !== 16) throw new DecodeError('rdata.aaaa', r.offset, `AAAA data is 16 bytes, not ${r.remaining}`);
    const at = r.offset;
    r.bytes(16, 'rdata.aaaa');
    return bufferToIpv6(r.buf, at);
  },
};
