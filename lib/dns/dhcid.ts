import { createHash } from 'node:crypto';
import { ByteWriter } from '../wire/byte-writer.ts';
import { checkUint } from '../wire/check-uint.ts';
import { parseDnsName, writeDnsLabels } from '../wire/dns-name.ts';

/**
 * DHCID RDATA (RFC 4701 §3.3): which client owns a name, as a digest that
 * does not reveal the client's identity. Two values are equal exactly when
 * the same client registered the same name, which is all RFC 4703 conflict
 * resolution needs.
 */

/** The client identity the digest covers, by identifier type code (RFC 4701 §3.3). */
export type DhcidIdentity =
  /** 0x0000: DHCPv4 client without option 61: htype then chaddr (hlen octets). */
  | { kind: 'chaddr'; htype: number; chaddr: Buffer }
  /** 0x0001: DHCPv4 client's option 61, the whole payload, type octet included. */
  | { kind: 'client-id'; clientId: Buffer }
  /** 0x0002: a DUID (DHCPv6, or DHCPv4 clients using RFC 4361 identifiers). */
  | { kind: 'duid'; duid: Buffer };

const IDENTIFIER_TYPE = { chaddr: 0x0000, 'client-id': 0x0001, duid: 0x0002 } as const;
/** RFC 4701 §3.3: digest type 1 is SHA-256, the only one defined. */
const DIGEST_SHA256 = 1;

/**
 * The identity a DHCPv4 lease gives: option 61 when the client sent one
 * (RFC 4701 §3.3 prefers it, as RFC 2131 §4.2 does for leases), otherwise
 * htype and the hardware address. Arguments as `Lease` keeps them
 * (client id in plain hex, MAC in colon hex), so a DHCID can be computed
 * again when the lease expires.
 */
export function dhcidIdentityV4(clientIdHex: string | undefined, htype: number, hwAddress: string): DhcidIdentity {
  if (clientIdHex !== undefined) return { kind: 'client-id', clientId: Buffer.from(clientIdHex, 'hex') };
  return { kind: 'chaddr', htype, chaddr: Buffer.from(hwAddress.replaceAll(':', ''), 'hex') };
}

/** RDATA: identifier type (2 octets), digest type (1), SHA-256(identifier ‖ FQDN) (RFC 4701 §3.3, §3.5). */
export function dhcidRdataFor(identity: DhcidIdentity, fqdn: string): Buffer {
  const hash = createHash('sha256').update(identifierBytes(identity)).update(canonicalWireName(fqdn)).digest();
  const w = new ByteWriter(3 + hash.length);
  w.u16(IDENTIFIER_TYPE[identity.kind]).u8(DIGEST_SHA256).bytes(hash);
  return w.finish();
}

/** Presentation form (RFC 4701 §3.4): base64 of the RDATA, as `RecordData` carries it. */
export function dhcidFor(identity: DhcidIdentity, fqdn: string): string {
  return dhcidRdataFor(identity, fqdn).toString('base64');
}

function identifierBytes(identity: DhcidIdentity): Buffer {
  switch (identity.kind) {
    case 'chaddr':
      return Buffer.concat([Buffer.from([checkUint('dhcid htype', identity.htype, 255)]), identity.chaddr]);
    case 'client-id':
      return identity.clientId;
    case 'duid':
      return identity.duid;
  }
}

/**
 * RFC 4701 §3.5: the FQDN in canonical wire form (RFC 4034 §6.2):
 * uncompressed, root label included, US-ASCII letters lower-cased — only
 * those, so other octets hash as they are.
 */
function canonicalWireName(fqdn: string): Buffer {
  const { labels } = parseDnsName(fqdn, 'dhcid fqdn');
  const lower = labels.map((label) => Buffer.from(label.map((c) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c))));
  const w = new ByteWriter(fqdn.length + 2);
  writeDnsLabels(w, lower, true);
  return w.finish();
}
