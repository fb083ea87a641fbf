import { RrType } from './dns-codes.ts';
import { nameEncodingLength, readName, writeName } from './dns-name-field.ts';
import type { RdataCodec } from './rdata-codec.ts';

const FIELD = 'rdata.ptr';

/**
 * PTR (RFC 1035 §3.3.12): one domain name. PTR is a "well-known" type, so
 * its name may arrive compressed (RFC 3597 §4); it is written uncompressed,
 * which every receiver accepts.
 */
export const ptrRdata: RdataCodec<string> = {
  type: RrType.PTR,
  encodingLength: (name) => nameEncodingLength(name, FIELD),
  write: (w, name) => writeName(w, name, FIELD),
  read: (r) => readName(r, FIELD),
};
