// Debian's docker-compose (1.29.2) on a Leasehold network: a Compose file
// whose network has `driver: <our plugin>` with driver_opts and the null
// IPAM, two services. `up -d` gives both a lease, and each resolves the
// other's published name (<short id>.<app>.leasehold.test) through real BIND (the server's DDNS, the resolv.conf DHCP
// wrote); `down` releases both leases and withdraws the names. Needs root,
// the Docker engine, named; the driver name is unique per run.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { pluginSocketPath } from '../../agent/io/plugin-server.ts';
import { uniqueBridgeName, useAgentLab, type AgentLab } from '../harness/agent.ts';
import { RUN_LABEL, TEST_IMAGES, TEST_LABEL, testRunId } from '../harness/docker.ts';
import { sweepAround } from '../harness/fixture.ts';
import { pollUntil } from '../harness/poll.ts';
import { ourCommand, runCommand } from '../harness/run-command.ts';

const PREFIX = 'lt-cmp';
sweepAround(test, PREFIX);

test.before(() => {
  if (!ourCommand('agent').built) throw new Error('dist/ is older than agent/: run `npx tsc -p tsconfig.json` first');
});

function composeFile(driver: string, lab: AgentLab): string {
  const service = (hostname: string) => [
    `  ${hostname}:`,
    `    image: ${TEST_IMAGES.busybox}`,
    `    hostname: ${hostname}`,
    '    command: ["sleep", "600"]',
    '    networks: [lan]',
    `    labels: {${JSON.stringify(TEST_LABEL)}: "1", ${JSON.stringify(RUN_LABEL)}: ${JSON.stringify(testRunId())}}`,
  ];
  return [
    'version: "2.4"',
    'networks:',
    '  lan:',
    `    driver: ${driver}`,
    '    driver_opts:',
    `      leasehold.bridge: ${lab.bridge}`,
    `      leasehold.bridge-netns: ${lab.bridgeNetns}`,
    '      leasehold.app: compose',
    '    ipam: {driver: "null"}',
    'services:',
    ...service('web'),
    ...service('client'),
    '',
  ].join('\n');
}

test('docker-compose up on a Leasehold network: both services get leases and resolve each other through BIND; down releases them and withdraws the names', async (t) => {
  const lab = await useAgentLab(t, PREFIX, { bridge: uniqueBridgeName('ltcmp'), dns: true });
  const bind = lab.bind!;
  const driver = `lh-t-${randomBytes(4).toString('hex')}`;
  const file = join(lab.segment.tmpDir, 'docker-compose.yml');
  await writeFile(file, composeFile(driver, lab));
  const compose = async (args: string[]) => {
    const r = await runCommand(['docker-compose', '-p', driver, '-f', file, ...args], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  };
  // Runs before the lab's teardown (AVA runs them last first), so the watch
  // still serves the driver; what `down` leaves (it stops at its first
  // error) is removed by the project's label and the network's name.
  t.teardown(async () => {
    await runCommand(['docker-compose', '-p', driver, '-f', file, 'down', '-t', '1'], { timeoutMs: 120_000 });
    const left = await runCommand(['docker', 'ps', '-aq', '--filter', `label=com.docker.compose.project=${driver}`], { timeoutMs: 30_000 });
    for (const id of left.stdout.split('\n').filter(Boolean)) await runCommand(['docker', 'rm', '-f', id], { timeoutMs: 60_000 });
    await runCommand(['docker', 'network', 'rm', `${driver}_lan`], { timeoutMs: 60_000 });
  });
  await lab.startWatch(['--worker', `${PREFIX}-${randomBytes(4).toString('hex')}`, '--plugin', driver]);
  await pollUntil('the plugin socket', () => existsSync(pluginSocketPath(driver)), { timeoutMs: 5000 });

  await compose(['up', '-d']);
  // The agent names a container by its short id, as in label mode and `agent attach` (Compose's `hostname:` is not used).
  const names: Record<string, string> = {};
  const ips: Record<string, string> = {};
  for (const service of ['web', 'client'] as const) {
    const id = await compose(['ps', '-q', service]);
    lab.track(id); // its netns name is removed with the lab, also when the agent never recorded it
    names[service] = `${id.slice(0, 12)}.compose.leasehold.test`;
    const record = await pollUntil(`${service} adopted`, async () => await lab.record(`docker-${id.slice(0, 12)}`), { timeoutMs: 20_000 });
    t.is(`${record.fqdn}.leasehold.test`, names[service], "the FQDN the client sends (option 81)");
    const lease = await pollUntil(`${service}'s lease bound`, async () => (await lab.server.leases().catch(() => [])).find((l) => l.hwAddress === record.mac && l.state === 'bound'), { timeoutMs: 20_000, intervalMs: 200 });
    ips[service] = lease.ip;
    await pollUntil(`${names[service]} A in BIND`, async () => (await bind.dig(names[service]!, 'A')).includes(lease.ip), { timeoutMs: 10_000 });
  }
  // Each resolves the other by name, inside its container, through the resolver DHCP gave it (BIND).
  for (const [from, to] of [['client', 'web'], ['web', 'client']] as const) {
    const id = await compose(['ps', '-q', from]);
    const answer = await pollUntil(`${from} resolving ${names[to]}`, async () => {
      const r = await runCommand(['docker', 'exec', id, 'nslookup', names[to]!], { timeoutMs: 10_000 });
      return r.code === 0 && r.stdout.includes(ips[to]!) && r.stdout;
    }, { timeoutMs: 10_000 });
    t.regex(answer, /Server:\s+198\.18\.0\.2/, `${from} asked BIND`);
    const ping = await runCommand(['docker', 'exec', id, 'ping', '-c', '1', '-W', '2', names[to]!], { timeoutMs: 10_000 });
    t.is(ping.code, 0, `${from} reaches ${to} by name: ${ping.stdout}${ping.stderr}`);
  }

  await compose(['down', '-t', '1']);
  for (const service of ['web', 'client'] as const) {
    await lab.waitForServerLease(ips[service]!, 'released', 10_000);
    await pollUntil(`${names[service]} withdrawn from BIND`, async () => (await bind.dig(names[service]!, 'A')).length === 0, { timeoutMs: 10_000 });
  }
  t.deepEqual(await lab.records(), [], 'no attachment left');
});
