import { bufferToIpv4, ipv4ToBuffer } from '../../wire/ipv4.ts';
import type { OptionKind } from './option-kind.ts';
import { requireLength } from './length-check.ts';

/** One IPv4 address (RFC 2132: subnet mask, server id, requested IP…). */
export const ipKind: OptionKind<string> = {
  name: 'ip',
  decode(data) {
    requireLength('ip', data, 4);
    return bufferToIpv4(data, 0);
  },
  encode: ipv4ToBuffer,
  format: (value) => value,
};
