import { LeaseholdError } from '../core/errors.ts';
import { rcodeName, type RcodeName } from './dns-codes.ts';

/** What each RCODE means for the request that got it (RFC 1035 §4.1.1, RFC 2136 §2.2). */
const MEANING: Readonly<Record<Exclude<RcodeName, 'NOERROR'>, string>> = {
  FORMERR: 'the server could not interpret the request',
  SERVFAIL: 'the server failed internally',
  NXDOMAIN: 'the name does not exist',
  NOTIMP: 'the server does not implement this operation',
  REFUSED: 'the server refused the operation (policy)',
  YXDOMAIN: 'a name that ought not to exist does exist',
  YXRRSET: 'an RRset that ought not to exist does exist',
  NXRRSET: 'an RRset that ought to exist does not exist',
  NOTAUTH: 'the server is not authoritative for the zone, or refused the signature',
  NOTZONE: 'a name is not within the zone',
};

/**
 * A signed-and-verified (or unsigned, when no key is used) answer with a
 * non-zero RCODE. `code` names the RCODE (`E_DNS_YXDOMAIN`…), so conflict
 * resolution can tell a failed prerequisite (YXDOMAIN, YXRRSET, NXRRSET)
 * from a failure; codes outside RFC 1035/2136 become `E_DNS_RCODE_<n>`.
 */
export class DnsRcodeError extends LeaseholdError {
  readonly code: string;
  /** The RCODE's mnemonic, undefined for codes RFC 1035 and RFC 2136 do not define. */
  readonly rcodeName: Exclude<RcodeName, 'NOERROR'> | undefined;

  constructor(
    readonly rcode: number,
    /** What was asked, for the message: "UPDATE leasehold.test", "QUERY x.leasehold.test A". */
    readonly request: string,
  ) {
    const name = rcodeName(rcode);
    const known = name && name !== 'NOERROR' ? name : undefined;
    super(`${request}: ${known ?? `RCODE ${rcode}`}${known ? ` (${MEANING[known]})` : ''}`);
    this.rcodeName = known;
    this.code = known ? `E_DNS_${known}` : `E_DNS_RCODE_${rcode}`;
  }
}
