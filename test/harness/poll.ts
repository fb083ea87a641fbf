// Readiness is polled against a deadline, never slept on: a fixed sleep is
// either too short on a loaded machine or wastes time on an idle one.

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Extra context appended to the timeout error (last log lines, events seen…). */
  describe?: () => string | Promise<string>;
}

/**
 * Calls `probe` until it returns a value other than `undefined`/`false`, and
 * returns that value. Errors thrown by `probe` are not retried: a probe that
 * can fail transiently must catch and return `undefined` itself.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 50;
  while (true) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) {
      const detail = options.describe ? `\n${await options.describe()}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
