import { latin1Bytes } from '../../wire/latin1.ts';
import type { OptionKind } from './option-kind.ts';

/**
 * Text options (RFC 2132 §3.14 host name, §3.17 domain name, §9.13 vendor
 * class…). The RFC says NVT ASCII, but clients send what they like, so bytes
 * map 1:1 to characters (latin1): any option decodes and re-encodes exactly.
 * No NUL stripping either: trimming is policy, not wire format.
 */
export const stringKind: OptionKind<string> = {
  name: 'string',
  decode: (data) => data.toString('latin1'),
  encode: (value) => latin1Bytes(value, 'string'),
  format: (value) => JSON.stringify(value),
};
