import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestFn } from 'ava';
import { POSTGRES_DEFAULTS, type PostgresLeaseStoreConfig } from '../../server/leases/lease-store-config.ts';
import { PgDatabase } from '../../server/leases/pg/pg-connection.ts';
import { SYSTEM_PATH } from './netns.ts';
import { pollUntil } from './poll.ts';
import { packagedProgram } from './program-table.ts';
import { runCommand } from './run-command.ts';
import { TrackedProcess } from './tracked-process.ts';

/**
 * A throwaway PostgreSQL cluster from Debian's packages (initdb and
 * postgres of /usr/lib/postgresql/<version>/bin, through lab/programs.txt),
 * for one test file: under `<tmpdir>/<prefix>-pg-*`, run as the packaged
 * `postgres` user (PostgreSQL refuses root), reachable only through its
 * Unix socket in that directory (listen_addresses empty: no TCP at all),
 * with fsync and synchronous_commit on, as in production. Every password
 * lives in a file of mode 600. `destroy()` stops it by PID and removes the
 * directory; `sweepStalePostgres(prefix)` does the same for what a crashed
 * run left (the postmaster's PID file names it).
 *
 * SQL is sent through the server's own connection module (the `pg`
 * package stays under server/leases/pg/), as the superuser.
 */

const SUPERUSER = 'postgres';
const READY = /database system is ready to accept connections/;

export interface TestDatabase {
  readonly name: string;
  readonly user: string;
  readonly passwordFile: string;
  /** A lease-store config for it, by fields (host = the socket directory). */
  config(overrides?: Partial<PostgresLeaseStoreConfig>): PostgresLeaseStoreConfig;
  /** The same as a URL, without the password. */
  url(): string;
  /** SQL in this database, as the superuser. */
  sql<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** Drops it (and its role). */
  drop(): Promise<void>;
}

export interface PostgresCluster {
  readonly dir: string;
  readonly socketDir: string;
  readonly port: number;
  /** The postmaster (null between a stop and the next start). */
  readonly process: TrackedProcess | undefined;
  /** A database of its own, owned by a role of its own with a password (schema not created). */
  createDatabase(name?: string): Promise<TestDatabase>;
  /** SQL as the superuser in `database`. */
  sql<R extends object = Record<string, unknown>>(text: string, values?: unknown[], database?: string): Promise<R[]>;
  start(): Promise<void>;
  /** Fast shutdown (SIGINT): sessions are ended, a checkpoint is written. */
  stop(): Promise<void>;
  /** Immediate shutdown (SIGQUIT): no checkpoint; the next start replays the WAL, as after a crash. */
  crash(): Promise<void>;
  /** Stopped, and its directory gone. */
  destroy(): Promise<void>;
  /** The server's log, for failure messages. */
  tail(lines?: number): string;
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${SUPERUSER}:`));
  if (!line) throw new Error(`no ${SUPERUSER} user: is Debian's postgresql package installed (lab/install-deps.sh)?`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** setpriv's options that run a program as the postgres user, with none of our groups (written out at each call, for the program scan). */
const AS_POSTGRES = [`--reuid=${SUPERUSER}`, `--regid=${SUPERUSER}`, '--clear-groups'];

function writeSecret(path: string, secret: string, ids?: { uid: number; gid: number }): void {
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  if (ids) chownSync(path, ids.uid, ids.gid);
}

export async function startPostgres(prefix: string, opts: { settings?: Record<string, string> } = {}): Promise<PostgresCluster> {
  if (process.getuid?.() !== 0) throw new Error('a PostgreSQL cluster for the tests needs root (it runs as the postgres user)');
  const ids = postgresIds();
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-pg-`));
  const data = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  const superuserPasswordFile = join(dir, 'superuser.password');
  const port = 5432;
  let postmaster: TrackedProcess | undefined;
  // One pool per database, shared by concurrent callers (the promise is what is kept).
  const admins = new Map<string, Promise<PgDatabase>>();

  const closeAdmin = async (database: string) => {
    const open = admins.get(database);
    admins.delete(database);
    await open?.then((db) => db.close()).catch(() => undefined);
  };
  const closeAdmins = () => Promise.all([...admins.keys()].map(closeAdmin));

  const admin = (database: string): Promise<PgDatabase> => {
    let db = admins.get(database);
    if (!db) {
      db = PgDatabase.open(fieldsConfig({ host: socketDir, port, database, user: SUPERUSER, passwordFile: superuserPasswordFile, poolSize: 3 }), {
        applicationName: 'leasehold-test-admin',
      });
      db.catch(() => admins.delete(database));
      admins.set(database, db);
    }
    return db;
  };

  const cluster: PostgresCluster = {
    dir,
    socketDir,
    port,
    get process() {
      return postmaster;
    },

    async start() {
      if (postmaster?.running) return;
      // fsync and synchronous_commit stay at their defaults (on) rather than on the command line, which would pin them against ALTER SYSTEM.
      const settings = { listen_addresses: '', port: String(port), ...opts.settings };
      postmaster = new TrackedProcess(
        `postgres ${prefix}`,
        ['setpriv', ...AS_POSTGRES, packagedProgram('postgres'), '-D', data, '-k', socketDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
        { env: { PATH: SYSTEM_PATH, LANG: 'C' } },
      );
      await postmaster.waitForOutput(READY, 30_000);
      const [durable] = await cluster.sql<{ fsync: string; sync: string }>("SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync");
      if (!opts.settings && (durable.fsync !== 'on' || durable.sync !== 'on')) throw new Error(`the test cluster runs with fsync=${durable.fsync}, synchronous_commit=${durable.sync}`);
    },

    async stop() {
      await closeAdmins();
      await shutdown(postmaster, 'SIGINT');
    },

    async crash() {
      await closeAdmins();
      await shutdown(postmaster, 'SIGQUIT');
    },

    async destroy() {
      try {
        await cluster.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    async sql(text, values, database = 'postgres') {
      return (await admin(database)).query(text, values);
    },

    async createDatabase(name = `lt_${randomBytes(4).toString('hex')}`) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name}: lower-case letters, digits and _ only`);
      const password = randomBytes(12).toString('hex');
      const passwordFile = join(dir, `${name}.password`);
      writeSecret(passwordFile, password);
      // A role per database: what a deployment does (the server's role owns its tables), not a superuser.
      await cluster.sql(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
      await cluster.sql(`CREATE DATABASE ${name} OWNER ${name} TEMPLATE template0 ENCODING 'UTF8'`);
      const db: TestDatabase = {
        name,
        user: name,
        passwordFile,
        config: (overrides = {}) => fieldsConfig({ host: socketDir, port, database: name, user: name, passwordFile, ...overrides }),
        url: () => `postgresql://${name}@/${name}?host=${socketDir}&port=${port}`,
        sql: (text, values) => cluster.sql(text, values, name),
        async drop() {
          await closeAdmin(name);
          await cluster.sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await cluster.sql(`DROP ROLE IF EXISTS ${name}`);
        },
      };
      return db;
    },

    tail(lines = 40) {
      return postmaster?.tail(lines) ?? `postgres ${prefix}: not started`;
    },
  };

  try {
    // Owned by postgres (initdb wants an empty directory it owns); root reads and connects regardless.
    chownSync(dir, ids.uid, ids.gid);
    await mkdir(socketDir, { mode: 0o700 });
    chownSync(socketDir, ids.uid, ids.gid);
    writeSecret(superuserPasswordFile, randomBytes(12).toString('hex'), ids);
    const init = await runCommand(
      [
        'setpriv',
        ...AS_POSTGRES,
        packagedProgram('initdb'),
        '-D',
        data,
        '-U',
        SUPERUSER,
        `--pwfile=${superuserPasswordFile}`,
        // Passwords on the socket too: the store's passwordFile is exercised, and nobody gets in by being root.
        '--auth-local=scram-sha-256',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        // The cluster's files are not synced at creation (it is thrown away); the server runs with fsync on.
        '--no-sync',
      ],
      { timeoutMs: 60_000 },
    );
    if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}): ${init.stderr.trim() || init.stdout.trim()}`);
    await cluster.start();
    return cluster;
  } catch (err) {
    const log = postmaster ? `\n${postmaster.tail()}` : '';
    await cluster.destroy().catch(() => undefined);
    throw new Error(`${(err as Error).message}${log}`, { cause: err });
  }
}

/** The config a store of ours uses, every tunable at its default. */
function fieldsConfig(fields: Partial<PostgresLeaseStoreConfig> & Pick<PostgresLeaseStoreConfig, 'host' | 'database' | 'user'>): PostgresLeaseStoreConfig {
  return {
    type: 'postgresql',
    port: POSTGRES_DEFAULTS.port,
    poolSize: POSTGRES_DEFAULTS.poolSize,
    statementTimeoutMs: POSTGRES_DEFAULTS.statementTimeoutMs,
    lockTimeoutMs: POSTGRES_DEFAULTS.lockTimeoutMs,
    connectTimeoutMs: POSTGRES_DEFAULTS.connectTimeoutMs,
    maxBatch: POSTGRES_DEFAULTS.maxBatch,
    allowUnsafeDurability: false,
    shared: false,
    ...fields,
  };
}

/** Signals the postmaster and waits for it (and so its children) to exit; SIGKILL after 20 s. */
async function shutdown(postmaster: TrackedProcess | undefined, signal: 'SIGINT' | 'SIGQUIT'): Promise<void> {
  if (!postmaster?.running) return;
  postmaster.signal(signal);
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 20_000, 'timeout').unref());
  if ((await Promise.race([postmaster.exited, timeout])) === 'timeout') postmaster.signal('SIGKILL');
  await postmaster.exited;
}

/**
 * Clusters a crashed or interrupted run left under `<tmpdir>/<prefix>-pg-*`:
 * the postmaster named in the data directory's PID file is stopped
 * (immediate shutdown) if it is still that cluster's, then the directory
 * goes.
 */
export async function sweepStalePostgres(prefix: string): Promise<void> {
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith(`${prefix}-pg-`)) continue;
    const dir = join(tmpdir(), entry);
    const pidFile = join(dir, 'data', 'postmaster.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n', 1)[0]) : NaN;
    if (Number.isInteger(pid) && pid > 0 && postmasterOf(pid, dir)) {
      process.kill(pid, 'SIGQUIT');
      await pollUntil(`stale postmaster ${pid} to exit`, () => !postmasterOf(pid, dir), { timeoutMs: 20_000 }).catch(() => {
        if (postmasterOf(pid, dir)) process.kill(pid, 'SIGKILL');
      });
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** Is `pid` a postgres whose command line names a directory under `dir` (so not some other process that got the number)? */
function postmasterOf(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.startsWith(dir));
  } catch {
    return false;
  }
}

/**
 * One cluster for a test file: swept and started before its tests, stopped
 * and removed after them, pass or fail. The getter throws before `before`.
 */
export function usePostgres(test: TestFn, prefix: string): () => PostgresCluster {
  let cluster: PostgresCluster | undefined;
  test.before(async () => {
    await sweepStalePostgres(prefix);
    cluster = await startPostgres(prefix);
  });
  test.after.always(async () => {
    await cluster?.destroy();
    await sweepStalePostgres(prefix);
  });
  return () => {
    if (!cluster) throw new Error('the PostgreSQL cluster is not started (usePostgres registers test.before)');
    return cluster;
  };
}
