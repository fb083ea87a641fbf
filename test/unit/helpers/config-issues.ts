import { ConfigError } from '../../../server/config/config-error.ts';
import { validateConfig } from '../../../server/config/validate.ts';

/** The `path: problem` lines validation reports for `raw` ([] when it is valid). */
export function configIssues(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.problem}`);
    throw err;
  }
  return [];
}
