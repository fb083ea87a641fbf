import { ByteWriter } from '../../wire/byte-writer.ts';
import { DecodeError } from '../../wire/decode-error.ts';
import { checkUint } from '../../wire/check-uint.ts';
import { latin1Bytes } from '../../wire/latin1.ts';
import { dnsLabelsLength, parseDnsName, readDnsName, writeDnsLabels } from '../../wire/dns-name.ts';
import type { OptionKind } from './option-kind.ts';

/**
 * Option 81, client FQDN (RFC 4702 §2). `name` never carries a trailing
 * dot; `partial` tells whether the client sent a name that is not fully
 * qualified, which the server is expected to complete with a domain.
 */
export interface ClientFqdn {
  flags: ClientFqdnFlags;
  rcode1: number;
  rcode2: number;
  name: string;
  partial: boolean;
}

/** RFC 4702 §2.1 flag bits, least significant first: S, O, E, N. */
export interface ClientFqdnFlags {
  /** Server should do the A RR update. */
  s: boolean;
  /** Server overrode the client's S bit (server → client only). */
  o: boolean;
  /** Domain Name is in canonical wire format, not (deprecated) ASCII. */
  e: boolean;
  /** Server should not do any DNS update. */
  n: boolean;
}

const FLAG_S = 0x01;
const FLAG_O = 0x02;
const FLAG_E = 0x04;
const FLAG_N = 0x08;
const FIELD = 'client-fqdn';
const DOT = 0x2e;

export const clientFqdnKind: OptionKind<ClientFqdn> = {
  name: FIELD,
  decode(data) {
    if (data.length < 3) throw new DecodeError(FIELD, 0, `needs at least 3 bytes, got ${data.length}`);
    const f = data[0];
    // RFC 4702 §2.1: the MBZ bits are ignored by the receiver.
    const flags = { s: (f & FLAG_S) !== 0, o: (f & FLAG_O) !== 0, e: (f & FLAG_E) !== 0, n: (f & FLAG_N) !== 0 };
    let name: string;
    let partial: boolean;
    if (flags.e) {
      // RFC 4702 §2.3.1: canonical wire format, never compressed; a partial
      // name simply omits the terminating root label.
      const decoded = readDnsName(data, 3, data.length, false, FIELD);
      if (decoded.next !== data.length) throw new DecodeError(FIELD, decoded.next, 'bytes after the terminating root label');
      name = decoded.name;
      partial = !decoded.qualified;
    } else {
      // ASCII form (deprecated, still what udhcpc sends): a trailing dot
      // marks a fully qualified name.
      partial = data.length === 3 || data[data.length - 1] !== DOT;
      name = data.toString('latin1', 3, partial ? data.length : data.length - 1);
    }
    return { flags, rcode1: data[1], rcode2: data[2], name, partial };
  },
  encode(value) {
    const { flags } = value;
    const head = Buffer.from([
      (flags.s ? FLAG_S : 0) | (flags.o ? FLAG_O : 0) | (flags.e ? FLAG_E : 0) | (flags.n ? FLAG_N : 0),
      checkUint(`${FIELD} rcode1`, value.rcode1, 255),
      checkUint(`${FIELD} rcode2`, value.rcode2, 255),
    ]);
    if (flags.e) {
      const { labels } = parseDnsName(value.name, FIELD);
      const w = new ByteWriter(3 + dnsLabelsLength(labels, !value.partial));
      w.bytes(head);
      writeDnsLabels(w, labels, !value.partial);
      return w.finish();
    }
    return Buffer.concat([head, latin1Bytes(value.partial ? value.name : `${value.name}.`, FIELD)]);
  },
  format(value) {
    const { s, o, e, n } = value.flags;
    const flags = `${s ? 'S' : ''}${o ? 'O' : ''}${e ? 'E' : ''}${n ? 'N' : ''}` || '-';
    return `${value.name}${value.partial ? '' : '.'} flags=${flags} rcode=${value.rcode1}/${value.rcode2}`;
  },
};
