import { readFileSync } from 'node:fs';
import type { Logger } from '../../lib/core/logger.ts';
import type { UpdateOutcome } from '../ddns/conflict-resolution.ts';
import type { DdnsZoneConfig, TsigKeyConfig } from '../ddns/ddns-config.ts';
import type { DnsUpdater } from '../ddns/ddns-worker.ts';
import type { DnsLookup } from '../ddns/reconciler.ts';
import { RECORD_TYPE_NUMBERS, fromRdata } from '../../lib/dns/record-data.ts';
import { findZone } from '../ddns/reverse-names.ts';
import { DnsRcodeError } from '../../lib/dns/dns-rcode-error.ts';
import type { TsigKey } from '../../lib/dns/tsig.ts';
import { parseTsigKeyFile } from '../../lib/dns/tsig-key-file.ts';
import type { RecordType, UpdateRequest } from '../../lib/dns/update-request.ts';
import { LeaseholdError, reasonOf } from '../../lib/core/errors.ts';
import { DnsClient } from '../../lib/dns/dns-client.ts';

export class DdnsKeyError extends LeaseholdError {
  readonly code = 'E_DDNS_KEY';
}

/** The RCODEs conflict resolution reasons about (RFC 2136 §2.4); any other failure is `failed`. */
const PREREQUISITE_OUTCOMES: Readonly<Record<string, UpdateOutcome>> = {
  NXDOMAIN: 'nxdomain',
  YXDOMAIN: 'yxdomain',
  NXRRSET: 'nxrrset',
  YXRRSET: 'yxrrset',
};

/**
 * Talks to each zone's servers in order, the primary first (RFC 2136 §4),
 * with the zone's TSIG key: updates for the worker, lookups for the
 * reconciler. Keys with a `secretFile` are read once, at start-up, so a
 * missing file is a start-up error, not a silent failure.
 */
export function createDnsServices(zones: readonly DdnsZoneConfig[], logger: Logger): { updater: DnsUpdater; lookup: DnsLookup } {
  const clients = new Map<string, DnsClient[]>();
  for (const zone of zones) {
    const key = zone.key ? loadKey(zone.key, zone.name) : undefined;
    clients.set(zone.name, zone.servers.map((server) => new DnsClient({ server, key })));
  }
  const updater: DnsUpdater = {
    async update(zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateOutcome> {
      for (const client of clients.get(zone.name) ?? []) {
        try {
          await client.update(req);
          return 'success';
        } catch (err) {
          if (err instanceof DnsRcodeError && err.rcodeName && PREREQUISITE_OUTCOMES[err.rcodeName]) {
            return PREREQUISITE_OUTCOMES[err.rcodeName];
          }
          logger.warn('ddns-update-failed', { zone: zone.name, err });
        }
      }
      return 'failed';
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
  return { updater, lookup };
}

/** The zone's key: inline, or the `key` statement of that name in a tsig-keygen file. */
function loadKey(key: TsigKeyConfig, zone: string): TsigKey {
  if (key.secretFile === undefined) {
    return { name: key.name, algorithm: key.algorithm, secret: Buffer.from(key.secret ?? '', 'base64') };
  }
  let text: string;
  try {
    text = readFileSync(key.secretFile, 'utf8');
  } catch (err) {
    throw new DdnsKeyError(`ddns zone ${zone}: cannot read key file ${key.secretFile}: ${reasonOf(err)}`, { cause: err });
  }
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
