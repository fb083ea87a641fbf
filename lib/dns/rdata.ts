import { ByteReader } from '../wire/byte-reader.ts';
import type { ByteWriter } from '../wire/byte-writer.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { EncodeError } from '../wire/encode-error.ts';
import { typeName } from './dns-codes.ts';
import { aRdata } from './rdata-a.ts';
import { aaaaRdata } from './rdata-aaaa.ts';
import type { RdataCodec } from './rdata-codec.ts';
import { dhcidRdata } from './rdata-dhcid.ts';
import { ptrRdata } from './rdata-ptr.ts';
import { tsigRdata, type TsigRdata } from './rdata-tsig.ts';

/**
 * A record's data. Typed for the types Leasehold reasons about; every other
 * type (SOA, NS, TXT, OPT, unknown ones) is kept as raw bytes, which is
 * lossless (RFC 3597 §3 treats unknown RDATA as opaque). `empty` is
 * RDLENGTH 0, whatever the type: the form RFC 2136 uses for prerequisites
 * and deletions that name an RRset rather than a record (§2.4.1, §2.5.2).
 */
export type Rdata =
  | { kind: 'empty' }
  | { kind: 'a'; value: string }
  | { kind: 'aaaa'; value: string }
  | { kind: 'ptr'; value: string }
  | { kind: 'dhcid'; value: Buffer }
  | { kind: 'tsig'; value: TsigRdata }
  | { kind: 'raw'; value: Buffer };

type TypedKind = Exclude<Rdata['kind'], 'empty' | 'raw'>;
type ValueOf<K extends TypedKind> = Extract<Rdata, { kind: K }>['value'];

const CODECS: { [K in TypedKind]: RdataCodec<ValueOf<K>> } = {
  a: aRdata,
  aaaa: aaaaRdata,
  ptr: ptrRdata,
  dhcid: dhcidRdata,
  tsig: tsigRdata,
};

const KIND_OF_TYPE = new Map<number, TypedKind>(
  (Object.entries(CODECS) as Array<[TypedKind, RdataCodec<unknown>]>).map(([kind, codec]) => [codec.type, kind]),
);

type TypedRdata = Extract<Rdata, { kind: TypedKind }>;

/*
 * Typed data goes only with its own type, raw data only with types that
 * have no typed form: every record has exactly one representation, so
 * decode(encode(x)) is x.
 */
function typedCodec(type: number, rdata: TypedRdata, field: string): RdataCodec<unknown> {
  if (KIND_OF_TYPE.get(type) !== rdata.kind) {
    throw new EncodeError(field, `'${rdata.kind}' data cannot go in a ${typeName(type)} record`);
  }
  return CODECS[rdata.kind] as RdataCodec<unknown>;
}

function checkRaw(type: number, field: string): void {
  const typed = KIND_OF_TYPE.get(type);
  if (typed) throw new EncodeError(field, `${typeName(type)} data must be given as '${typed}', not raw bytes`);
}

/** RDATA bytes, without RDLENGTH. */
export function rdataEncodingLength(type: number, rdata: Rdata, field: string): number {
  switch (rdata.kind) {
    case 'empty':
      return 0;
    case 'raw':
      checkRaw(type, field);
      return rdata.value.length;
    default:
      return typedCodec(type, rdata, field).encodingLength(rdata.value);
  }
}

/** Writes RDATA, without RDLENGTH. */
export function writeRdata(w: ByteWriter, type: number, rdata: Rdata, field: string): void {
  switch (rdata.kind) {
    case 'empty':
      return;
    case 'raw':
      checkRaw(type, field);
      w.bytes(rdata.value);
      return;
    default:
      typedCodec(type, rdata, field).write(w, rdata.value);
  }
}

/** Reads `length` bytes of RDATA at `r.offset` in the message `r.buf`, and moves past them. */
export function readRdata(r: ByteReader, type: number, length: number, field: string): Rdata {
  const start = r.offset;
  r.bytes(length, field);
  const data = new ByteReader(r.buf, start, start + length);
  if (length === 0) return { kind: 'empty' };
  const kind = KIND_OF_TYPE.get(type);
  if (!kind) return { kind: 'raw', value: Buffer.from(data.bytes(length, field)) };
  const value = CODECS[kind].read(data);
  if (data.remaining > 0) {
    throw new DecodeError(field, data.offset, `${data.remaining} byte(s) left after the ${typeName(type)} data`);
  }
  return { kind, value } as Rdata;
}
