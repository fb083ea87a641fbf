import { at, compact, type FieldReader } from '../../lib/config/field-reader.ts';
import { parsePostgresUrl } from './pg/postgres-target.ts';
import { POSTGRES_DEFAULTS, POSTGRES_LIMITS, SQLITE_COMMIT_WAIT_US_MAX, type LeaseStoreConfig, type PostgresLeaseStoreConfig } from './lease-store-config.ts';

const TYPES = ['sqlite', 'postgresql'] as const;
const SQLITE_FIELDS = ['type', 'path', 'commitWaitUs'] as const;
const POSTGRES_FIELDS = [
  'type',
  'url',
  'host',
  'port',
  'database',
  'user',
  'passwordFile',
  'poolSize',
  'statementTimeoutMs',
  'lockTimeoutMs',
  'connectTimeoutMs',
  'maxBatch',
  'allowUnsafeDurability',
  'shared',
] as const;
/** The fields that say where the database is, when there is no URL. */
const TARGET_FIELDS = ['host', 'port', 'database', 'user'] as const;

/**
 * Reads `leaseStore` (absent: SQLite at `defaultPath`). The fields allowed
 * depend on `type`, so `path` under postgresql, or `url` under sqlite, is
 * reported as an unknown field.
 */
export function readLeaseStore(f: FieldReader, value: unknown, path: string, defaults: { sqlitePath: string }): LeaseStoreConfig | undefined {
  if (value === undefined || value === null) return { type: 'sqlite', path: defaults.sqlitePath };
  if (typeof value !== 'object' || Array.isArray(value)) {
    f.mapping(value, path, []);
    return undefined;
  }
  const typeValue = (value as Record<string, unknown>).type;
  const type = typeValue === undefined || typeValue === null ? 'sqlite' : f.oneOf(typeValue, at(path, 'type'), TYPES);
  if (type === undefined) return undefined;
  if (type === 'sqlite') {
    const m = f.mapping(value, path, SQLITE_FIELDS);
    if (m === undefined) return undefined;
    return compact({
      type,
      path: f.field(m, 'path', path, (v, p) => f.string(v, p)) ?? defaults.sqlitePath,
      commitWaitUs: f.field(m, 'commitWaitUs', path, (v, p) => f.integer(v, p, 0, SQLITE_COMMIT_WAIT_US_MAX)),
    });
  }
  const m = f.mapping(value, path, POSTGRES_FIELDS);
  if (m === undefined) return undefined;
  const given = (key: string) => m[key] !== undefined && m[key] !== null;
  const integer = (key: keyof typeof POSTGRES_LIMITS) =>
    f.field(m, key, path, (v, p) => f.integer(v, p, POSTGRES_LIMITS[key].min, POSTGRES_LIMITS[key].max)) ?? POSTGRES_DEFAULTS[key];
  const fields = TARGET_FIELDS.filter(given);
  if (given('url') && fields.length > 0) {
    f.fail(path, `url and ${fields.join(', ')} are exclusive: give the URL, or host, database and user`);
  } else if (!given('url') && fields.length === 0) {
    f.fail(path, 'needs url, or host, database and user');
  }
  // Only the fields' own "is required" when there is no URL to blame instead.
  const byFields = !given('url') && fields.length > 0;
  const config: PostgresLeaseStoreConfig = {
    type,
    url: f.field(m, 'url', path, (v, p) => {
      const url = f.string(v, p);
      if (url === undefined) return undefined;
      const parsed = parsePostgresUrl(url);
      return parsed.ok ? url : f.fail(p, parsed.problem);
    }),
    host: f.field(m, 'host', path, (v, p) => f.string(v, p), byFields),
    port: f.field(m, 'port', path, (v, p) => f.integer(v, p, 1, 65535)),
    database: f.field(m, 'database', path, (v, p) => f.string(v, p), byFields),
    user: f.field(m, 'user', path, (v, p) => f.string(v, p), byFields),
    passwordFile: f.field(m, 'passwordFile', path, (v, p) => f.string(v, p)),
    poolSize: integer('poolSize'),
    statementTimeoutMs: integer('statementTimeoutMs'),
    lockTimeoutMs: integer('lockTimeoutMs'),
    connectTimeoutMs: integer('connectTimeoutMs'),
    maxBatch: integer('maxBatch'),
    allowUnsafeDurability: f.field(m, 'allowUnsafeDurability', path, (v, p) => f.boolean(v, p)) ?? false,
    shared: f.field(m, 'shared', path, (v, p) => f.boolean(v, p)) ?? false,
  };
  if (config.host !== undefined) config.port ??= POSTGRES_DEFAULTS.port;
  return compact(config);
}
