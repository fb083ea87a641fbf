/**
 * The numbers of the DNS protocol that Leasehold reads or writes, with their
 * mnemonics for messages and logs. Values not listed here are still carried
 * as plain numbers: a decoder never maps an unknown type or class to 0.
 */

/** RR types (RFC 1035 §3.2.2, RFC 3596, RFC 6891, RFC 4701, RFC 8945, RFC 1035 §3.2.3 QTYPE *). */
export const RrType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  DHCID: 49,
  TSIG: 250,
  ANY: 255,
} as const;

/** Classes (RFC 1035 §3.2.4; NONE from RFC 2136 §1.3; ANY is QCLASS * of RFC 1035 §3.2.5). */
export const RrClass = {
  IN: 1,
  NONE: 254,
  ANY: 255,
} as const;

/** Header OPCODEs Leasehold sends (RFC 1035 §4.1.1, RFC 2136 §2.2); others are kept as numbers. */
export const Opcode = {
  QUERY: 0,
  UPDATE: 5,
} as const;

/**
 * Header RCODE values (RFC 1035 §4.1.1; 6–10 from RFC 2136 §2.2). The
 * header holds four bits only: larger codes travel in the OPT record
 * (RFC 6891 §6.1.3, see `extendedRcode`) or, for TSIG, in the TSIG record's
 * Error field (`TsigErrorCode`), while the header says NOTAUTH.
 */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;

/** TSIG Error field values (RFC 8945 §3, §5.2). */
export const TsigErrorCode = {
  BADSIG: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADTRUNC: 22,
} as const;

export type RcodeName = keyof typeof Rcode;
export type TsigErrorName = keyof typeof TsigErrorCode;

function reverse<K extends string>(table: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(table).map(([name, value]) => [value as number, name as K]));
}

const TYPE_NAMES = reverse(RrType);
const CLASS_NAMES = reverse(RrClass);
const RCODE_NAMES = reverse(Rcode);
const TSIG_ERROR_NAMES = reverse(TsigErrorCode);

/** Mnemonic, or RFC 3597 §5 generic form (`TYPE65280`). */
export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}

/** Mnemonic, or RFC 3597 §5 generic form (`CLASS32`). */
export function className(cls: number): string {
  return CLASS_NAMES.get(cls) ?? `CLASS${cls}`;
}

export function rcodeName(rcode: number): RcodeName | undefined {
  return RCODE_NAMES.get(rcode);
}

export function tsigErrorName(error: number): TsigErrorName | undefined {
  return TSIG_ERROR_NAMES.get(error);
}
