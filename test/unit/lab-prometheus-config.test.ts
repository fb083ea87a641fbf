import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { AGENT_JOB, labPrometheusConfig, parseTarget, prometheusConfigMain, PrometheusConfigError, SERVER_JOB } from '../../lab/prometheus-config.ts';

const params = {
  servers: [{ name: 'appliance', address: '198.18.0.1:8000' }],
  agents: [{ name: 'lh-w1', address: '198.18.0.11:9101' }, { name: 'lh-w2', address: '198.18.0.12:9101' }],
  tokenFile: '/run/lab/control.token',
  scrapeIntervalSeconds: 5,
};

function run(argv: string[]): { code: number; stderr: string } {
  const lines: string[] = [];
  return { code: prometheusConfigMain(argv, (l) => lines.push(l)), stderr: lines.join('\n') };
}

test('servers are scraped with the bearer token file, agents without; each target carries its name', (t) => {
  const config = labPrometheusConfig(params) as { global: object; scrape_configs: Array<Record<string, unknown>> };
  t.deepEqual(config.global, { scrape_interval: '5s', evaluation_interval: '5s', scrape_timeout: '5s' });
  t.deepEqual(config.scrape_configs, [
    {
      job_name: SERVER_JOB,
      metrics_path: '/metrics',
      authorization: { type: 'Bearer', credentials_file: '/run/lab/control.token' },
      static_configs: [{ targets: ['198.18.0.1:8000'], labels: { instance_name: 'appliance' } }],
    },
    {
      job_name: AGENT_JOB,
      metrics_path: '/metrics',
      static_configs: [
        { targets: ['198.18.0.11:9101'], labels: { instance_name: 'lh-w1' } },
        { targets: ['198.18.0.12:9101'], labels: { instance_name: 'lh-w2' } },
      ],
    },
  ]);
});

test('a second appliance is one more server entry in the same job', (t) => {
  const two = labPrometheusConfig({ ...params, servers: [...params.servers, { name: 'appliance2', address: '198.18.0.3:8000' }] }) as {
    scrape_configs: Array<{ job_name: string; static_configs: unknown[] }>;
  };
  t.deepEqual(two.scrape_configs[0].static_configs[1], { targets: ['198.18.0.3:8000'], labels: { instance_name: 'appliance2' } });
  t.is(two.scrape_configs.length, 2);
});

test('no agents: no agent job; no server, a repeated name or a bad interval is refused naming it', (t) => {
  const alone = labPrometheusConfig({ ...params, agents: [] }) as { scrape_configs: unknown[] };
  t.is(alone.scrape_configs.length, 1);
  t.throws(() => labPrometheusConfig({ ...params, servers: [] }), { instanceOf: PrometheusConfigError, message: /no --server/ });
  t.throws(() => labPrometheusConfig({ ...params, agents: [{ name: 'appliance', address: '198.18.0.11:9101' }] }), { message: /appliance is given twice/ });
  t.throws(() => labPrometheusConfig({ ...params, scrapeIntervalSeconds: 0.5 }), { message: /--scrape-interval 0.5/ });
});

test('targets are NAME=IPV4:PORT', (t) => {
  t.deepEqual(parseTarget('server', 'appliance2=198.18.0.3:8000'), { name: 'appliance2', address: '198.18.0.3:8000' });
  for (const bad of ['198.18.0.3:8000', 'a=198.18.0.300:8000', 'a=198.18.0.3', 'a=198.18.0.3:0', 'a=198.18.0.3:70000', 'a b=198.18.0.3:1']) {
    t.throws(() => parseTarget('agent', bad), { message: new RegExp(`^--agent "${bad.replace(/[.]/g, '\\.')}": want NAME=IPV4:PORT`) }, bad);
  }
});

test('the script writes YAML Prometheus reads; bad arguments exit 2, bad targets exit 1', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lt-promcfg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'prometheus.yml');
  t.deepEqual(run(['--server', 'appliance=198.18.0.1:8000', '--agent', 'lh-w1=198.18.0.11:9101', '--token-file', '/t', '--scrape-interval', '2', out]), { code: 0, stderr: '' });
  const written = parseYaml(readFileSync(out, 'utf8')) as { global: { scrape_interval: string }; scrape_configs: Array<{ job_name: string }> };
  t.is(written.global.scrape_interval, '2s');
  t.deepEqual(written.scrape_configs.map((c) => c.job_name), [SERVER_JOB, AGENT_JOB]);

  const missing = run(['--server', 'appliance=198.18.0.1:8000', out]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--token-file.*\nusage: prometheus-config/);
  t.is(run(['--frobnicate', out]).code, 2);
  const bad = run(['--server', 'appliance', '--token-file', '/t', out]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--server "appliance": want NAME=IPV4:PORT/);
});
