import type { ConfigIssue } from '../../lib/config/field-reader.ts';
import { LeaseholdError } from '../../lib/core/errors.ts';

/**
 * Everything wrong with a configuration, found in one pass so the operator
 * fixes it in one edit. The message has one `[file: ]path: problem` line per
 * issue; `path` and `problem` repeat the first issue.
 */
export class ConfigError extends LeaseholdError {
  readonly code = 'E_CONFIG';
  readonly path: string;
  readonly problem: string;

  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(issues.map((issue) => [file, issue.path, issue.problem].filter(Boolean).join(': ')).join('\n'), options);
    this.path = issues[0]?.path ?? '';
    this.problem = issues[0]?.problem ?? '';
  }
}
