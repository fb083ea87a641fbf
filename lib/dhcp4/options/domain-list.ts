import { ByteWriter } from '../../wire/byte-writer.ts';
import { DecodeError } from '../../wire/decode-error.ts';
import { DnsNameCompressor, dnsLabelsLength, parseDnsName, readDnsName } from '../../wire/dns-name.ts';
import type { OptionKind } from './option-kind.ts';

const FIELD = 'domain-list';

/**
 * Option 119, domain search list (RFC 3397 §2): fully qualified names in
 * RFC 1035 wire format, one after the other, compressed with pointers whose
 * offsets count from the start of the (RFC 3396 concatenated) option data.
 * Names are given without the trailing dot; a trailing dot is accepted on
 * encode and means the same.
 */
export const domainListKind: OptionKind<string[]> = {
  name: FIELD,
  decode(data) {
    const names: string[] = [];
    let pos = 0;
    while (pos < data.length) {
      const { name, qualified, next } = readDnsName(data, pos, data.length, true, FIELD);
      if (!qualified) throw new DecodeError(FIELD, pos, 'name runs to the end of the option without a root label');
      names.push(name);
      pos = next;
    }
    return names;
  },
  encode(value) {
    const parsed = value.map((name) => parseDnsName(name, FIELD).labels);
    // Uncompressed size is an upper bound, so the writer never has to grow.
    const w = new ByteWriter(parsed.reduce((n, labels) => n + dnsLabelsLength(labels, true), 0));
    const compressor = new DnsNameCompressor(0);
    for (const labels of parsed) compressor.write(w, labels);
    return w.finish();
  },
  format: (value) => value.map((name) => name || '.').join(', '),
};
