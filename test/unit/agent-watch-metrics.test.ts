import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WatchMetrics } from '../../agent/app/watch-metrics.ts';
import { metricsListen } from '../../agent/cli/command-line.ts';
import { StateStore } from '../../agent/io/state-store.ts';

test('--metrics: IPV4:PORT listens on TCP, anything else is a socket path; the default is beside the run directory', (t) => {
  t.deepEqual(metricsListen(undefined, undefined, '/run/leasehold'), { socket: '/run/leasehold/metrics.sock' });
  t.deepEqual(metricsListen('127.0.0.1:9101', '/cwd/127.0.0.1:9101', '/run/x'), { host: '127.0.0.1', port: 9101 });
  t.deepEqual(metricsListen('m.sock', '/cwd/m.sock', '/run/x'), { socket: '/cwd/m.sock' }, 'a relative path is the CLI\'s');
  t.throws(() => metricsListen('127.0.0.1:70000', '/cwd/x', '/run/x'), { message: /port must be 0-65535/ });
});

test('watch metrics: leasehold_agent_ names, counters end in _total, gauges read from the state directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lh-wm-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new StateStore(dir);
  await store.init();
  const m = new WatchMetrics(store);
  m.attachSeconds.observe(0.3);
  m.clientRestarts.inc();
  m.eventLagSeconds.observe(0.002);
  const text = await m.registry.metrics();
  t.regex(text, /^leasehold_agent_attachments 0$/m);
  t.regex(text, /^leasehold_agent_pending_releases 0$/m);
  t.regex(text, /^leasehold_agent_attach_duration_seconds_bucket\{le="0.5"\} 1$/m);
  t.regex(text, /^leasehold_agent_attach_duration_seconds_bucket\{le="0.25"\} 0$/m);
  t.regex(text, /^leasehold_agent_client_restarts_total 1$/m);
  t.regex(text, /^leasehold_agent_docker_event_lag_seconds_count 1$/m);
  for (const [, name, type] of text.matchAll(/^# TYPE (leasehold_agent_\w+) (\w+)$/gm)) {
    t.is(type === 'counter', name.endsWith('_total'), name);
  }
});
