import Database from 'better-sqlite3';
import type { Argv, CommandModule } from 'yargs';
import { loadConfigFile } from '../config/load.ts';
import type { LeaseStoreConfig, PostgresLeaseStoreConfig } from '../leases/lease-store-config.ts';
import { withSqlitePath } from '../leases/lease-store-config.ts';
import { defaultServerName } from '../leases/open-lease-store.ts';
import { openSqliteLeaseStore } from '../leases/sqlite-lease-store.ts';
import { SCHEMA_VERSION } from '../leases/sqlite-schema.ts';
import { NotAStoreError, readSqliteStore } from '../leases/sqlite-to-pg.ts';

/**
 * `leasehold-server db init | upgrade | version | migrate-from sqlite:PATH`:
 * the lease database's schema and its move from SQLite to PostgreSQL.
 * SQLite creates and upgrades its own schema when opened, so there `init`
 * and `upgrade` just open the file. Exit 0 done, 1 failed (one line),
 * 2 bad arguments. The PostgreSQL client is loaded only for PostgreSQL.
 */

const USAGE = 2;

class UsageError extends Error {}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Runs a command; its own exit code, 0 when it has none, or 1/2 with the one line of what it threw. */
async function run(what: () => Promise<number | void>): Promise<number> {
  try {
    return (await what()) ?? 0;
  } catch (err) {
    process.stderr.write(`leasehold-server: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof UsageError || err instanceof NotAStoreError ? USAGE : 1;
  }
}

function storeConfig(configPath: string, storePath?: string): LeaseStoreConfig {
  const config = loadConfigFile(configPath).leaseStore;
  if (storePath === undefined) return config;
  try {
    return withSqlitePath(config, storePath);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function withDatabase<T>(config: PostgresLeaseStoreConfig, fn: (db: import('../leases/pg/pg-connection.ts').PgDatabase) => Promise<T>): Promise<T> {
  const { PgDatabase } = await import('../leases/pg/pg-connection.ts');
  const db = await PgDatabase.open(config, { applicationName: 'leasehold-server db' });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export interface DbOptions {
  configPath: string;
  storePath?: string;
}

export async function runDbInit(opts: DbOptions): Promise<number> {
  return run(async () => {
    const config = storeConfig(opts.configPath, opts.storePath);
    if (config.type === 'sqlite') {
      await openSqliteLeaseStore(config.path).close();
      print(`lease store ${config.path}: schema ${SCHEMA_VERSION} (SQLite keeps its schema up to date itself)`);
      return;
    }
    const { initSchema } = await import('../leases/pg/pg-schema-admin.ts');
    await withDatabase(config, async (db) => {
      const schema = await initSchema(db, { configPath: opts.configPath });
      print(`lease store ${db.target}: schema ${schema.version} created`);
    });
  });
}

export async function runDbUpgrade(opts: DbOptions): Promise<number> {
  return run(async () => {
    const config = storeConfig(opts.configPath, opts.storePath);
    if (config.type === 'sqlite') {
      await openSqliteLeaseStore(config.path).close();
      print(`lease store ${config.path}: schema ${SCHEMA_VERSION}: up to date`);
      return;
    }
    const { upgradeSchema } = await import('../leases/pg/pg-schema-admin.ts');
    await withDatabase(config, async (db) => {
      const { from, to } = await upgradeSchema(db, { configPath: opts.configPath });
      print(from === to ? `lease store ${db.target}: schema ${to}: up to date` : `lease store ${db.target}: schema ${from} → ${to}`);
    });
  });
}

/** Exit 0 when this server can run on the schema found, 1 (with the command that fixes it) otherwise. */
export async function runDbVersion(opts: DbOptions): Promise<number> {
  return run(async () => {
    const config = storeConfig(opts.configPath, opts.storePath);
    if (config.type === 'sqlite') {
      const version = readSqliteVersion(config.path);
      const newer = version > SCHEMA_VERSION;
      print(`lease store ${config.path}: schema ${version} (this leasehold-server writes ${SCHEMA_VERSION})${newer ? '; newer than it reads: upgrade leasehold-server' : ''}`);
      return newer ? 1 : 0;
    }
    const { readSchemaVersion, judgeSchema, schemaProblem } = await import('../leases/pg/pg-schema-admin.ts');
    const { targetSchema } = await import('../leases/pg/pg-migrations.ts');
    return withDatabase(config, async (db) => {
      const ours = targetSchema();
      let found;
      try {
        found = await readSchemaVersion(db);
      } catch (err) {
        throw db.storeError('cannot read the schema version', err);
      }
      const problem = schemaProblem(judgeSchema(found, ours), ours, opts.configPath);
      if (found === undefined) throw new Error(`lease store ${db.target}: ${problem}`);
      print(`lease store ${db.target}: schema ${found.version} (this leasehold-server writes ${ours.version})${problem ? `; ${problem}` : ''}`);
      return problem ? 1 : 0;
    });
  });
}

/** An SQLite store's schema version, read without writing (opening it as a store would record the open). */
function readSqliteVersion(path: string): number {
  let version: number | undefined;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      version = (db.prepare('SELECT version FROM schema_version WHERE id = 1').get() as { version: number } | undefined)?.version;
    } finally {
      db.close();
    }
  } catch (err) {
    throw new Error(`lease store ${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  if (version === undefined) throw new Error(`lease store ${path}: no schema version (not a Leasehold store?)`);
  return version;
}

export async function runDbMigrateFrom(opts: DbOptions & { source: string }): Promise<number> {
  return run(async () => {
    const match = /^sqlite:(.+)$/.exec(opts.source);
    if (!match) throw new UsageError(`db migrate-from: the source is sqlite:PATH, got ${JSON.stringify(opts.source)}`);
    const config = storeConfig(opts.configPath, opts.storePath);
    if (config.type !== 'postgresql') {
      throw new UsageError(`db migrate-from: the config's leaseStore is the target and must be type postgresql, not ${config.type}`);
    }
    const source = match[1];
    const contents = readSqliteStore(source);
    const { checkSchema } = await import('../leases/pg/pg-schema-admin.ts');
    const { importIntoEmpty } = await import('../leases/pg/pg-import.ts');
    await withDatabase(config, async (db) => {
      await checkSchema(db, { configPath: opts.configPath });
      const n = await importIntoEmpty(db, contents, defaultServerName());
      print(`migrated ${n.leases} lease(s), ${n.dnsChanges} queued DNS change(s) and ${n.reservations} reservation(s) from ${opts.source} into ${db.target}`);
    });
  });
}

/** The `db` command and its subcommands, for main.ts's yargs; `withConfig` adds --config and --store as for the others. */
export function dbCommand(withConfig: <U>(y: Argv<U>) => Argv<U & { config: string; store: string | undefined }>): CommandModule {
  return {
    command: 'db <command>',
    describe: 'the lease database: db init | upgrade | version | migrate-from sqlite:PATH',
    builder: (db) =>
      db
        .command('init', 'create the schema in an empty database', withConfig, async (argv) => {
          process.exitCode = await runDbInit({ configPath: argv.config, storePath: argv.store });
        })
        .command('upgrade', 'apply the migrations the schema lacks', withConfig, async (argv) => {
          process.exitCode = await runDbUpgrade({ configPath: argv.config, storePath: argv.store });
        })
        .command('version', "show the schema's version and whether this server runs on it", withConfig, async (argv) => {
          process.exitCode = await runDbVersion({ configPath: argv.config, storePath: argv.store });
        })
        .command(
          'migrate-from <source>',
          "copy an SQLite store (sqlite:PATH; stop its server first) into the config's empty PostgreSQL database",
          (m) => withConfig(m).positional('source', { type: 'string', demandOption: true, describe: 'sqlite:PATH' }),
          async (argv) => {
            process.exitCode = await runDbMigrateFrom({ configPath: argv.config, storePath: argv.store, source: argv.source });
          },
        )
        .demandCommand(1, 'db needs a command: init, upgrade, version or migrate-from'),
    // The subcommands run; `db` alone is refused by demandCommand.
    handler: () => undefined,
  };
}
