import type { Logger, LogFields } from '../../../lib/core/logger.ts';
import { DDNS_DEFAULTS, type DdnsConfig, type DdnsZoneConfig } from '../../../server/ddns/ddns-config.ts';
import type { DnsChange } from '../../../server/leases/dns-change.ts';

/** A DHCID (RFC 4701) as the queue stores it; its value does not matter to the worker. */
export const TEST_DHCID = 'AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=';

/** Validated DDNS settings for unit tests: the given zones, millisecond back-off, no reconcile timer. */
export function testDdnsConfig(zones: DdnsZoneConfig[], over: Partial<DdnsConfig> = {}): DdnsConfig {
  return {
    enabled: true,
    zones,
    conflictResolution: 'check-with-dhcid',
    ttl: DDNS_DEFAULTS.ttl,
    onRefusedName: 'generate',
    updateOnRenew: false,
    retry: { initialMs: 5, maxMs: 20 },
    reconcileIntervalSeconds: 0,
    claimSeconds: 30,
    ...over,
  };
}

/** A queued name change of the lab's forward zone. */
export function testDnsChange(seq: number, fqdn: string, action: 'add' | 'remove' = 'add', ipv4 = '198.18.1.10'): DnsChange {
  return { seq, action, fqdn, ipv4, dhcid: TEST_DHCID, ttl: 200, createdAt: 0 };
}

export interface RecordedLine {
  level: string;
  event: string;
  fields: LogFields;
}

/** A logger that keeps every line it is given (every level enabled). */
export function recordingLogger(): Logger & { lines: RecordedLine[] } {
  const lines: RecordedLine[] = [];
  const at = (level: string) => (event: string, fields: LogFields = {}) => void lines.push({ level, event, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), always: at('always'), enabled: () => true };
}
