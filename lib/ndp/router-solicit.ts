import { ByteReader } from '../wire/byte-reader.ts';
import { ByteWriter } from '../wire/byte-writer.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { ndOptionsEncodingLength, readNdOptions, writeNdOptions, type NdOption } from './nd-options.ts';

/** ICMPv6 type of a Router Solicitation (RFC 4861 §4.1). */
export const ROUTER_SOLICITATION = 133;
/** Type, Code, Checksum and 4 reserved bytes: the shortest valid RS (RFC 4861 §6.1.1). */
export const ROUTER_SOLICIT_HEADER_LENGTH = 8;

/**
 * RFC 4861 §4.1 Router Solicitation without the IPv6 header; the only
 * option defined for it is the Source Link-Layer Address. As for the
 * advertisement, the checksum is left to the kernel and the Reserved field
 * is ignored on receipt and sent as zero.
 */
export interface RouterSolicit {
  options: NdOption[];
}

export const routerSolicit = {
  encodingLength(rs: RouterSolicit): number {
    return ROUTER_SOLICIT_HEADER_LENGTH + ndOptionsEncodingLength(rs.options);
  },

  encode(rs: RouterSolicit): Buffer {
    const w = new ByteWriter(routerSolicit.encodingLength(rs));
    w.u8(ROUTER_SOLICITATION).u8(0).u16(0).u32(0);
    writeNdOptions(w, rs.options);
    return w.finish();
  },

  /** Throws DecodeError (see routerAdvert.decode); the Code is judged by rs-validation.ts. */
  decode(buf: Buffer): RouterSolicit {
    const r = new ByteReader(buf);
    const type = r.u8('type');
    if (type !== ROUTER_SOLICITATION) throw new DecodeError('type', 0, `${type} is not a Router Solicitation (${ROUTER_SOLICITATION})`);
    r.bytes(ROUTER_SOLICIT_HEADER_LENGTH - 1, 'header');
    return { options: readNdOptions(r) };
  },
};
