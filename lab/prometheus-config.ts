/**
 * The lab's Prometheus configuration, built from the list of what to
 * scrape (every server's control address, every agent's metrics relay)
 * rather than copied from a file: a second appliance is one more
 * `--server`. lab/lab.sh runs it as a script:
 *
 *   node dist/lab/prometheus-config.js --server NAME=ADDR:PORT ...
 *     [--agent NAME=ADDR:PORT ...] --token-file PATH
 *     [--scrape-interval SECONDS] OUT
 *
 * and Prometheus reads OUT (YAML). The servers' /metrics needs the bearer
 * token of their `control.http.tokenFile` (README, "Control API"); the
 * agents' needs none (it only reads).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { isIpv4 } from '../lib/wire/ipv4.ts';

/** One scrape target: a name for its `instance_name` label and where its /metrics is. */
export interface ScrapeTarget {
  name: string;
  /** IPV4:PORT. */
  address: string;
}

export interface LabPrometheusParams {
  /** leasehold-server instances (job `leasehold-server`), scraped with the token. */
  servers: readonly ScrapeTarget[];
  /** `agent watch` instances (job `leasehold-agent`). */
  agents: readonly ScrapeTarget[];
  /** The bearer token file the servers' control HTTP wants. */
  tokenFile: string;
  /** Seconds between scrapes (and rule evaluations). */
  scrapeIntervalSeconds: number;
}

/** Jobs as the lab names them: PromQL in lab.sh and the tests selects on them. */
export const SERVER_JOB = 'leasehold-server';
export const AGENT_JOB = 'leasehold-agent';

/** A target or parameter the generator cannot use: the message names it. */
export class PrometheusConfigError extends Error {}

/** The configuration Prometheus reads: one job for the servers, one for the agents. */
export function labPrometheusConfig(p: LabPrometheusParams): Record<string, unknown> {
  if (p.servers.length === 0) throw new PrometheusConfigError('no --server: the lab has at least one leasehold-server to scrape');
  if (!Number.isInteger(p.scrapeIntervalSeconds) || p.scrapeIntervalSeconds < 1) {
    throw new PrometheusConfigError(`--scrape-interval ${p.scrapeIntervalSeconds}: a whole number of seconds, at least 1`);
  }
  const names = new Set<string>();
  for (const target of [...p.servers, ...p.agents]) {
    if (names.has(target.name)) throw new PrometheusConfigError(`target name ${target.name} is given twice`);
    names.add(target.name);
  }
  const interval = `${p.scrapeIntervalSeconds}s`;
  // One static_configs entry per target, so each carries its own name.
  const targets = (list: readonly ScrapeTarget[]) => list.map((x) => ({ targets: [x.address], labels: { instance_name: x.name } }));
  return {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    scrape_configs: [
      {
        job_name: SERVER_JOB,
        metrics_path: '/metrics',
        authorization: { type: 'Bearer', credentials_file: p.tokenFile },
        static_configs: targets(p.servers),
      },
      ...(p.agents.length > 0 ? [{ job_name: AGENT_JOB, metrics_path: '/metrics', static_configs: targets(p.agents) }] : []),
    ],
  };
}

/** `NAME=198.18.0.1:8000` → a target; the flag is named in the error. */
export function parseTarget(flag: string, text: string): ScrapeTarget {
  const match = /^([\w.-]+)=([^:=]+):(\d{1,5})$/.exec(text);
  if (!match || !isIpv4(match[2]) || Number(match[3]) < 1 || Number(match[3]) > 65535) {
    throw new PrometheusConfigError(`--${flag} ${JSON.stringify(text)}: want NAME=IPV4:PORT, like appliance=198.18.0.1:8000`);
  }
  return { name: match[1], address: `${match[2]}:${Number(match[3])}` };
}

// ---------------------------------------------------------------------------
// Command line

const USAGE = `usage: prometheus-config --server NAME=IPV4:PORT... [--agent NAME=IPV4:PORT...] --token-file PATH
                         [--scrape-interval SECONDS] OUT`;

const HEADER = '# Written by lab/prometheus-config.ts for this lab (lab/lab.sh up); edits are lost at the next up.\n';

/** The script's work: writes OUT and returns the exit code (2: bad arguments, 1: bad targets). */
export function prometheusConfigMain(argv: readonly string[], stderr: (line: string) => void): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        server: { type: 'string', multiple: true },
        agent: { type: 'string', multiple: true },
        'token-file': { type: 'string' },
        'scrape-interval': { type: 'string' },
      },
    });
  } catch (error) {
    stderr(`prometheus-config: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || values['token-file'] === undefined) {
    stderr(`prometheus-config: want --token-file and one output file\n${USAGE}`);
    return 2;
  }
  try {
    const config = labPrometheusConfig({
      servers: (values.server ?? []).map((s) => parseTarget('server', s)),
      agents: (values.agent ?? []).map((s) => parseTarget('agent', s)),
      tokenFile: values['token-file'],
      scrapeIntervalSeconds: Number(values['scrape-interval'] ?? 5),
    });
    writeFileSync(positionals[0], HEADER + toYaml(config));
  } catch (error) {
    if (!(error instanceof PrometheusConfigError)) throw error;
    stderr(`prometheus-config: ${error.message}`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = prometheusConfigMain(process.argv.slice(2), (line) => process.stderr.write(`${line}\n`));
}
