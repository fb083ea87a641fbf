/**
 * Label values that tell series of one counter apart (subnet, interface,
 * zone, reason…), as Prometheus labels do: the same name with other labels
 * is another series of the same counter.
 */
export type CounterLabels = Readonly<Record<string, string>>;

/** One series: a counter name, its labels (maybe none) and its value. */
export interface CounterSeries {
  name: string;
  labels: CounterLabels;
  value: number;
}

/** What a service counts with; the appliance's one registry implements it. */
export interface CounterSink {
  inc(name: string, labels?: CounterLabels, by?: number): void;
}

/** What a service measures durations or sizes with: one observation into a histogram of the registry. */
export interface HistogramSink {
  observe(name: string, value: number, labels?: CounterLabels): void;
}

/** One histogram series: cumulative counts per upper bound (the last bound is +Inf), the sum and count of observations. */
export interface HistogramSeries {
  name: string;
  labels: CounterLabels;
  /** Upper bounds, ascending, without +Inf. */
  bounds: readonly number[];
  /** `cumulative[i]` observations were ≤ `bounds[i]`; `count` is the +Inf bucket. */
  cumulative: number[];
  sum: number;
  count: number;
}

/**
 * The appliance's one registry of named monotonic counters, shared by every
 * service: the `stopped` log line shows it now, and a control API or a
 * /metrics endpoint reads the same series later. A counter may be labelled
 * (`inc('ddns_refused', { zone })`); `snapshot()` keeps the flat per-name
 * totals the log line has always had, `series()` keeps the labels.
 */
export class Counters implements CounterSink, HistogramSink {
  /** name → label key (see #key) → series. */
  readonly #counters = new Map<string, Map<string, CounterSeries>>();
  /** Histograms: name → bounds, declared once (`defineHistogram`), and their series. */
  readonly #histograms = new Map<string, { bounds: readonly number[]; series: Map<string, HistogramSeries> }>();

  /**
   * Declares a histogram and its bucket upper bounds (ascending). An
   * observation of an undeclared name is a programming error, so it throws:
   * Prometheus needs every series of one histogram to share its buckets.
   */
  defineHistogram(name: string, bounds: readonly number[]): void {
    if (bounds.length === 0 || bounds.some((b, i) => i > 0 && b <= bounds[i - 1])) throw new RangeError(`histogram ${name}: bounds must ascend`);
    const known = this.#histograms.get(name);
    if (known && known.bounds.join() !== bounds.join()) throw new Error(`histogram ${name} is already defined with other bounds`);
    if (!known) this.#histograms.set(name, { bounds: [...bounds], series: new Map() });
  }

  observe(name: string, value: number, labels: CounterLabels = {}): void {
    const histogram = this.#histograms.get(name);
    if (!histogram) throw new Error(`histogram ${name} is not defined`);
    const key = labelKey(labels);
    let entry = histogram.series.get(key);
    if (!entry) {
      entry = { name, labels: { ...labels }, bounds: histogram.bounds, cumulative: histogram.bounds.map(() => 0), sum: 0, count: 0 };
      histogram.series.set(key, entry);
    }
    histogram.bounds.forEach((bound, i) => {
      if (value <= bound) entry.cumulative[i]++;
    });
    entry.sum += value;
    entry.count++;
  }

  /** Every histogram series, sorted by name, then labels. */
  histograms(): HistogramSeries[] {
    return [...this.#histograms.keys()].sort((a, b) => a.localeCompare(b)).flatMap((name) => {
      const series = [...(this.#histograms.get(name)?.series.entries() ?? [])].sort(([a], [b]) => a.localeCompare(b));
      return series.map(([, h]) => ({ ...h, labels: { ...h.labels }, cumulative: [...h.cumulative] }));
    });
  }

  inc(name: string, labels: CounterLabels = {}, by = 1): void {
    let series = this.#counters.get(name);
    if (!series) this.#counters.set(name, (series = new Map()));
    const key = labelKey(labels);
    const entry = series.get(key);
    if (entry) entry.value += by;
    else series.set(key, { name, labels: { ...labels }, value: by });
  }

  /** One series' value; without labels, the unlabelled series (not the total: see `total`). */
  get(name: string, labels: CounterLabels = {}): number {
    return this.#counters.get(name)?.get(labelKey(labels))?.value ?? 0;
  }

  /** A counter summed over all its series. */
  total(name: string): number {
    let sum = 0;
    for (const entry of this.#counters.get(name)?.values() ?? []) sum += entry.value;
    return sum;
  }

  /** Per-name totals, sorted by name: the `stopped` line's `counters`. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#names().map((name) => [name, this.total(name)]));
  }

  /** Every series with its labels, sorted by name, then by label names and values (for /metrics). */
  series(): CounterSeries[] {
    return this.#names().flatMap((name) => {
      const series = [...(this.#counters.get(name)?.entries() ?? [])].sort(([a], [b]) => a.localeCompare(b));
      return series.map(([, s]) => ({ name, labels: { ...s.labels }, value: s.value }));
    });
  }

  #names(): string[] {
    return [...this.#counters.keys()].sort((a, b) => a.localeCompare(b));
  }
}

/**
 * Labels in a canonical order, so { a, b } and { b, a } are one series: the
 * JSON of the sorted [name, value] pairs, built by hand (several times per
 * DHCP exchange, so no pair arrays, no sort of a single name, and a
 * constant for no labels); the series are sorted by this key.
 */
export function labelKey(labels: CounterLabels): string {
  const names = Object.keys(labels);
  if (names.length === 0) return '[]';
  if (names.length > 1) names.sort();
  let key = '[';
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    key += `${i === 0 ? '' : ','}[${JSON.stringify(name)},${JSON.stringify(labels[name]) ?? 'null'}]`;
  }
  return `${key}]`;
}
