import { FieldReader, at, compact, type Mapping } from '../../lib/config/field-reader.ts';
import type { LogLevel } from '../../lib/core/logger.ts';
import { ipToInt } from '../../lib/wire/ipv4.ts';
import { readDdns, readSubnetDdns, type DdnsScope } from '../ddns/ddns-config-reader.ts';
import { readDhcp4Protection, readDhcp4Sockets, readDhcp4Timers, readSubnets, type TakenAddress } from '../dhcp4/dhcp4-config-reader.ts';
import { readRa } from '../ra/ra-config-reader.ts';
import { readLeaseStore } from '../leases/lease-store-config-reader.ts';
import { readControl } from '../ops/ops-config-reader.ts';
import { readHa } from '../cluster/ha-config-reader.ts';
import type { InterfaceConfig, ServerConfig, ServerSubnetConfig } from './config.ts';
import { ConfigError } from './config-error.ts';

/**
 * The configuration's assembly: reads the root settings itself and hands
 * each capability's section to that capability's reader (the DHCPv4
 * server's `subnets` and timers, DDNS's `ddns` and each subnet's `ddns`,
 * RA's `ra`, the lease store's `leaseStore`, the control API's `control`,
 * load balancing's `ha`), all on one
 * `FieldReader`, in the file's order, so the operator gets every problem in one go.
 */

export const CONFIG_DEFAULTS = {
  leaseStorePath: '/var/lib/leasehold/leases.db',
  expiredReclaimIntervalSeconds: 10,
  logLevel: 'info' as LogLevel,
};

/** The top level of the file: root settings and the capabilities' sections. */
const ROOT_FIELDS = [
  'interfaces',
  'subnets',
  'leaseStore',
  'serverId',
  'offerHoldSeconds',
  'declineQuarantineSeconds',
  'protection',
  'expiredReclaimIntervalSeconds',
  'log',
  'dhcp4Sockets',
  'ddns',
  'ra',
  'control',
  'ha',
] as const;
const INTERFACE_FIELDS = ['name', 'address'] as const;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Checks raw parsed YAML/JSON against the configuration shape and its
 * meaning, applies defaults and returns the normalised `ServerConfig`.
 * Throws one `ConfigError` listing every problem found.
 */
export function validateConfig(raw: unknown): ServerConfig {
  // The readers build the result even when some fields failed (those are
  // then undefined); it is only returned, and its types only hold, when no
  // issue was recorded.
  const f = new FieldReader();
  const root = f.mapping(raw, '', ROOT_FIELDS);
  const config = root === undefined ? undefined : readRoot(f, root);
  if (config === undefined || f.issues.length > 0) throw new ConfigError(f.issues);
  return config;
}

function readRoot(f: FieldReader, root: Mapping): ServerConfig {
  const interfaces = f.field(root, 'interfaces', '', (v, p) => readInterfaces(f, v, p), true);
  const serverId = f.field(root, 'serverId', '', (v, p) => f.ipv4(v, p));

  const serverAddresses: TakenAddress[] = (interfaces ?? [])
    .filter((i) => i.address !== undefined)
    .map((i) => ({ ip: ipToInt(i.address as string), what: `the address of interface ${i.name}` }));
  if (serverId !== undefined) serverAddresses.push({ ip: ipToInt(serverId), what: 'serverId' });

  const ddns = f.field(root, 'ddns', '', (v, p) => readDdns(f, v, p));
  const ddnsScope: DdnsScope = { given: root.ddns !== undefined && root.ddns !== null, zones: ddns?.zones };

  const subnets = f.field(
    root,
    'subnets',
    '',
    (v, p) =>
      readSubnets<Pick<ServerSubnetConfig, 'ddns'>>(f, v, p, {
        // Unknown when `interfaces` itself is broken: then subnets' interface names are not checked.
        interfaceNames: interfaces && new Set(interfaces.map((i) => i.name)),
        serverAddresses,
        // The subnet's own `ddns`, read by DDNS against the top-level section.
        sections: { fields: ['ddns'], read: (m, sp) => ({ ddns: f.field(m, 'ddns', sp, (dv, dp) => readSubnetDdns(f, dv, dp, ddnsScope)) }) },
      }),
    true,
  );

  const leaseStore = readLeaseStore(f, root.leaseStore, 'leaseStore', { sqlitePath: CONFIG_DEFAULTS.leaseStorePath });
  const dhcp4Timers = readDhcp4Timers(f, root);
  return compact({
    interfaces,
    subnets: subnets ?? [],
    leaseStore,
    serverId,
    ...dhcp4Timers,
    protection: readDhcp4Protection(f, root.protection, 'protection'),
    expiredReclaimIntervalSeconds:
      f.field(root, 'expiredReclaimIntervalSeconds', '', (v, p) => f.integer(v, p, 1, 86400)) ?? CONFIG_DEFAULTS.expiredReclaimIntervalSeconds,
    log: { level: readLogLevel(f, root.log) },
    dhcp4Sockets: readDhcp4Sockets(f, root.dhcp4Sockets),
    ddns,
    ra: f.field(root, 'ra', '', (v, p) => readRa(f, v, p)),
    control: readControl(f, root.control, 'control'),
    ha: readHa(f, root.ha, 'ha', leaseStore),
  }) as ServerConfig;
}

function readInterfaces(f: FieldReader, value: unknown, path: string): InterfaceConfig[] | undefined {
  const items = f.list(value, path, true);
  if (items === undefined) return undefined;
  const out: InterfaceConfig[] = [];
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const p = at(path, i);
    const m = f.mapping(item, p, INTERFACE_FIELDS);
    if (m === undefined) return;
    const name = f.field(m, 'name', p, (v, np) => f.interfaceName(v, np), true);
    const address = f.field(m, 'address', p, (v, ap) => f.ipv4(v, ap));
    if (name === undefined) return;
    const first = seen.get(name);
    if (first !== undefined) f.fail(at(p, 'name'), `duplicate interface "${name}" (also ${at(path, first)})`);
    seen.set(name, i);
    out.push(compact({ name, address }));
  });
  return out;
}

function readLogLevel(f: FieldReader, value: unknown): LogLevel {
  const m = value === undefined || value === null ? {} : f.mapping(value, 'log', ['level']);
  return (m && f.field(m, 'level', 'log', (v, p) => f.oneOf(v, p, LOG_LEVELS))) ?? CONFIG_DEFAULTS.logLevel;
}
