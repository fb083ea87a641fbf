import type { PostgresLeaseStoreConfig } from '../lease-store-config.ts';

/**
 * Where a PostgreSQL lease store is, in the forms operators read: the
 * config's URL parsed (libpq's `postgresql://[user@][host][:port][/database]
 * [?host=/socket/dir&port=N]`), and one display name for every message,
 * which never holds a password. Pure: the config reader uses it before
 * anything connects.
 *
 * node-postgres is given the fields, never the URL: its own URL parser
 * would overwrite the password read from `passwordFile` with the URL's
 * empty one. Only the parameters above are accepted, so nothing in a URL
 * is silently ignored (libpq's multi-host form is not: node-postgres
 * connects to one host).
 */

export interface PostgresFields {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
}

const URL_FORM = /^(?:postgres|postgresql):\/\/(?:([^@/?#]*)@)?([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/;
const PARAMETERS = ['host', 'port', 'user', 'dbname'];

export type UrlParse = { ok: true; fields: PostgresFields } | { ok: false; problem: string };

export function parsePostgresUrl(text: string): UrlParse {
  const m = URL_FORM.exec(text);
  if (!m) return { ok: false, problem: `must be a URL postgresql://user@host:port/database, got ${JSON.stringify(text)}` };
  const [, userinfo, authority, path, query] = m;
  const params = new URLSearchParams(query ?? '');
  if ((userinfo !== undefined && userinfo.includes(':')) || params.has('password')) {
    return { ok: false, problem: 'must not hold the password: put it in a file named by leaseStore.passwordFile' };
  }
  for (const key of params.keys()) {
    if (!PARAMETERS.includes(key)) return { ok: false, problem: `parameter "${key}" is not supported (only ${PARAMETERS.join(', ')})` };
  }
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!hostPort || authority.includes(',')) return { ok: false, problem: `one host[:port] please, got ${JSON.stringify(authority)}` };
  const decode = (s: string | undefined | null) => (s ? decodeURIComponent(s) : undefined);
  const portText = params.get('port') ?? hostPort[2];
  const port = portText ? Number(portText) : undefined;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) return { ok: false, problem: `port must be 1 to 65535, got ${JSON.stringify(portText)}` };
  let fields: PostgresFields;
  try {
    fields = {
      host: decode(params.get('host')) ?? decode(hostPort[1].replace(/^\[(.*)\]$/, '$1')),
      port,
      database: decode(params.get('dbname')) ?? decode(path),
      user: decode(params.get('user')) ?? decode(userinfo),
    };
  } catch {
    return { ok: false, problem: `has a malformed %-escape: ${JSON.stringify(text)}` };
  }
  return { ok: true, fields: Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as PostgresFields };
}

/** The fields to connect with: the URL's, or the config's own. */
export function targetFields(config: Pick<PostgresLeaseStoreConfig, 'url' | 'host' | 'port' | 'database' | 'user'>): PostgresFields {
  if (config.url === undefined) return { host: config.host, port: config.port, database: config.database, user: config.user };
  const parsed = parsePostgresUrl(config.url);
  // The config reader has refused a URL that does not parse.
  if (!parsed.ok) throw new Error(`leaseStore.url: ${parsed.problem}`);
  return parsed.fields;
}

/** How messages name the store: the URL as given, or one built from the fields (a socket directory as `?host=`). */
export function describeTarget(config: Pick<PostgresLeaseStoreConfig, 'url' | 'host' | 'port' | 'database' | 'user'>): string {
  if (config.url !== undefined) return config.url;
  const user = config.user !== undefined ? `${encodeURIComponent(config.user)}@` : '';
  const database = encodeURIComponent(config.database ?? '');
  const host = config.host ?? '';
  const port = config.port !== undefined ? config.port : undefined;
  if (host.startsWith('/')) return `postgresql://${user}/${database}?host=${host}${port !== undefined ? `&port=${port}` : ''}`;
  const bracketed = host.includes(':') ? `[${host}]` : host;
  return `postgresql://${user}${bracketed}${port !== undefined ? `:${port}` : ''}/${database}`;
}
