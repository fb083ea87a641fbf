import { StoreError } from '../store-error.ts';
import type { PgDatabase } from './pg-connection.ts';
import { LOCK_CLASS_SCHEMA, MIGRATIONS, targetSchema, type Migration } from './pg-migrations.ts';

/**
 * `db init`, `db upgrade`, `db version` and the check a server makes before
 * it serves from a database: the schema it finds against the one it was
 * written for (pg-migrations.ts).
 */

export interface SchemaVersion {
  version: number;
  /** The oldest schema version a server may have been written for and still run on this one. */
  compatibleFrom: number;
}

export type SchemaVerdict =
  | { kind: 'current' }
  /** Newer, but servers written for ours may run on it (an additive migration): start, and say so. */
  | { kind: 'newer-compatible'; found: SchemaVersion }
  | { kind: 'missing' }
  | { kind: 'older'; found: SchemaVersion }
  | { kind: 'newer'; found: SchemaVersion };

/** What a server written for `ours` makes of the schema it `found` (pure). */
export function judgeSchema(found: SchemaVersion | undefined, ours: SchemaVersion): SchemaVerdict {
  if (found === undefined) return { kind: 'missing' };
  if (found.version === ours.version) return { kind: 'current' };
  if (found.version < ours.version) return { kind: 'older', found };
  return found.compatibleFrom <= ours.version ? { kind: 'newer-compatible', found } : { kind: 'newer', found };
}

/** The one line a server that may not start prints, naming the command that fixes it; undefined when it may start. */
export function schemaProblem(verdict: SchemaVerdict, ours: SchemaVersion, configPath = 'FILE'): string | undefined {
  switch (verdict.kind) {
    case 'current':
    case 'newer-compatible':
      return undefined;
    case 'missing':
      return `no Leasehold schema; run: leasehold-server db init --config ${configPath}`;
    case 'older':
      return `schema ${verdict.found.version} is older than this server's ${ours.version}; run: leasehold-server db upgrade --config ${configPath}`;
    case 'newer':
      return `schema ${verdict.found.version} is newer than this server understands (≤ ${ours.version}); upgrade leasehold-server`;
  }
}

type Query = Pick<PgDatabase, 'query'>;

/** The schema's version, or undefined when the database has no Leasehold schema. */
export async function readSchemaVersion(db: Query): Promise<SchemaVersion | undefined> {
  const [{ present }] = await db.query<{ present: boolean }>("SELECT to_regclass('schema_version') IS NOT NULL AS present");
  if (!present) return undefined;
  const rows = await db.query<SchemaVersion>('SELECT version, compatible_from AS "compatibleFrom" FROM schema_version WHERE id = 1');
  return rows[0];
}

/**
 * The start-up check: resolves with the verdict when the server may run on
 * this schema, else rejects with StoreError `lease store <url>: <the line
 * of schemaProblem>`.
 */
export async function checkSchema(db: PgDatabase, opts: { configPath?: string; migrations?: readonly Migration[] } = {}): Promise<SchemaVerdict> {
  const ours = targetSchema(opts.migrations);
  let found: SchemaVersion | undefined;
  try {
    found = await readSchemaVersion(db);
  } catch (err) {
    throw db.storeError('cannot read the schema version', err);
  }
  const verdict = judgeSchema(found, ours);
  const problem = schemaProblem(verdict, ours, opts.configPath);
  if (problem !== undefined) throw new StoreError(db.target, problem);
  return verdict;
}

/**
 * Creates the schema in an empty database, in one transaction. Refuses a
 * database that already has it (use upgrade) or that holds tables of
 * something else: Leasehold wants a database of its own.
 */
export async function initSchema(db: PgDatabase, opts: { configPath?: string; migrations?: readonly Migration[] } = {}): Promise<SchemaVersion> {
  const { configPath = 'FILE', migrations = MIGRATIONS } = opts;
  const ours = targetSchema(migrations);
  let refusal: string | undefined;
  try {
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_CLASS_SCHEMA]);
      const found = await readSchemaVersion(tx);
      if (found !== undefined) {
        refusal = `already initialised (schema ${found.version}); to bring it up to date run: leasehold-server db upgrade --config ${configPath}`;
        return;
      }
      // pg_class, not information_schema: that shows only what this role may use, and a table it may not use is in the way too.
      const tables = await tx.query<{ name: string }>(
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1",
      );
      if (tables.length > 0) {
        const names = tables.slice(0, 5).map((t) => t.name).join(', ') + (tables.length > 5 ? ', …' : '');
        refusal = `the database already holds ${tables.length} other table(s) (${names}); Leasehold needs a database of its own`;
        return;
      }
      for (const m of migrations) await applyMigration(tx, m);
      await tx.query('INSERT INTO schema_version (id, version, compatible_from) VALUES (1, $1, $2)', [ours.version, ours.compatibleFrom]);
    });
  } catch (err) {
    throw db.storeError('db init failed', err);
  }
  if (refusal !== undefined) throw new StoreError(db.target, refusal);
  return ours;
}

/**
 * Applies the migrations the schema lacks, each in its own transaction
 * (a failure keeps the ones before it). Resolves with where it started and
 * ended; the same when there was nothing to do.
 */
export async function upgradeSchema(
  db: PgDatabase,
  opts: { configPath?: string; migrations?: readonly Migration[] } = {},
): Promise<{ from: number; to: number }> {
  const { configPath, migrations = MIGRATIONS } = opts;
  const ours = targetSchema(migrations);
  let from: number | undefined;
  let at: number | undefined;
  for (const m of migrations) {
    let refusal: string | undefined;
    try {
      await db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_CLASS_SCHEMA]);
        const found = await readSchemaVersion(tx);
        if (found === undefined) {
          refusal = schemaProblem({ kind: 'missing' }, ours, configPath);
          return;
        }
        if (found.version > ours.version) {
          refusal = `schema ${found.version} is newer than this server's ${ours.version}: nothing to upgrade here; upgrade leasehold-server`;
          return;
        }
        from ??= found.version;
        at = found.version;
        if (found.version >= m.version) return;
        await applyMigration(tx, m);
        await tx.query('UPDATE schema_version SET version = $1, compatible_from = $2, upgraded_at = now() WHERE id = 1', [m.version, m.compatibleFrom]);
        at = m.version;
      });
    } catch (err) {
      throw db.storeError(`db upgrade to schema ${m.version} failed`, err);
    }
    if (refusal !== undefined) throw new StoreError(db.target, refusal);
  }
  return { from: from!, to: at! };
}

async function applyMigration(tx: Query, m: Migration): Promise<void> {
  await tx.query(m.sql);
  await tx.query('INSERT INTO schema_migrations (version, description) VALUES ($1, $2)', [m.version, m.description]);
}
