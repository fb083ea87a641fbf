import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { pollUntil } from './poll.ts';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// Enough for a server's log over a whole test, bounded so 200 clients cannot
// exhaust memory. A packet capture under load asks for more (outputLimit).
const OUTPUT_LIMIT = 1 << 20;

/**
 * A child process the harness owns: its combined stdout/stderr is kept for
 * assertions and failure messages, and it can always be stopped by PID.
 */
export class TrackedProcess {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  #output = '';
  #status: ExitStatus | undefined;

  constructor(
    readonly label: string,
    argv: readonly string[],
    options: { cwd?: string; env?: NodeJS.ProcessEnv; outputLimit?: number } = {},
  ) {
    const limit = options.outputLimit ?? OUTPUT_LIMIT;
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const append = (chunk: Buffer) => {
      this.#output += chunk.toString('utf8');
      if (this.#output.length > limit) this.#output = this.#output.slice(-limit);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        append(Buffer.from(`spawn failed: ${error.message}\n`));
        this.#status = { code: null, signal: null };
        resolve(this.#status);
      });
      child.once('close', (code, signal) => {
        this.#status = { code, signal };
        resolve(this.#status);
      });
    });
    // A failed spawn has no PID; -1 is never signalled (see signal()).
    this.pid = child.pid ?? -1;
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return this.#status === undefined;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running && this.pid > 0) {
      try {
        process.kill(this.pid, signal);
      } catch (error) {
        // Already gone between the check and the kill: nothing to do.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  }

  /**
   * After a SIGSTOP: waits until every thread is in the stopped state ('T' in
   * /proc/<pid>/task/<tid>/stat). kill(2) only queues the signal; a thread
   * stops when it next returns to user space, so a test that expects no
   * answer from a stopped server must see it stopped first.
   */
  async waitStopped(timeoutMs = 2000): Promise<void> {
    await pollUntil(`${this.label} stopped`, async () => {
      const tasks = await readdir(`/proc/${this.pid}/task`);
      const states = await Promise.all(tasks.map(async (tid) => {
        const stat = await readFile(`/proc/${this.pid}/task/${tid}/stat`, 'utf8');
        // The state follows the command name, which is in parentheses and may hold spaces.
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      }));
      return states.every((state) => state === 'T' || state === 't');
    }, { timeoutMs, intervalMs: 10 });
  }

  /** The last lines of output, for error messages. */
  tail(lines = 30): string {
    return `--- ${this.label} (pid ${this.pid}) ---\n${this.#output.split('\n').slice(-lines).join('\n')}`;
  }

  /**
   * Waits until the output from character `from` on matches (`output.length`
   * taken earlier: only what came since); fails early if the process exits first.
   */
  async waitForOutput(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    return pollUntil(
      `${this.label} output ${pattern}`,
      () => {
        const match = this.#output.slice(from).match(pattern);
        if (match) return match;
        if (!this.running) {
          throw new Error(`${this.label} exited (${JSON.stringify(this.#status)}) before printing ${pattern}\n${this.tail()}`);
        }
        return undefined;
      },
      { timeoutMs, describe: () => this.tail() },
    );
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  async stop(graceMs = 3000): Promise<ExitStatus> {
    this.signal('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
    if ((await Promise.race([this.exited, timeout])) === 'timeout') this.signal('SIGKILL');
    return this.exited;
  }

  async kill9(): Promise<ExitStatus> {
    this.signal('SIGKILL');
    return this.exited;
  }
}
