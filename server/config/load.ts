import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { reasonOf } from '../../lib/core/errors.ts';
import type { ServerConfig } from './config.ts';
import { ConfigError } from './config-error.ts';
import { validateConfig } from './validate.ts';

/**
 * Reads and validates a configuration file: JSON when it ends in .json,
 * otherwise YAML (1.2, a superset of JSON). Every failure — unreadable file,
 * syntax error, invalid content — is a `ConfigError` whose lines start with
 * the file's path. Synchronous: it runs once, at start-up, before there is
 * anything else to do.
 */
export function loadConfigFile(path: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', problem: `cannot read: ${reasonOf(err)}` }], path, { cause: err });
  }
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    // The yaml library ends its first line with ':' before a code excerpt.
    const reason = reasonOf(err).replace(/:$/, '');
    throw new ConfigError([{ path: '', problem: `cannot parse: ${reason}` }], path, { cause: err });
  }
  let config: ServerConfig;
  try {
    config = validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.issues, path);
    throw err;
  }
  return resolveRelativeToConfig(config, dirname(path));
}

/**
 * A key, token or certificate file (or the control socket) named
 * relatively lives beside the config (so the lab can keep its generated key
 * and token next to its copy of the config), not in whatever
 * directory the server happened to start from.
 */
function resolveRelativeToConfig(config: ServerConfig, dir: string): ServerConfig {
  const beside = (file: string | undefined) => (file === undefined || isAbsolute(file) ? file : resolve(dir, file));
  for (const zone of config.ddns?.zones ?? []) {
    if (zone.key?.secretFile !== undefined) zone.key.secretFile = beside(zone.key.secretFile);
  }
  const { control } = config;
  if (control.socket !== undefined) control.socket = beside(control.socket);
  const http = control.http;
  if (http) {
    for (const key of ['tokenFile', 'basicAuthFile', 'tlsCert', 'tlsKey'] as const) {
      if (http[key] !== undefined) http[key] = beside(http[key]);
    }
  }
  return config;
}
