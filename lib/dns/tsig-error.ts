import { LeaseholdError } from '../core/errors.ts';

/**
 * What went wrong with a transaction signature (RFC 8945):
 * - BADSIG, BADKEY, BADTIME, BADTRUNC: the TSIG errors of §5.2, either
 *   reported by the server in its answer's TSIG record (`reportedBy:
 *   'server'`: it refused our signature) or found by us in its answer
 *   (`reportedBy: 'client'`: we refuse its signature, §5.4);
 * - UNSIGNED: a signed request got an answer without TSIG (§5.4);
 * - FORMERR: a TSIG record that is not the last record (§5.2);
 * - ERROR: a TSIG error code RFC 8945 does not define.
 */
export type TsigProblem = 'BADSIG' | 'BADKEY' | 'BADTIME' | 'BADTRUNC' | 'UNSIGNED' | 'FORMERR' | 'ERROR';

export class TsigError extends LeaseholdError {
  readonly code: `E_TSIG_${TsigProblem}`;

  constructor(
    readonly problem: TsigProblem,
    readonly reportedBy: 'server' | 'client',
    detail: string,
    /**
     * The answer carrying the error verified: it is the server's word. False
     * for every failed check and for BADSIG/BADKEY answers, which are
     * unsigned (§5.3.2) and could come from anyone.
     */
    readonly authenticated: boolean,
    /** The server's clock (seconds) from a BADTIME answer's Other Data (RFC 8945 §5.2.3). */
    readonly serverTime?: number,
  ) {
    super(`TSIG ${problem} (${reportedBy === 'server' ? 'reported by the server' : 'in the server\'s answer'}): ${detail}`);
    this.code = `E_TSIG_${problem}`;
  }
}
