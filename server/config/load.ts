import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { reasonOf } from '../errors.ts';
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
  try {
    return validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.issues, path);
    throw err;
  }
}
