import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PATH } from './netns.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time of the whole process, spawn to exit. */
  ms: number;
}

/**
 * Runs argv (no shell) to its end and collects its output; killed after
 * `timeoutMs`. A daemon started by the command may keep our pipes open (it
 * inherits them), so the result is taken at exit, with whatever output had
 * arrived a moment later, not at the pipes' close.
 */
export function runCommand(
  argv: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; input?: string } = {},
): Promise<CommandResult> {
  const started = performance.now();
  const child = spawn(argv[0], argv.slice(1), {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env, PATH: SYSTEM_PATH },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Without input the command's stdin is closed at once (what 'ignore' gave: EOF on read).
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const done = () => resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
      const grace = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        done();
      }, 1000);
      child.once('close', () => {
        clearTimeout(grace);
        done();
      });
    });
  });
}


/**
 * How to run one of our programs: `node dist/<part>/cli/main.js` when that
 * build is newer than every source it is built from (the part's own files
 * and lib/'s), else `<part>/cli/main.ts` through tsx. `built` says which:
 * a benchmark says so when its figures include compiling.
 */
export function ourCommand(part: 'server' | 'agent'): { argv: string[]; built: boolean } {
  const built = join(REPO_ROOT, 'dist', part, 'cli', 'main.js');
  if (existsSync(built)) {
    const builtAt = statSync(built).mtimeMs;
    const sources = [...listTs(join(REPO_ROOT, part)), ...listTs(join(REPO_ROOT, 'lib'))];
    if (sources.every((file) => statSync(file).mtimeMs <= builtAt)) return { argv: [process.execPath, built], built: true };
  }
  return { argv: [process.execPath, '--import=tsx', join(REPO_ROOT, part, 'cli', 'main.ts')], built: false };
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'build' ? [] : listTs(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}
