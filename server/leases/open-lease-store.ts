import { hostname } from 'node:os';
import type { Logger } from '../../lib/core/logger.ts';
import type { CommitObserver, LeaseStore, LeaseStoreStats } from './lease-store.ts';
import type { LeaseStoreConfig } from './lease-store-config.ts';
import { openSqliteLeaseStore } from './sqlite-lease-store.ts';

export interface OpenLeaseStoreOptions {
  /** Named in the refusals that say which command to run ("db init --config FILE"). */
  configPath?: string;
  logger?: Logger;
  /** Written with every lease this server grants (PostgreSQL); default: the host name. */
  serverName?: string;
  /**
   * To read, not to serve (`leasehold-server leases`): a server takes a
   * PostgreSQL database for itself, a reader does not.
   */
  inspectOnly?: boolean;
  /** Told of every group the store writes or fails to write. */
  observer?: CommitObserver;
}

/** The name a server writes with its leases when nothing names it: the host's, and the process's (two servers may share a host). */
export function defaultServerName(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * The store the config names, open and ready to serve from, or a
 * StoreError with one line: an SQLite file that cannot be used; a
 * PostgreSQL server that cannot be reached, runs with fsync=off, has no
 * schema or one this server does not know (the line says which `db`
 * command to run), or is already served by another server. The PostgreSQL
 * client is loaded only when the config asks for it.
 */
export async function openLeaseStore(config: LeaseStoreConfig, opts: OpenLeaseStoreOptions = {}): Promise<LeaseStore & { stats(): LeaseStoreStats }> {
  if (config.type === 'sqlite') {
    return openSqliteLeaseStore(config.path, { observer: opts.observer, ...(config.commitWaitUs !== undefined && { maxCommitWaitMs: config.commitWaitUs / 1000 }) });
  }
  const { openPgLeaseStore } = await import('./pg/pg-lease-store.ts');
  return openPgLeaseStore(config, {
    serverName: opts.serverName ?? defaultServerName(),
    configPath: opts.configPath,
    logger: opts.logger,
    soleServer: !opts.inspectOnly && !config.shared,
    sharedDnsQueue: !opts.inspectOnly && config.shared,
    observer: opts.observer,
  });
}
