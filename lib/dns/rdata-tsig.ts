import type { ByteWriter } from '../wire/byte-writer.ts';
import { checkUint } from '../wire/check-uint.ts';
import { RrType } from './dns-codes.ts';
import { nameEncodingLength, readName, writeName } from './dns-name-field.ts';
import type { RdataCodec } from './rdata-codec.ts';

const FIELD = 'rdata.tsig';
/** Time Signed is an unsigned 48-bit count of seconds (RFC 8945 §4.2). */
const MAX_TIME = 2 ** 48 - 1;
const TWO_32 = 2 ** 32;

/** The fields of a TSIG record's RDATA, in wire order (RFC 8945 §4.2). */
export interface TsigRdata {
  /** Algorithm name without the trailing dot, e.g. "hmac-sha256" (RFC 8945 §6). */
  algorithm: string;
  /** Seconds since the epoch (UTC) when the message was signed. */
  timeSigned: number;
  /** Seconds of clock difference the signer allows. */
  fudge: number;
  mac: Buffer;
  /** The message ID when the MAC was computed (a forwarder may change the header ID). */
  originalId: number;
  /** 0, or a TSIG error (`TsigErrorCode`). */
  error: number;
  /** Empty, or the server's time (6 bytes) in a BADTIME answer (RFC 8945 §5.2.3). */
  otherData: Buffer;
}

/** The 48-bit time as two big-endian words; JavaScript numbers hold 48 bits exactly. */
export function writeTime48(w: ByteWriter, seconds: number): void {
  checkUint('tsig time', seconds, MAX_TIME);
  w.u16(Math.floor(seconds / TWO_32));
  w.u32(seconds % TWO_32);
}

/**
 * TSIG (RFC 8945 §4.2). Its names are written and read without
 * compression: TSIG is not one of the types whose RDATA may be compressed
 * (RFC 3597 §4), and the MAC covers the algorithm name in canonical form
 * anyway (RFC 8945 §4.3.3).
 */
export const tsigRdata: RdataCodec<TsigRdata> = {
  type: RrType.TSIG,
  encodingLength: (v) => nameEncodingLength(v.algorithm, FIELD) + 16 + v.mac.length + v.otherData.length,
  write(w, v) {
    writeName(w, v.algorithm, FIELD);
    writeTime48(w, v.timeSigned);
    w.u16(checkUint('tsig fudge', v.fudge, 0xffff));
    w.u16(checkUint('tsig mac size', v.mac.length, 0xffff)).bytes(v.mac);
    w.u16(checkUint('tsig original id', v.originalId, 0xffff));
    w.u16(checkUint('tsig error', v.error, 0xffff));
    w.u16(checkUint('tsig other len', v.otherData.length, 0xffff)).bytes(v.otherData);
  },
  read(r) {
    const algorithm = readName(r, `${FIELD}.algorithm`, false);
    const timeSigned = r.u16(`${FIELD}.time`) * TWO_32 + r.u32(`${FIELD}.time`);
    const fudge = r.u16(`${FIELD}.fudge`);
    const mac = Buffer.from(r.bytes(r.u16(`${FIELD}.mac-size`), `${FIELD}.mac`));
    const originalId = r.u16(`${FIELD}.original-id`);
    const error = r.u16(`${FIELD}.error`);
    const otherData = Buffer.from(r.bytes(r.u16(`${FIELD}.other-len`), `${FIELD}.other-data`));
    return { algorithm, timeSigned, fudge, mac, originalId, error, otherData };
  },
};
