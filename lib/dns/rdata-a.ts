import { DecodeError } from '../wire/decode-error.ts';
import { RrType } from './dns-codes.ts';
import type { RdataCodec } from './rdata-codec.ts';

/** A (RFC 1035 §3.4.1): a 32-bit address, as a dotted quad. */
export const aRdata: RdataCodec<string> = {
  type: RrType.A,
  encodingLength: () => 4,
  write: (w, address) => void w.ipv4(address),
  read(r) {
    if (r.remaining !== 4) throw new DecodeError('rdata.a', r.offset, `A data is 4 bytes, not ${r.remaining}`);
    return r.ipv4('rdata.a');
  },
};
