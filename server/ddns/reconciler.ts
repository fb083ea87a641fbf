import type { Logger } from '../../lib/core/logger.ts';
import type { Lease } from '../leases/lease.ts';
import type { DdnsConfig } from './ddns-config.ts';
import type { DnsChange } from '../leases/dns-change.ts';
import { findZone, reverseNameV4 } from './reverse-names.ts';
import type { RecordType } from '../../lib/dns/update-request.ts';

/** Asks DNS what a name holds: the records' presentation data, [] for none, undefined when DNS could not be asked. */
export interface DnsLookup {
  lookup(name: string, type: RecordType): Promise<string[] | undefined>;
}

/** What the reconciler needs from the rest of DDNS. */
export interface ReconcileTarget {
  /** Whether changes to this name are still waiting in the queue (then DNS is about to move anyway). */
  hasPending(fqdn: string): boolean;
  /** The change that (re)publishes or withdraws a lease's name. */
  changeFor(action: DnsChange['action'], lease: Lease): DnsChange;
  /** Makes the changes durable and queues them. */
  enqueue(changes: DnsChange[]): Promise<void>;
}

export interface ReconcileReport {
  checked: number;
  missing: number;
  stale: number;
  unreachable: number;
}

/** How long after a lease ended its address is still checked for a stale name. */
const STALE_WINDOW_MS = 24 * 3600 * 1000;
/** Queries in flight at once: enough to be quick, few enough not to hammer BIND. */
const CONCURRENCY = 8;

/**
 * Compares the lease table with what DNS answers and repairs the drift the
 * queue cannot see (records someone deleted or changed, a store restored
 * from a backup, a BIND that lost its journal):
 *  - missing: a bound lease's A, AAAA or PTR is not in DNS → publish it again
 *    (through the same DHCID-guarded plan, so a name someone else took
 *    meanwhile stays theirs);
 *  - stale: an address whose lease ended still has a PTR to a name of ours
 *    that still points at it → withdraw it (DHCID-guarded again: only if
 *    the name is that client's).
 * Foreign records at our names are left to conflict resolution.
 */
export async function reconcile(
  leases: readonly Lease[],
  ddns: DdnsConfig,
  dns: DnsLookup,
  target: ReconcileTarget,
  logger: Logger,
  now: number,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { checked: 0, missing: 0, stale: 0, unreachable: 0 };
  const boundIps = new Set(leases.filter((l) => l.state === 'bound').map((l) => l.ip));
  const repairs: DnsChange[] = [];
  const check = async (lease: Lease) => {
    const verdict = lease.state === 'bound' ? await checkBound(lease, dns) : await checkEnded(lease, ddns, dns);
    report.checked++;
    if (verdict.kind === 'unreachable') report.unreachable++;
    if (verdict.kind === 'missing' && !target.hasPending(lease.fqdn as string)) {
      report.missing++;
      logger.info('ddns-drift', { kind: 'missing', fqdn: lease.fqdn, ip: lease.ip, what: verdict.what });
      repairs.push(target.changeFor('add', lease));
    }
    if (verdict.kind === 'stale' && !target.hasPending(verdict.fqdn)) {
      report.stale++;
      logger.info('ddns-drift', { kind: 'stale', fqdn: verdict.fqdn, ip: lease.ip });
      repairs.push(target.changeFor('remove', { ...lease, fqdn: verdict.fqdn }));
    }
  };
  const candidates = leases.filter((l) =>
    l.state === 'bound' ? l.fqdn !== undefined : !boundIps.has(l.ip) && now - l.expiresAt < STALE_WINDOW_MS,
  );
  for (let i = 0; i < candidates.length; i += CONCURRENCY) {
    await Promise.all(candidates.slice(i, i + CONCURRENCY).map(check));
  }
  if (repairs.length > 0) await target.enqueue(repairs);
  return report;
}

type Verdict = { kind: 'ok' } | { kind: 'unreachable' } | { kind: 'missing'; what: string } | { kind: 'stale'; fqdn: string };

async function checkBound(lease: Lease, dns: DnsLookup): Promise<Verdict> {
  const fqdn = lease.fqdn as string;
  const wanted: Array<[string, RecordType, string]> = [[fqdn, 'A', lease.ip], [reverseNameV4(lease.ip), 'PTR', fqdn]];
  if (lease.ipv6 !== undefined) wanted.push([fqdn, 'AAAA', lease.ipv6]);
  for (const [name, type, value] of wanted) {
    const answer = await dns.lookup(name, type);
    if (answer === undefined) return { kind: 'unreachable' };
    if (!answer.some((a) => a.toLowerCase() === value.toLowerCase())) return { kind: 'missing', what: `${type} ${name}` };
  }
  return { kind: 'ok' };
}

async function checkEnded(lease: Lease, ddns: DdnsConfig, dns: DnsLookup): Promise<Verdict> {
  const reverse = reverseNameV4(lease.ip);
  if (!findZone(reverse, ddns.zones)) return { kind: 'ok' };
  const ptr = await dns.lookup(reverse, 'PTR');
  if (ptr === undefined) return { kind: 'unreachable' };
  for (const name of ptr) {
    const fqdn = name.replace(/\.$/, '').toLowerCase();
    if (!findZone(fqdn, ddns.zones)) continue;
    const a = await dns.lookup(fqdn, 'A');
    if (a === undefined) return { kind: 'unreachable' };
    if (a.includes(lease.ip)) return { kind: 'stale', fqdn };
  }
  return { kind: 'ok' };
}
