import type { Labels, MetricFamily } from './metric-catalog.ts';

/**
 * Prometheus's text exposition format, version 0.0.4 (the format every
 * Prometheus scrapes): `# HELP` and `# TYPE` per family, one line per
 * series, histograms as cumulative `_bucket{le=…}` lines ending in +Inf,
 * then `_sum` and `_count`. Pure.
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function formatPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    const name = metricName(family.name);
    lines.push(`# HELP ${name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${name} ${family.type}`);
    for (const s of family.samples) lines.push(`${name}${labelSet(s.labels)} ${number(s.value)}`);
    for (const h of family.histograms ?? []) {
      h.bounds.forEach((bound, i) => lines.push(`${name}_bucket${labelSet({ ...h.labels, le: number(bound) })} ${h.cumulative[i]}`));
      lines.push(`${name}_bucket${labelSet({ ...h.labels, le: '+Inf' })} ${h.count}`);
      lines.push(`${name}_sum${labelSet(h.labels)} ${number(h.sum)}`);
      lines.push(`${name}_count${labelSet(h.labels)} ${h.count}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** A metric name as the format allows it: [a-zA-Z_:][a-zA-Z0-9_:]*. */
export function metricName(name: string): string {
  const safe = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(safe) ? `_${safe}` : safe;
}

function labelSet(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  const body = entries
    .map(([k, v]) => `${k.replace(/[^a-zA-Z0-9_]/g, '_')}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
  return `{${body}}`;
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
