import { readFileSync } from 'node:fs';
import type { Logger } from '../../lib/core/logger.ts';
import type { UpdateOutcome } from '../ddns/conflict-resolution.ts';
import type { DdnsZoneConfig, DnsServerConfig, TsigKeyConfig } from '../ddns/ddns-config.ts';
import type { DnsFailure, DnsRefusal, DnsUpdater, UpdateAnswer } from '../ddns/dns-updater-port.ts';
import type { DnsLookup } from '../ddns/reconciler.ts';
import { RECORD_TYPE_NUMBERS, fromRdata } from '../../lib/dns/record-data.ts';
import { findZone } from '../ddns/reverse-names.ts';
import { DnsRcodeError } from '../../lib/dns/dns-rcode-error.ts';
import type { TsigKey } from '../../lib/dns/tsig.ts';
import { TsigError } from '../../lib/dns/tsig-error.ts';
import { parseTsigKeyFile } from '../../lib/dns/tsig-key-file.ts';
import type { RecordType, UpdateRequest } from '../../lib/dns/update-request.ts';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import { DnsClient } from '../../lib/dns/dns-client.ts';
import { DnsExchangeError } from '../../lib/dns/dns-exchange-error.ts';
import { DnsSession } from '../../lib/dns/dns-session.ts';

export class DdnsKeyError extends LeaseholdError {
  readonly code = 'E_DDNS_KEY';
}

/** The RCODEs conflict resolution reasons about (RFC 2136 §2.4); any other failure is `failed` or a refusal. */
const PREREQUISITE_OUTCOMES: Readonly<Record<string, UpdateOutcome>> = {
  NXDOMAIN: 'nxdomain',
  YXDOMAIN: 'yxdomain',
  NXRRSET: 'nxrrset',
  YXRRSET: 'yxrrset',
};

/**
 * Answers that say this update will not be applied however often it is
 * sent, as long as the key, our zone configuration or the server's policy
 * stay as they are (RFC 2136 §2.2): REFUSED (policy: the key may not
 * change this name or zone), NOTAUTH (not authoritative for the zone — the
 * wrong server or zone), NOTZONE (a name outside the zone we named),
 * NOTIMP (no UPDATE at all) and FORMERR (the server cannot read the
 * request: the same bytes stay unreadable). SERVFAIL is a passing failure
 * of the server and is retried.
 */
const PERMANENT_RCODES: ReadonlySet<string> = new Set(['FORMERR', 'NOTIMP', 'REFUSED', 'NOTAUTH', 'NOTZONE']);

/**
 * TSIG errors the server reports that only a key change cures (RFC 8945
 * §5.2: NOTAUTH with BADKEY — it does not know the key or algorithm; BADSIG
 * — another secret; BADTRUNC — it wants another MAC length). BADTIME
 * (§5.2.3) is a clock apart from the server's by more than the fudge: NTP
 * can mend it without anyone touching the configuration, so it is retried,
 * but logged as an error, since only an operator can fix a clock.
 */
const PERMANENT_TSIG_ERRORS: ReadonlySet<string> = new Set(['BADKEY', 'BADSIG', 'BADTRUNC']);

/** What one server's failed exchange means for the update (judgeUpdateFailure). */
export type UpdateFailure =
  | { kind: 'prerequisite'; outcome: UpdateOutcome }
  | { kind: 'refused'; rcode: string; tsigError?: string }
  | { kind: 'failed'; level: 'warn' | 'error'; reason: string; answered: boolean };

/**
 * A failed prerequisite (conflict resolution's business), a refusal for
 * good (the change is parked), or a failure worth retrying: `level` is how
 * loudly to log it.
 */
export function judgeUpdateFailure(err: unknown): UpdateFailure {
  if (err instanceof DnsRcodeError) {
    const outcome = err.rcodeName && PREREQUISITE_OUTCOMES[err.rcodeName];
    if (outcome) return { kind: 'prerequisite', outcome };
    if (err.rcodeName && PERMANENT_RCODES.has(err.rcodeName)) return { kind: 'refused', rcode: err.rcodeName };
    return { kind: 'failed', level: 'warn', reason: err.rcodeName ?? `RCODE${err.rcode}`, answered: true };
  }
  if (err instanceof TsigError) {
    // Only the server's own word counts: a TSIG check of ours that failed on
    // its answer (reportedBy 'client') may be a forged or damaged datagram.
    if (err.reportedBy === 'server') {
      // RFC 8945 §5.2: every TSIG error goes with RCODE NOTAUTH.
      if (PERMANENT_TSIG_ERRORS.has(err.problem)) return { kind: 'refused', rcode: 'NOTAUTH', tsigError: err.problem };
      if (err.problem === 'BADTIME') return { kind: 'failed', level: 'error', reason: 'BADTIME', answered: true };
    }
    return { kind: 'failed', level: 'warn', reason: `TSIG_${err.problem}`, answered: err.reportedBy === 'server' };
  }
  if (err instanceof DnsExchangeError) return { kind: 'failed', level: 'warn', reason: err.code.replace(/^E_DNS_/, ''), answered: err.code === 'E_DNS_BAD_RESPONSE' };
  return { kind: 'failed', level: 'warn', reason: 'ERROR', answered: false };
}

/** Which zones' keys changed on a re-read, and which key files could not be used (the old key stays). */
export interface KeyCheck {
  changed: string[];
  failed: Array<{ zone: string; error: DdnsKeyError }>;
}

export interface DnsServices {
  updater: DnsUpdater;
  lookup: DnsLookup;
  /**
   * Re-reads every zone's `secretFile`; a zone whose key is now another
   * gets new sessions and clients (updates already on the wire finish with
   * the old key). Inline secrets change only with the configuration.
   */
  reloadKeys(): KeyCheck;
  /** Closes the connections to the servers (after the worker stopped: nothing is on the wire). */
  close(): void;
}

/**
 * Talks to each zone's servers in order, the primary first (RFC 2136 §4),
 * with the zone's TSIG key: updates for the worker over one long-lived
 * session per zone and server (dns-session.ts: TCP kept open and
 * pipelined, UDP for what fits in a datagram), lookups for the reconciler
 * with a fresh socket each (a random source port, RFC 5452 §9.2). Keys with
 * a `secretFile` are read at start-up, so a missing file is a start-up
 * error, not a silent failure, and again by `reloadKeys`.
 */
export function createDnsServices(zones: readonly DdnsZoneConfig[], logger: Logger): DnsServices {
  const clients = new Map<string, DnsClient[]>();
  const sessions = new Map<string, DnsSession[]>();
  const keys = new Map<string, TsigKey | undefined>();
  /** The key file text each zone's key was last read from. */
  const keyTexts = new Map<string, string>();
  const useKey = (zone: DdnsZoneConfig, key: TsigKey | undefined) => {
    keys.set(zone.name, key);
    clients.set(zone.name, zone.servers.map((server) => new DnsClient({ server, key })));
    for (const old of sessions.get(zone.name) ?? []) old.closeWhenIdle();
    sessions.set(zone.name, zone.servers.map((server) => new DnsSession({ server, key })));
  };
  for (const zone of zones) {
    if (zone.key?.secretFile === undefined) {
      useKey(zone, zone.key && inlineKey(zone.key));
      continue;
    }
    const text = readKeyText(zone.key, zone.name);
    useKey(zone, keyFromText(text, zone.key, zone.name));
    keyTexts.set(zone.name, text);
  }
  const updater: DnsUpdater = {
    async update(zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateAnswer> {
      const failures: Array<{ server: DnsServerConfig; err: unknown; judged: UpdateFailure }> = [];
      for (const [i, session] of (sessions.get(zone.name) ?? []).entries()) {
        try {
          await session.update(req);
          return 'success';
        } catch (err) {
          const judged = judgeUpdateFailure(err);
          if (judged.kind === 'prerequisite') return judged.outcome;
          failures.push({ server: zone.servers[i], err, judged });
        }
      }
      // Refused for good only when every server refused: one that did not
      // answer may yet take the update.
      const refusals = failures.flatMap((f) => (f.judged.kind === 'refused' ? [{ ...f, judged: f.judged }] : []));
      if (refusals.length > 0 && refusals.length === failures.length) {
        for (const { server, err } of refusals) logger.debug('ddns-update-refused', { zone: zone.name, server: server.address, err });
        return refusal(refusals[0].server, refusals[0].judged, refusals[0].err);
      }
      const failed = failures.flatMap((f) => (f.judged.kind === 'failed' ? [f.judged] : []));
      for (const { server, err, judged } of failures) {
        const fields = { zone: zone.name, server: server.address, err };
        if (judged.kind === 'failed' && judged.level === 'error') logger.error('ddns-update-failed', fields);
        else logger.warn('ddns-update-failed', fields);
      }
      // Named after the first server's failure (the primary's); answered when any server answered.
      const failure: DnsFailure = { kind: 'failed', reason: failed[0]?.reason ?? 'NO_SERVER', answered: failed.some((f) => f.answered) };
      return failure;
    },
  };
  const lookup: DnsLookup = {
    async lookup(name: string, type: RecordType): Promise<string[] | undefined> {
      const zone = findZone(name, zones);
      for (const client of zone ? (clients.get(zone.name) ?? []) : []) {
        try {
          const answers = await client.query(name, RECORD_TYPE_NUMBERS[type]);
          return answers.filter((rr) => rr.type === RECORD_TYPE_NUMBERS[type]).map((rr) => fromRdata(type, rr.rdata, 'answer', 0).data);
        } catch (err) {
          if (err instanceof DnsRcodeError && err.rcodeName === 'NXDOMAIN') return [];
          logger.debug('ddns-lookup-failed', { name, type, err });
        }
      }
      return undefined;
    },
  };
  const reloadKeys = (): KeyCheck => {
    const check: KeyCheck = { changed: [], failed: [] };
    for (const zone of zones) {
      if (zone.key?.secretFile === undefined) continue;
      try {
        const text = readKeyText(zone.key, zone.name);
        if (text === keyTexts.get(zone.name)) continue;
        const key = keyFromText(text, zone.key, zone.name);
        keyTexts.set(zone.name, text);
        if (sameKey(key, keys.get(zone.name))) continue;
        useKey(zone, key);
        check.changed.push(zone.name);
      } catch (err) {
        if (!(err instanceof DdnsKeyError)) throw err;
        check.failed.push({ zone: zone.name, error: err });
      }
    }
    return check;
  };
  const close = () => {
    for (const list of sessions.values()) for (const session of list) session.close();
  };
  return { updater, lookup, reloadKeys, close };
}

function refusal(server: DnsServerConfig, judged: { rcode: string; tsigError?: string }, err: unknown): DnsRefusal {
  return {
    kind: 'refused',
    rcode: judged.rcode,
    ...(judged.tsigError !== undefined && { tsigError: judged.tsigError }),
    server: `${server.address} port ${server.port}`,
    code: err instanceof LeaseholdError ? err.code : 'E_DNS',
    detail: reasonOf(err),
  };
}

function inlineKey(key: TsigKeyConfig): TsigKey {
  return { name: key.name, algorithm: key.algorithm, secret: Buffer.from(key.secret ?? '', 'base64') };
}

function sameKey(a: TsigKey, b: TsigKey | undefined): boolean {
  return b !== undefined && a.name === b.name && a.algorithm === b.algorithm && a.secret.equals(b.secret);
}

function readKeyText(key: TsigKeyConfig, zone: string): string {
  try {
    return readFileSync(key.secretFile as string, 'utf8');
  } catch (err) {
    throw new DdnsKeyError(`ddns zone ${zone}: cannot read key file ${key.secretFile}: ${reasonOf(err)}`, { cause: err });
  }
}

/** The `key` statement of the configured name in a tsig-keygen file. */
function keyFromText(text: string, key: TsigKeyConfig, zone: string): TsigKey {
  let found: TsigKey | undefined;
  try {
    found = parseTsigKeyFile(text, key.secretFile).find((k) => k.name === key.name);
  } catch (err) {
    throw new DdnsKeyError(`ddns zone ${zone}: ${reasonOf(err)}`, { cause: err });
  }
  if (!found) throw new DdnsKeyError(`ddns zone ${zone}: key file ${key.secretFile} has no key "${key.name}"`);
  if (found.algorithm !== key.algorithm) {
    throw new DdnsKeyError(`ddns zone ${zone}: key "${key.name}" is ${found.algorithm} in ${key.secretFile}, but the config says ${key.algorithm}`);
  }
  return found;
}
