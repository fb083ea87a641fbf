import { createLogger, type LogLevel } from '../../lib/core/logger.ts';
import { loadConfigFile } from '../config/load.ts';
import type { ServerConfig } from '../config/config.ts';
import { openLeaseStore } from '../leases/open-lease-store.ts';
import { withSqlitePath } from '../leases/lease-store-config.ts';
import type { Lease } from '../leases/lease.ts';
import { buildAppliance } from '../app/appliance.ts';
import { controlSocketPath } from '../ops/ops-config.ts';
import { fromKeaLease } from '../ops/kea-shapes.ts';
import type { ControlResponse } from '../ops/control-protocol.ts';
import { sendCommand } from './control-client.ts';

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
    openStore: (observer) => openLeaseStore(config.leaseStore, { configPath: opts.configPath, logger, observer, serverName: config.ha?.serverName }),
    loadConfig: () => loadConfig(opts.configPath, opts.storePath),
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
  // SIGHUP reloads the file, as config-reload does: validated first, the running configuration kept if it is not.
  const onHangup = () => void appliance.ops?.reload();
  process.on('SIGHUP', onHangup);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  process.off('SIGHUP', onHangup);
  let status = 0;
  try {
    await appliance.stop();
  } catch (err) {
    status = fail(err);
  }
  logger.always('stopped', { counters: appliance.counters.snapshot() });
  return status;
}

/** Where the CLI talks to a running server: `--socket`, else the config's control socket. */
export interface ClientOptions {
  configPath: string;
  storePath?: string;
  socket?: string;
  json: boolean;
}

/** The control socket the CLI talks to: `--socket`, else the config's (none for a database store without `control.socket`). */
function socketOf(opts: ClientOptions, config: ServerConfig): string | undefined {
  return opts.socket ?? controlSocketPath(config.control, config.leaseStore);
}

/**
 * The lease table: from the running server (lease4-get-all) when one
 * answers on the control socket, else read from the store.
 */
export async function runLeases(opts: ClientOptions): Promise<number> {
  let leases: Lease[];
  try {
    const config = loadConfig(opts.configPath, opts.storePath);
    const socket = socketOf(opts, config);
    const answer = socket === undefined ? undefined : await sendCommand(socket, 'lease4-get-all');
    if (answer && answer.result !== 0 && answer.result !== 3) return fail(answer.text);
    if (answer) {
      leases = ((answer.arguments as { leases?: Array<Record<string, unknown>> } | undefined)?.leases ?? []).map(fromKeaLease);
    } else {
      const store = await openLeaseStore(config.leaseStore, { configPath: opts.configPath, inspectOnly: true });
      leases = store.loadAll();
      await store.close();
    }
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
  return formatTable(header, rows) + `${leases.length} lease(s)\n`;
}

/**
 * One command to the running server; prints its text (or, with --json,
 * the whole answer) and exits 0 on result 0, 1 otherwise. A listing
 * (`render` given) that comes back empty (result 3) is a success too: an
 * empty list is an answer, where an empty `lease del` is a failure.
 * Without a running server: one line saying so, exit 1.
 */
export async function runControl(opts: ClientOptions, command: string, args?: object, render?: (answer: ControlResponse) => string): Promise<number> {
  let answer: ControlResponse | undefined;
  let socket: string;
  try {
    const config = loadConfig(opts.configPath, opts.storePath);
    const configured = socketOf(opts, config);
    if (configured === undefined) return fail(`the config sets no control.socket (leaseStore.type ${config.leaseStore.type} has no default one): ${command} needs the running server's socket; set control.socket or give --socket`);
    socket = configured;
    answer = await sendCommand(socket, command, args);
  } catch (err) {
    return fail(err);
  }
  if (!answer) return fail(`no server answers on the control socket ${socket}: ${command} needs the running server`);
  const ok = answer.result === 0 || (render !== undefined && answer.result === 3);
  if (opts.json) process.stdout.write(JSON.stringify(answer, null, 2) + '\n');
  else if (ok) process.stdout.write((render ? render(answer) : answer.text) + '\n');
  else process.stderr.write(`leasehold-server: ${answer.text}\n`);
  return ok ? 0 : 1;
}

/** `reservation list`: every subnet's hosts, from the running server. */
export function formatReservations(hosts: Array<Record<string, unknown>>): string {
  const header = ['SUBNET', 'IP', 'HW ADDRESS', 'CLIENT ID', 'HOSTNAME', 'SOURCE'];
  const rows = hosts.map((h) => [h['subnet-id'], h['ip-address'], h['hw-address'] ?? '-', h['client-id'] ?? '-', h.hostname || '-', h.source].map(String));
  return formatTable(header, rows) + `${hosts.length} reservation(s)`;
}

/** `stats`: Kea's statistic names and their values. */
export function formatStatistics(stats: Record<string, Array<[number, string]>>): string {
  const rows = Object.entries(stats).sort(([a], [b]) => a.localeCompare(b)).map(([name, samples]) => [name, String(samples[0]?.[0] ?? '')]);
  return formatTable(['STATISTIC', 'VALUE'], rows).trimEnd();
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}
