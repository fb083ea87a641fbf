import type { SubnetUsage } from '../dhcp4/subnet-usage.ts';

/**
 * What /metrics shows, named by Prometheus conventions (`leasehold_…`,
 * counters ending `_total`, base units: seconds, bytes): the appliance's
 * one counters registry, mapped onto metric families with labels
 * (`subnet`, `interface`, `type`, `reason`…), plus the gauges read from
 * the services' state at the moment of the scrape. Pure; README.md maps
 * each family to Kea's statistic name where Kea has one. The process's own
 * (`process_…`, `nodejs_…`) come from prom-client's default collectors
 * (ops-service.ts), appended to the same exposition.
 */

export type Labels = Readonly<Record<string, string>>;

/** The shape of a counter series of the registry (server/app/counters.ts). */
export interface CounterSample {
  name: string;
  labels: Labels;
  value: number;
}

/** The shape of a histogram series of the registry. */
export interface HistogramSample {
  name: string;
  labels: Labels;
  bounds: readonly number[];
  cumulative: readonly number[];
  sum: number;
  count: number;
}

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Array<{ labels: Labels; value: number }>;
  /** Histograms only. */
  histograms?: HistogramSample[];
}

/** What the services report at the moment of a scrape. */
export interface ApplianceGauges {
  subnets: readonly SubnetUsage[];
  offersHeld: number;
  /** Absent when DDNS is off. */
  ddns?: { queued: number; parked: number; oldestAgeSeconds: number };
  /** When the configuration last loaded or reloaded (seconds since the epoch), and reload outcomes so far. */
  config: { loadedAtSeconds: number };
}

/**
 * How a counter of the registry becomes a series of a family: its name (or
 * a pattern of names), the family, and the labels the name itself carries
 * (`rs_invalid_hop_limit` → reason "hop_limit"); the counter's own labels
 * are kept.
 */
interface CounterRule {
  counter: string | RegExp;
  family: string;
  help: string;
  labels?: (match: RegExpExecArray) => Labels;
}

const DROPPED_HELP = 'DHCPv4 requests dropped, by reason (malformed, invalid, no_subnet, store_failed, rate_limit, stale).';

/** The registry's counters, by the name services count them under (dhcp4-service.ts, ddns-service.ts, ra-service.ts…). */
export const COUNTER_RULES: readonly CounterRule[] = [
  { counter: 'packets_received', family: 'leasehold_dhcp4_packets_received_total', help: 'DHCPv4 datagrams received, by interface and message type (unparsable: failed to decode).' },
  // Before replies_<type>: the first rule that matches a counter is its family.
  { counter: 'replies_dropped', family: 'leasehold_dhcp4_replies_dropped_total', help: 'DHCPv4 replies not sent, by reason (stale: past the reply deadline; overflow: the send queue was full).' },
  {
    counter: /^replies_(.+)$/,
    family: 'leasehold_dhcp4_packets_sent_total',
    help: 'DHCPv4 replies sent, by interface and message type.',
    labels: (m) => ({ type: m[1] }),
  },
  { counter: 'packets_malformed', family: 'leasehold_dhcp4_parse_failures_total', help: 'DHCPv4 datagrams that failed to decode.' },
  { counter: 'packets_dropped', family: 'leasehold_dhcp4_packets_dropped_total', help: DROPPED_HELP },
  // The receive guard's name for the same thing (rate limit, stale): one family either way.
  { counter: 'dropped', family: 'leasehold_dhcp4_packets_dropped_total', help: DROPPED_HELP },
  // Too old to answer when taken from the socket (reason stale): dropped before decoding.
  { counter: 'requests_dropped', family: 'leasehold_dhcp4_packets_dropped_total', help: DROPPED_HELP },
  { counter: 'offer_holds_evicted', family: 'leasehold_dhcp4_offer_holds_evicted_total', help: 'Held offers let go before their time to stay within the caps, by subnet and reason.' },
  { counter: 'requests_unanswered', family: 'leasehold_dhcp4_requests_unanswered_total', help: 'DHCPv4 requests that need no answer from this server, by reason.' },
  { counter: 'pool_exhausted', family: 'leasehold_dhcp4_allocation_failures_total', help: 'DISCOVERs for which no address was free, by subnet.' },
  { counter: 'leases_reclaimed', family: 'leasehold_dhcp4_reclaimed_leases_total', help: 'Expired leases reclaimed, by subnet.' },
  { counter: 'send_errors', family: 'leasehold_dhcp4_send_errors_total', help: 'DHCPv4 replies the kernel refused to send.' },
  { counter: 'internal_errors', family: 'leasehold_dhcp4_internal_errors_total', help: 'DHCPv4 requests that failed inside the server.' },
  { counter: 'ddns_updates_sent', family: 'leasehold_ddns_updates_sent_total', help: 'RFC 2136 UPDATEs sent, by zone.' },
  { counter: 'ddns_updates_failed', family: 'leasehold_ddns_updates_failed_total', help: 'RFC 2136 UPDATEs that failed, by zone and rcode (TIMEOUT: no answer).' },
  { counter: 'ddns_update_splits', family: 'leasehold_ddns_update_splits_total', help: 'Batched UPDATEs split in two after a failure, by zone.' },
  { counter: 'ddns_changes_coalesced', family: 'leasehold_ddns_changes_coalesced_total', help: 'DNS changes folded into a later change of the same name before sending.' },
  { counter: /^ddns_(add|remove)_done$/, family: 'leasehold_ddns_changes_done_total', help: 'DNS changes done, by action.', labels: (m) => ({ action: m[1] }) },
  { counter: 'ddns_conflicts', family: 'leasehold_ddns_conflicts_total', help: 'DNS changes not made because the name is another client\'s (RFC 4703).' },
  { counter: 'ddns_refused', family: 'leasehold_ddns_refused_total', help: 'DNS changes a zone refused for good (parked), by zone and rcode.' },
  { counter: 'ddns_retries', family: 'leasehold_ddns_retries_total', help: 'DNS changes put back to be tried again later.' },
  { counter: 'ddns_reconciler_repairs', family: 'leasehold_ddns_reconciler_repairs_total', help: 'Drift the reconciler repaired, by kind (missing, stale).' },
  {
    counter: /^ra_sent_(multicast|unicast|final)$/,
    family: 'leasehold_ra_sent_total',
    help: 'Router Advertisements sent, by interface and type.',
    labels: (m) => ({ type: m[1] }),
  },
  { counter: 'rs_received', family: 'leasehold_ra_rs_received_total', help: 'Router Solicitations received, by interface.' },
  { counter: /^rs_invalid_(.+)$/, family: 'leasehold_ra_rs_invalid_total', help: 'Router Solicitations dropped as invalid (RFC 4861 §6.1.1), by reason.', labels: (m) => ({ reason: m[1] }) },
  { counter: 'store_commits', family: 'leasehold_store_commits_total', help: 'Groups of lease changes the store made durable.' },
  { counter: 'store_commit_failures', family: 'leasehold_store_commit_failures_total', help: 'Commit calls the lease store rejected (no ACK was sent for them).' },
  { counter: 'control_requests', family: 'leasehold_control_requests_total', help: 'Control API requests, by command and result code.' },
  { counter: 'config_reloads', family: 'leasehold_config_reloads_total', help: 'Configuration reloads, by outcome (applied, invalid, refused).' },
];

/** Family of a counter no rule names: the counter's own name, so nothing counted is hidden. */
function fallbackFamily(counter: string): { family: string; help: string } {
  return { family: `leasehold_${counter}_total`, help: `Counter ${counter}.` };
}

/** Store histograms: the registry's names (declared, with their buckets, by the store's commit monitor) and their families. */
export const HISTOGRAMS = {
  storeCommitSeconds: {
    name: 'store_commit_seconds',
    family: 'leasehold_store_commit_duration_seconds',
    help: 'Time to make one group of lease changes durable (one transaction and its fsync).',
  },
  storeGroupSize: {
    name: 'store_commit_group_size',
    family: 'leasehold_store_commit_group_size',
    help: 'Commit calls folded into one store transaction (group commit).',
  },
} as const;

/** Every family of one scrape, counters and histograms of the registry first, then the gauges; sorted by name. */
export function metricFamilies(counters: readonly CounterSample[], histograms: readonly HistogramSample[], gauges: ApplianceGauges): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const family = (name: string, help: string, type: MetricType) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, help, type, samples: [] }));
    return f;
  };
  for (const c of counters) {
    const { rule, match } = ruleFor(c.name);
    const target = rule ? { family: rule.family, help: rule.help } : fallbackFamily(c.name);
    const labels = { ...c.labels, ...(rule?.labels && match ? rule.labels(match) : {}) };
    const samples = family(target.family, target.help, 'counter').samples;
    // Two counters of the registry mapped onto one series (the same labels) are one figure: a series must appear once.
    const same = samples.find((s) => sameLabels(s.labels, labels));
    if (same) same.value += c.value;
    else samples.push({ labels, value: c.value });
  }
  for (const h of histograms) {
    const spec = Object.values(HISTOGRAMS).find((s) => s.name === h.name);
    const f = family(spec?.family ?? `leasehold_${h.name}`, spec?.help ?? `Histogram ${h.name}.`, 'histogram');
    (f.histograms ??= []).push(h);
  }
  const gauge = (name: string, help: string, samples: Array<{ labels: Labels; value: number }>) => family(name, help, 'gauge').samples.push(...samples);
  const perSubnet = (pick: (u: SubnetUsage) => number) => gauges.subnets.map((u) => ({ labels: { subnet: u.subnetId }, value: pick(u) }));
  gauge('leasehold_dhcp4_subnet_addresses', 'Addresses in the subnet\'s pools.', perSubnet((u) => u.total));
  gauge('leasehold_dhcp4_subnet_assigned_addresses', 'Addresses bound to a client and not expired.', perSubnet((u) => u.assigned));
  gauge('leasehold_dhcp4_subnet_declined_addresses', 'Addresses declined by a client and still in quarantine.', perSubnet((u) => u.declined));
  gauge('leasehold_dhcp4_offers_held', 'Addresses held for a client that was offered them (RFC 2131 §4.3.1).', [{ labels: {}, value: gauges.offersHeld }]);
  if (gauges.ddns) {
    gauge('leasehold_ddns_queue_depth', 'DNS changes waiting in the durable queue (parked ones included).', [{ labels: {}, value: gauges.ddns.queued }]);
    gauge('leasehold_ddns_queue_parked', 'DNS changes parked after a zone refused them for good.', [{ labels: {}, value: gauges.ddns.parked }]);
    gauge('leasehold_ddns_queue_oldest_age_seconds', 'Age of the oldest DNS change in the queue (0 when empty).', [{ labels: {}, value: gauges.ddns.oldestAgeSeconds }]);
  }
  gauge('leasehold_config_loaded_timestamp_seconds', 'When the running configuration was loaded or last reloaded.', [{ labels: {}, value: gauges.config.loadedAtSeconds }]);
  return [...families.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function sameLabels(a: Labels, b: Labels): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function ruleFor(counter: string): { rule?: CounterRule; match?: RegExpExecArray } {
  for (const rule of COUNTER_RULES) {
    if (typeof rule.counter === 'string') {
      if (rule.counter === counter) return { rule };
    } else {
      const match = rule.counter.exec(counter);
      if (match) return { rule, match };
    }
  }
  return {};
}
