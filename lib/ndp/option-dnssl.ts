import { DecodeError } from '../wire/decode-error.ts';
import { EncodeError } from '../wire/encode-error.ts';
import { checkUint } from '../wire/check-uint.ts';
import { dnsLabelsLength, parseDnsName, readDnsName, writeDnsLabels } from '../wire/dns-name.ts';
import { paddedBodyLength, type NdOptionCodec } from './nd-option-codec.ts';

/**
 * RFC 8106 §5.2 DNS Search List (type 31): one or more domain names for
 * resolving short names, valid for `lifetime` seconds (0: no longer;
 * 0xffffffff: infinity). Names are in DNS wire format without compression
 * (RFC 1035 §3.1), one after another, then zero octets up to the 8-octet
 * boundary. A zero octet where a name would start is that padding, so the
 * root name cannot be listed.
 */
export interface DnsslOption {
  kind: 'dnssl';
  lifetime: number;
  /** Text form of dns-name.ts, without the trailing dot. */
  domains: string[];
}

const HEAD_LENGTH = 6;
const FIELD = 'dnssl';

function domainLabels(domains: readonly string[]): Buffer[][] {
  if (domains.length === 0) throw new EncodeError(FIELD, 'needs at least one domain');
  return domains.map((domain) => {
    const { labels } = parseDnsName(domain, FIELD);
    if (labels.length === 0) throw new EncodeError(FIELD, 'the root name cannot be listed (it reads as padding)');
    return labels;
  });
}

export const dnsslOption: NdOptionCodec<DnsslOption> = {
  type: 31,
  bodyLength: (value) => paddedBodyLength(HEAD_LENGTH + domainLabels(value.domains).reduce((n, l) => n + dnsLabelsLength(l, true), 0)),
  write(w, value) {
    const names = domainLabels(value.domains);
    const start = w.offset;
    w.u16(0).u32(checkUint(`${FIELD}.lifetime`, value.lifetime, 0xffffffff));
    for (const labels of names) writeDnsLabels(w, labels, true);
    const written = w.offset - start;
    w.zeros(paddedBodyLength(written) - written);
  },
  read(r, field) {
    r.u16(field);
    const lifetime = r.u32(field);
    const domains: string[] = [];
    while (r.remaining > 0 && r.buf[r.offset] !== 0) {
      const name = readDnsName(r.buf, r.offset, r.end, false, field);
      if (!name.qualified) throw new DecodeError(field, r.offset, 'domain name runs past the end of the option');
      domains.push(name.name);
      r.bytes(name.next - r.offset, field);
    }
    if (domains.length === 0) throw new DecodeError(field, r.offset, 'lists no domain');
    const padding = r.offset;
    if (r.bytes(r.remaining, field).some((b) => b !== 0)) throw new DecodeError(field, padding, 'padding after the last name is not all zeros');
    return { kind: 'dnssl', lifetime, domains };
  },
};
