import { DecodeError } from '../../wire/decode-error.ts';
import { checkUint } from '../../wire/check-uint.ts';
import { toColonHex } from '../../wire/colon-hex.ts';
import type { OptionKind } from './option-kind.ts';

/**
 * Option 61 (RFC 2132 §9.14): a type octet (an ARP hardware type, or 255
 * for RFC 4361's IAID + DUID) and opaque bytes. The whole option, not just
 * `id`, identifies the client, so keys should use the raw option data.
 */
export interface ClientId {
  type: number;
  id: Buffer;
}

export const clientIdKind: OptionKind<ClientId> = {
  name: 'client-id',
  decode(data) {
    // RFC 2132 asks for at least 2 bytes; a bare type byte is still a usable
    // identifier, so only an empty option is malformed.
    if (data.length < 1) throw new DecodeError('client-id', 0, 'empty client identifier');
    return { type: data[0], id: data.subarray(1) };
  },
  encode(value) {
    const buf = Buffer.allocUnsafe(1 + value.id.length);
    buf[0] = checkUint('client-id type', value.type, 255);
    buf.set(value.id, 1);
    return buf;
  },
  format: (value) => `type=${value.type} id=${toColonHex(value.id)}`,
};
