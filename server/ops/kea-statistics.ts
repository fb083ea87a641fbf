import type { MetricFamily } from './metric-catalog.ts';

/**
 * `statistic-get-all` in Kea's shape: each statistic by Kea's name
 * (`pkt4-ack-sent`, `subnet[lab].assigned-addresses`…) with one sample,
 * `[[value, "YYYY-MM-DD HH:MM:SS.ffffff"]]`, computed from the same
 * families /metrics shows. Our subnet ids are strings, so they stand where
 * Kea's numbers do. README.md lists the mapping.
 */
export type KeaStatistics = Record<string, Array<[number, string]>>;

/** Message types Kea keeps a received counter of; the rest are pkt4-unknown-received. */
const RECEIVED_TYPES = ['discover', 'request', 'release', 'decline', 'inform'];
const SENT_TYPES = ['offer', 'ack', 'nak'];

export function keaStatistics(families: readonly MetricFamily[], now: Date): KeaStatistics {
  const at = keaTime(now);
  const out: KeaStatistics = {};
  const set = (name: string, value: number) => (out[name] = [[value, at]]);
  const samples = (family: string) => families.find((f) => f.name === family)?.samples ?? [];
  const sum = (family: string, where: (labels: Readonly<Record<string, string>>) => boolean = () => true) =>
    samples(family).filter((s) => where(s.labels)).reduce((n, s) => n + s.value, 0);

  const received = 'leasehold_dhcp4_packets_received_total';
  set('pkt4-received', sum(received));
  for (const type of RECEIVED_TYPES) set(`pkt4-${type}-received`, sum(received, (l) => l.type === type));
  set('pkt4-unknown-received', sum(received, (l) => !RECEIVED_TYPES.includes(l.type)));
  const sent = 'leasehold_dhcp4_packets_sent_total';
  set('pkt4-sent', sum(sent));
  for (const type of SENT_TYPES) set(`pkt4-${type}-sent`, sum(sent, (l) => l.type === type));
  set('pkt4-parse-failed', sum('leasehold_dhcp4_parse_failures_total'));
  set('pkt4-receive-drop', sum('leasehold_dhcp4_packets_dropped_total'));

  const perSubnet = (family: string, stat: string, global?: string) => {
    for (const s of samples(family)) set(`subnet[${s.labels.subnet}].${stat}`, sum(family, (l) => l.subnet === s.labels.subnet));
    if (global) set(global, sum(family));
  };
  perSubnet('leasehold_dhcp4_subnet_addresses', 'total-addresses');
  perSubnet('leasehold_dhcp4_subnet_assigned_addresses', 'assigned-addresses');
  perSubnet('leasehold_dhcp4_subnet_declined_addresses', 'declined-addresses', 'declined-addresses');
  perSubnet('leasehold_dhcp4_reclaimed_leases_total', 'reclaimed-leases', 'reclaimed-leases');
  perSubnet('leasehold_dhcp4_allocation_failures_total', 'v4-allocation-fail', 'v4-allocation-fail');

  // kea-dhcp-ddns's statistics.
  const updates = sum('leasehold_ddns_updates_sent_total');
  const failed = 'leasehold_ddns_updates_failed_total';
  set('update-sent', updates);
  set('update-timeout', sum(failed, (l) => l.rcode === 'TIMEOUT'));
  set('update-error', sum(failed, (l) => l.rcode !== 'TIMEOUT'));
  set('update-success', updates - sum(failed));
  return out;
}

/** Kea's timestamps: local time, microseconds. */
function keaTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}000`;
}
