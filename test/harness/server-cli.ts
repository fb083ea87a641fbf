import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SYSTEM_PATH } from './netns.ts';
import { REPO_ROOT } from './run-command.ts';

/** leasehold-server from the source tree (node + tsx), as the integration tests run it. */
export const CLI = ['--import=tsx', 'server/cli/main.ts'];

const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `leasehold-server ARGS` to its end (in `netns` when given), on the system PATH; never throws for an exit status. */
export async function cli(args: string[], netns?: string): Promise<CliResult> {
  const argv = netns ? ['ip', 'netns', 'exec', netns, 'node', ...CLI, ...args] : ['node', ...CLI, ...args];
  try {
    const { stdout, stderr } = await run(argv[0], argv.slice(1), { cwd: REPO_ROOT, env: { ...process.env, PATH: SYSTEM_PATH } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
