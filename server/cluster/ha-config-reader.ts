import { at, type FieldReader } from '../../lib/config/field-reader.ts';
import type { LeaseStoreConfig } from '../leases/lease-store-config.ts';
import { HA_DEFAULTS, HA_LIMITS, type HaConfig } from './ha-config.ts';

const HA_FIELDS = ['serverName', ...(Object.keys(HA_DEFAULTS) as (keyof typeof HA_DEFAULTS)[])] as const;
const SERVER_NAME = /^[a-z0-9-]{1,63}$/;

/**
 * Reads `ha` (absent: this server does not split the load with others).
 * Needs a shared PostgreSQL lease store: buckets only make sense when the
 * peers see one table.
 */
export function readHa(f: FieldReader, value: unknown, path: string, leaseStore: LeaseStoreConfig | undefined): HaConfig | undefined {
  if (value === undefined || value === null) return undefined;
  const m = f.mapping(value, path, HA_FIELDS);
  if (m === undefined) return undefined;
  if (leaseStore !== undefined && (leaseStore.type !== 'postgresql' || !leaseStore.shared)) {
    f.fail(path, 'needs leaseStore.type postgresql with leaseStore.shared: true (the servers share one lease table)');
  }
  const integer = (key: keyof typeof HA_LIMITS) =>
    f.field(m, key, path, (v, p) => f.integer(v, p, HA_LIMITS[key].min, HA_LIMITS[key].max)) ?? HA_DEFAULTS[key];
  const serverName = f.field(
    m,
    'serverName',
    path,
    (v, p) => {
      const name = f.string(v, p);
      if (name === undefined) return undefined;
      return SERVER_NAME.test(name) ? name : f.fail(p, `"${name}" is not 1 to 63 of a-z, 0-9 and -`);
    },
    true,
  );
  const config = {
    serverName,
    heartbeatIntervalMs: integer('heartbeatIntervalMs'),
    fenceAfterMs: integer('fenceAfterMs'),
    partnerDownAfterMs: integer('partnerDownAfterMs'),
    loadBalanceMaxSecs: integer('loadBalanceMaxSecs'),
    maxClockSkewMs: integer('maxClockSkewMs'),
    fenceOnClockSkewMs: integer('fenceOnClockSkewMs'),
  };
  // Fencing must come before takeover (a cut-off server goes quiet before
  // its peers answer its clients), with a heartbeat to spare.
  if (config.fenceAfterMs <= config.heartbeatIntervalMs) {
    f.fail(at(path, 'fenceAfterMs'), `must exceed heartbeatIntervalMs (${config.heartbeatIntervalMs}), got ${config.fenceAfterMs}`);
  }
  if (config.partnerDownAfterMs <= config.fenceAfterMs + config.heartbeatIntervalMs) {
    f.fail(
      at(path, 'partnerDownAfterMs'),
      `must exceed fenceAfterMs + heartbeatIntervalMs (${config.fenceAfterMs + config.heartbeatIntervalMs}), got ${config.partnerDownAfterMs}`,
    );
  }
  if (config.fenceOnClockSkewMs < config.maxClockSkewMs) {
    f.fail(at(path, 'fenceOnClockSkewMs'), `must be at least maxClockSkewMs (${config.maxClockSkewMs}), got ${config.fenceOnClockSkewMs}`);
  }
  return serverName === undefined ? undefined : { ...config, serverName };
}
