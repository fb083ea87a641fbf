import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { labPrometheusConfig, type LabPrometheusParams } from '../../lab/prometheus-config.ts';
import { httpIn } from './control-http.ts';
import type { Host } from './netns.ts';
import { pollUntil } from './poll.ts';
import type { TrackedProcess } from './tracked-process.ts';

export const PROMETHEUS_PORT = 9090;

/** One sample of an instant vector (`/api/v1/query`): its labels and value. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** One entry of `/api/v1/targets`' active targets. */
export interface PromTarget {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

/** Debian's prometheus in `host`'s namespace, configured by the lab's own generator (lab/prometheus-config.ts). */
export interface PrometheusUnderTest {
  readonly process: TrackedProcess;
  readonly url: string;
  /** An instant query through the HTTP API; throws on an API error. */
  query(promql: string): Promise<PromSample[]>;
  targets(): Promise<PromTarget[]>;
}

export async function startPrometheus(host: Host, params: Omit<LabPrometheusParams, 'scrapeIntervalSeconds'> & { scrapeIntervalSeconds?: number }): Promise<PrometheusUnderTest> {
  if (!host.ipv4) throw new Error(`prometheus host ${host.name} needs an address`);
  const address = host.ipv4.split('/')[0];
  const dir = join(host.segment.tmpDir, `prometheus-${host.name}`);
  await mkdir(join(dir, 'data'), { recursive: true });
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, toYaml(labPrometheusConfig({ scrapeIntervalSeconds: 1, ...params })));
  const child = host.segment.spawnIn(host.netns, [
    'prometheus', `--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${address}:${PROMETHEUS_PORT}`,
  ], { label: `prometheus@${host.netns}` });
  const url = `http://${address}:${PROMETHEUS_PORT}`;
  const get = async (path: string) => httpIn(host.netns, `${url}${path}`).catch(() => undefined);
  await pollUntil('prometheus to be ready', async () => {
    if (!child.running) throw new Error(`prometheus exited:\n${child.tail()}`);
    return (await get('/-/ready'))?.status === 200;
  }, { timeoutMs: 30_000, intervalMs: 200, describe: () => child.tail() });

  return {
    process: child,
    url,
    query: (promql) => queryPrometheus(host.netns, url, promql),
    async targets() {
      return (await prometheusApi<{ activeTargets: PromTarget[] }>(host.netns, url, '/api/v1/targets?state=active')).activeTargets;
    },
  };
}

/** GET `path` of Prometheus's HTTP API at `url`, from inside `netns`: its `data`; throws on an API error. */
export async function prometheusApi<T>(netns: string, url: string, path: string): Promise<T> {
  const answer = await httpIn(netns, `${url}${path}`);
  const body = JSON.parse(answer.body) as { status: string; data: T; error?: string };
  if (answer.status !== 200 || body.status !== 'success') throw new Error(`prometheus ${path}: HTTP ${answer.status} ${body.error ?? answer.body}`);
  return body.data;
}

/** An instant query (`/api/v1/query`) of the Prometheus at `url`, from inside `netns`. */
export async function queryPrometheus(netns: string, url: string, promql: string): Promise<PromSample[]> {
  const data = await prometheusApi<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
    netns, url, `/api/v1/query?query=${encodeURIComponent(promql)}`,
  );
  if (data.resultType !== 'vector') throw new Error(`prometheus query ${promql}: a ${data.resultType}, not a vector`);
  return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}
