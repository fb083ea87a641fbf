import type { UpdateRequest } from '../../lib/dns/update-request.ts';
import type { UpdateOutcome } from './conflict-resolution.ts';
import type { DdnsZoneConfig } from './ddns-config.ts';

/**
 * The port DDNS sends UPDATEs through (net/dns-updater.ts implements it
 * with the zones' servers and keys), and what an answer can be.
 */

/**
 * The zone's servers will not apply the update until something changes on
 * our side or theirs (a key, the zone configuration, the server's policy):
 * which answers count as such is the updater's call (net/dns-updater.ts).
 */
export interface DnsRefusal {
  kind: 'refused';
  /** The RCODE's mnemonic: REFUSED, NOTAUTH… */
  rcode: string;
  /** The TSIG error that came with NOTAUTH (RFC 8945 §5.2): BADKEY, BADSIG, BADTRUNC. */
  tsigError?: string;
  /** The server that answered so (the first one, when all of them did). */
  server: string;
  /** The error code (E_DNS_REFUSED, E_TSIG_BADSIG…) and its one-line message. */
  code: string;
  detail: string;
}

/**
 * The update was not applied, for now, and is worth sending again later:
 * `answered` when a server said so (SERVFAIL, a clock outside the TSIG
 * fudge…), not when none answered (timeout, connection refused). `reason`
 * names it for counters and logs: the RCODE or TSIG error, TIMEOUT,
 * UNREACHABLE, BAD_RESPONSE.
 */
export interface DnsFailure {
  kind: 'failed';
  reason: string;
  answered: boolean;
}

/**
 * What one UPDATE came to: an outcome conflict resolution reasons about, a
 * refusal for good, or a passing failure (a bare `'failed'` outcome is one
 * that says no more).
 */
export type UpdateAnswer = UpdateOutcome | DnsRefusal | DnsFailure;

/** Sends one UPDATE to a zone's servers and says what the server answered. */
export interface DnsUpdater {
  update(zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateAnswer>;
}
