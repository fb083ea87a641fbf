import type { ConfigIssue } from '../../lib/config/field-reader.ts';
import type { ServerConfig } from './config.ts';

/**
 * What a reload (SIGHUP, `config-reload`) may change while the server
 * runs: the subnets — added, removed, pools resized, options, lease times,
 * reservations, each subnet's DNS naming. Everything else is bound to what
 * the running server holds open (sockets, the store, DNS clients and their
 * keys, RA sockets, the control listeners, the logger), so a change there
 * is refused, naming the field: the running configuration stays, and a
 * restart applies it.
 */
const LIVE_FIELDS: ReadonlySet<keyof ServerConfig> = new Set(['subnets']);

/** The top-level fields whose change needs a restart, as issues naming each; [] when the reload can apply. */
export function changesNeedingRestart(running: ServerConfig, next: ServerConfig): ConfigIssue[] {
  const keys = new Set([...Object.keys(running), ...Object.keys(next)] as Array<keyof ServerConfig>);
  return [...keys]
    .filter((key) => !LIVE_FIELDS.has(key) && JSON.stringify(running[key]) !== JSON.stringify(next[key]))
    .sort()
    .map((key) => ({ path: key, problem: 'changed, and applies only at a restart (a reload changes subnets only)' }));
}
