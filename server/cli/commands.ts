import { createLogger, type LogLevel } from '../../lib/core/logger.ts';
import { loadConfigFile } from '../config/load.ts';
import type { ServerConfig } from '../config/config.ts';
import { openLeaseStore } from '../leases/open-lease-store.ts';
import { withSqlitePath } from '../leases/lease-store-config.ts';
import type { Lease } from '../leases/lease.ts';
import { buildAppliance } from '../app/appliance.ts';

/** An expected failure: print its message on one line, no stack. */
function fail(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`leasehold-server: ${message}\n`);
  return 1;
}

function loadConfig(path: string, storePath?: string): ServerConfig {
  const config = loadConfigFile(path);
  if (storePath) config.leaseStore = withSqlitePath(config.leaseStore, storePath);
  return config;
}

export async function runServe(opts: { configPath: string; storePath?: string; check: boolean; logLevel?: LogLevel; port: number }): Promise<number> {
  let config: ServerConfig;
  try {
    config = loadConfig(opts.configPath, opts.storePath);
  } catch (err) {
    return fail(err);
  }
  if (opts.check) {
    process.stdout.write(`${opts.configPath}: ok (${config.subnets.length} subnet(s), ${config.interfaces.length} interface(s))\n`);
    return 0;
  }
  const logger = createLogger({ level: opts.logLevel ?? config.log.level });
  const appliance = buildAppliance(config, {
    logger,
    dhcp4Port: opts.port,
    openStore: (observer) => openLeaseStore(config.leaseStore, { configPath: opts.configPath, logger, observer }),
  });
  try {
    await appliance.start();
  } catch (err) {
    return fail(err);
  }
  logger.always('ready', {
    interfaces: config.interfaces.map((i) => i.name),
    subnets: config.subnets.map((s) => s.subnet),
    leases: appliance.dhcp4.engine.table.size,
    ...(config.ra && { ra: config.ra.interfaces.map((i) => i.name) }),
    pid: process.pid,
  });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  let status = 0;
  try {
    await appliance.stop();
  } catch (err) {
    status = fail(err);
  }
  logger.always('stopped', { counters: appliance.counters.snapshot() });
  return status;
}

export async function runLeases(opts: { configPath: string; storePath?: string; json: boolean }): Promise<number> {
  let leases: Lease[];
  try {
    const config = loadConfig(opts.configPath, opts.storePath);
    const store = await openLeaseStore(config.leaseStore, { configPath: opts.configPath, inspectOnly: true });
    leases = store.loadAll();
    await store.close();
  } catch (err) {
    return fail(err);
  }
  leases.sort((a, b) => compareIp(a.ip, b.ip));
  if (opts.json) {
    process.stdout.write(JSON.stringify(leases, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(formatLeaseTable(leases));
  return 0;
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

export function formatLeaseTable(leases: Lease[]): string {
  const header = ['IP', 'STATE', 'HW ADDRESS', 'CLIENT ID', 'HOSTNAME', 'SUBNET', 'EXPIRES'];
  const rows = leases.map((l) => [l.ip, l.state, l.hwAddress, l.clientId ?? '-', l.hostname ?? '-', l.subnetId, new Date(l.expiresAt).toISOString()]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('') + `${leases.length} lease(s)\n`;
}
