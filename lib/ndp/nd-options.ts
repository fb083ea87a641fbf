import { ByteReader } from '../wire/byte-reader.ts';
import type { ByteWriter } from '../wire/byte-writer.ts';
import { DecodeError } from '../wire/decode-error.ts';
import { EncodeError } from '../wire/encode-error.ts';
import type { NdOptionCodec } from './nd-option-codec.ts';
import { dnsslOption, type DnsslOption } from './option-dnssl.ts';
import { mtuOption, type MtuOption } from './option-mtu.ts';
import { prefixInformation, type PrefixInformationOption } from './option-prefix-information.ts';
import { rdnssOption, type RdnssOption } from './option-rdnss.ts';
import { routeInformation, type RouteInformationOption } from './option-route-information.ts';
import { sourceLinkLayerAddress, type SourceLinkLayerAddressOption } from './option-source-link-layer-address.ts';

/**
 * An option of a type none of the codecs below knows, kept as received so
 * that it survives a re-encode. RFC 4861 §4.1/§4.2: receivers silently
 * ignore options they do not recognise.
 */
export interface UnknownNdOption {
  kind: 'unknown';
  type: number;
  /** The bytes after Type and Length. */
  body: Buffer;
}

export type NdOption =
  | SourceLinkLayerAddressOption
  | PrefixInformationOption
  | MtuOption
  | RouteInformationOption
  | RdnssOption
  | DnsslOption
  | UnknownNdOption;

type KnownKind = Exclude<NdOption['kind'], 'unknown'>;
type KnownOption = Exclude<NdOption, UnknownNdOption>;

const CODECS: { [K in KnownKind]: NdOptionCodec<Extract<NdOption, { kind: K }>> } = {
  'source-link-layer-address': sourceLinkLayerAddress,
  'prefix-information': prefixInformation,
  mtu: mtuOption,
  'route-information': routeInformation,
  rdnss: rdnssOption,
  dnssl: dnsslOption,
};

const BY_TYPE = new Map<number, { kind: KnownKind; codec: NdOptionCodec<KnownOption> }>(
  (Object.keys(CODECS) as KnownKind[]).map((kind) => [CODECS[kind].type, { kind, codec: CODECS[kind] as NdOptionCodec<KnownOption> }]),
);

/** RFC 4861 §4.6: Length counts 8-octet units, Type and Length included, in one byte. */
const UNIT = 8;
const MAX_UNITS = 255;

function codecOf(option: KnownOption): NdOptionCodec<KnownOption> {
  return CODECS[option.kind] as NdOptionCodec<KnownOption>;
}

function bodyLength(option: NdOption): number {
  return option.kind === 'unknown' ? option.body.length : codecOf(option).bodyLength(option);
}

/** Bytes `options` take on the wire. */
export function ndOptionsEncodingLength(options: readonly NdOption[]): number {
  return options.reduce((n, option) => n + 2 + bodyLength(option), 0);
}

/** Writes each option as Type, Length, body, in the order given. Throws EncodeError. */
export function writeNdOptions(w: ByteWriter, options: readonly NdOption[]): void {
  options.forEach((option, i) => {
    const size = 2 + bodyLength(option);
    if (size % UNIT !== 0 || size / UNIT > MAX_UNITS) {
      throw new EncodeError(`options[${i}]`, `${option.kind} option of ${size} bytes is not 1 to ${MAX_UNITS} whole 8-octet units`);
    }
    if (option.kind === 'unknown') {
      w.u8(option.type).u8(size / UNIT).bytes(option.body);
    } else {
      const codec = codecOf(option);
      w.u8(codec.type).u8(size / UNIT);
      codec.write(w, option);
    }
  });
}

/**
 * Reads options from `r.offset` to `r.end`. RFC 4861 §4.6: an option of
 * Length 0 makes the whole message invalid (so does one that runs past its
 * end, or a stray byte too short to be an option). Throws DecodeError,
 * whose field names the option: `options[2] (rdnss)`.
 */
export function readNdOptions(r: ByteReader): NdOption[] {
  const options: NdOption[] = [];
  while (r.remaining > 0) {
    const start = r.offset;
    const type = r.u8(`options[${options.length}].type`);
    const known = BY_TYPE.get(type);
    const field = `options[${options.length}] (${known ? known.kind : `type ${type}`})`;
    const units = r.u8(field);
    if (units === 0) throw new DecodeError(field, start + 1, 'Length is 0 (RFC 4861 §4.6)');
    const end = start + units * UNIT;
    if (end > r.end) throw new DecodeError(field, start + 1, `Length ${units} runs ${end - r.end} byte(s) past the end of the message`);
    if (known) {
      options.push(known.codec.read(new ByteReader(r.buf, r.offset, end), field));
    } else {
      options.push({ kind: 'unknown', type, body: Buffer.from(r.buf.subarray(r.offset, end)) });
    }
    r.offset = end;
  }
  return options;
}
