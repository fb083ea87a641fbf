import { isBase64 } from '../wire/base64.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { EncodeError } from '../wire/encode-error.ts';
import { RrType } from './dns-codes.ts';
import type { Rdata } from './rdata.ts';
import type { RecordData, RecordType } from './update-request.ts';

/**
 * The bridge between the plain-data records of update-request.ts and the
 * codec's typed RDATA: presentation text one side, wire values the other.
 */

export const RECORD_TYPE_NUMBERS: Readonly<Record<RecordType, number>> = {
  A: RrType.A,
  AAAA: RrType.AAAA,
  PTR: RrType.PTR,
  DHCID: RrType.DHCID,
};

const RECORD_TYPES = new Map(Object.entries(RECORD_TYPE_NUMBERS).map(([name, n]) => [n, name as RecordType]));

export function recordTypeOf(type: number, field: string, offset: number): RecordType {
  const name = RECORD_TYPES.get(type);
  if (!name) throw new DecodeError(field, offset, `type ${type} is not one of ${Object.keys(RECORD_TYPE_NUMBERS).join(', ')}`);
  return name;
}

/** Presentation form to RDATA; throws EncodeError for data the type cannot hold. */
export function toRdata(record: RecordData, field: string): Rdata {
  switch (record.type) {
    case 'A':
      return { kind: 'a', value: record.data };
    case 'AAAA':
      return { kind: 'aaaa', value: record.data };
    case 'PTR':
      return { kind: 'ptr', value: record.data };
    case 'DHCID':
      // RFC 4701 §3.4: the presentation form is base64.
      if (!isBase64(record.data)) {
        throw new EncodeError(field, `DHCID data ${JSON.stringify(record.data)} is not padded base64`);
      }
      return { kind: 'dhcid', value: Buffer.from(record.data, 'base64') };
  }
}

/** RDATA to presentation form (the inverse of `toRdata`); throws DecodeError for data it cannot express. */
export function fromRdata(type: RecordType, rdata: Rdata, field: string, offset: number): RecordData {
  switch (rdata.kind) {
    case 'a':
    case 'aaaa':
    case 'ptr':
      return { type, data: rdata.value };
    case 'dhcid':
      return { type, data: rdata.value.toString('base64') };
    default:
      throw new DecodeError(field, offset, `${type} record without data where a value is needed`);
  }
}
