import { EncodeError } from '../../wire/encode-error.ts';
import { bufferToIpv4, ipToInt } from '../../wire/ipv4.ts';
import type { OptionKind } from './option-kind.ts';
import { requireMultiple } from './length-check.ts';

/** A list of IPv4 addresses; RFC 2132 (e.g. §3.5 routers) requires at least one. */
export const ipListKind: OptionKind<string[]> = {
  name: 'ip-list',
  decode(data) {
    requireMultiple('ip-list', data, 4, 4);
    const out = new Array<string>(data.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = bufferToIpv4(data, i * 4);
    return out;
  },
  encode(value) {
    if (value.length === 0) throw new EncodeError('ip-list', 'needs at least one address');
    const buf = Buffer.allocUnsafe(value.length * 4);
    for (let i = 0; i < value.length; i++) buf.writeUInt32BE(ipToInt(value[i]), i * 4);
    return buf;
  },
  format: (value) => value.join(', '),
};
