import { systemClock } from '../../lib/core/clock.ts';
import { createLogger, type LogLevel } from '../../lib/core/logger.ts';
import { loadConfigFile } from '../config/load.ts';
import type { ServerConfig } from '../config/config.ts';
import { openLeaseStore } from '../leases/open-lease-store.ts';
import { withSqlitePath } from '../leases/lease-store-config.ts';
import type { Lease } from '../leases/lease.ts';
import { startDhcp4Server } from '../app/dhcp4-server.ts';
import { startRaService, type RunningRaService } from '../app/ra-service.ts';

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
  let store;
  try {
    store = await openLeaseStore(config.leaseStore, { configPath: opts.configPath, logger });
  } catch (err) {
    return fail(err);
  }
  let server;
  try {
    server = await startDhcp4Server(config, store, systemClock, logger, opts.port);
  } catch (err) {
    await store.close();
    return fail(err);
  }
  let ra: RunningRaService | undefined;
  try {
    ra = config.ra && (await startRaService(config.ra, systemClock, logger));
  } catch (err) {
    await server.stop();
    await store.close();
    return fail(err);
  }
  logger.always('ready', {
    interfaces: config.interfaces.map((i) => i.name),
    subnets: config.subnets.map((s) => s.subnet),
    leases: server.engine.table.size,
    ...(config.ra && { ra: config.ra.interfaces.map((i) => i.name) }),
    pid: process.pid,
  });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await Promise.all([server.stop(), ra?.stop()]);
  await store.close();
  logger.always('stopped', { counters: { ...server.counters.snapshot(), ...ra?.counters.snapshot() } });
  return 0;
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
