import { execFile } from 'node:child_process';
import { LeaseholdError } from '../../lib/core/errors.ts';

/**
 * Runs a system tool by argv — never through a shell (ARCHITECTURE.md:
 * "iproute2 argv calls, never a shell"). PATH is fixed to the directories
 * Debian's packages install into, so that node_modules/.bin (under npx)
 * cannot shadow `ip`, nor a hand-installed tool in /usr/local the packaged
 * one (every program comes from a package of lab/programs.txt).
 */
export const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

export class CommandError extends LeaseholdError {
  readonly code = 'E_COMMAND';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')}: ${stderr.trim().split('\n')[0] || `exit ${exitCode}`}`);
  }
}

export async function run(argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(
      argv[0],
      argv.slice(1),
      { env: { ...process.env, PATH: SYSTEM_PATH }, timeout: opts.timeoutMs ?? 15_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
          reject(new CommandError(argv, code, String(stderr) || err.message));
        } else {
          resolve(String(stdout));
        }
      },
    );
  });
}

/** Like run(), but a failure is reported as `false` (for probes such as "does this link exist"). */
export async function succeeds(argv: readonly string[]): Promise<boolean> {
  try {
    await run(argv);
    return true;
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}
