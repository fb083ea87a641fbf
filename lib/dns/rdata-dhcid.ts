import { RrType } from './dns-codes.ts';
import type { RdataCodec } from './rdata-codec.ts';

/**
 * DHCID (RFC 4701 §3): identifier type, digest type and digest. Kept as
 * opaque bytes: Leasehold only ever compares a stored DHCID with the one it
 * computes (RFC 4701 §3.5), byte for byte.
 */
export const dhcidRdata: RdataCodec<Buffer> = {
  type: RrType.DHCID,
  encodingLength: (data) => data.length,
  write: (w, data) => void w.bytes(data),
  read: (r) => Buffer.from(r.bytes(r.remaining, 'rdata.dhcid')),
};
