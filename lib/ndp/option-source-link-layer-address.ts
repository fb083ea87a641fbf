import { EncodeError } from '../wire/encode-error.ts';
import { toColonHex } from '../wire/colon-hex.ts';
import { paddedBodyLength, type NdOptionCodec } from './nd-option-codec.ts';

/**
 * RFC 4861 §4.6.1 Source Link-Layer Address (type 1): the sender's
 * link-layer address, zero-padded to the 8-octet boundary. On Ethernet
 * (RFC 2464 §6) it is the 6-byte MAC and the option is 8 bytes long. The
 * option does not say how long the address is (the link type does), so
 * decoding keeps the whole body, padding included: exactly the MAC on
 * Ethernet.
 */
export interface SourceLinkLayerAddressOption {
  kind: 'source-link-layer-address';
  /** Lower-case colon hex ("02:00:5e:10:00:01"). */
  address: string;
}

const COLON_HEX = /^[0-9a-f]{2}(:[0-9a-f]{2})*$/i;

function addressBytes(address: string): Buffer {
  if (!COLON_HEX.test(address)) {
    throw new EncodeError('source-link-layer-address', `${JSON.stringify(address)} is not colon-separated hex`);
  }
  return Buffer.from(address.replace(/:/g, ''), 'hex');
}

export const sourceLinkLayerAddress: NdOptionCodec<SourceLinkLayerAddressOption> = {
  type: 1,
  bodyLength: (value) => paddedBodyLength(addressBytes(value.address).length),
  write(w, value) {
    const bytes = addressBytes(value.address);
    w.bytes(bytes).zeros(paddedBodyLength(bytes.length) - bytes.length);
  },
  read(r, field) {
    return { kind: 'source-link-layer-address', address: toColonHex(r.bytes(r.remaining, field)) };
  },
};
