import { readFileSync } from 'node:fs';

/**
 * Process identity from /proc: a PID plus its start time (field 22 of
 * /proc/<pid>/stat, in clock ticks since boot). A PID alone can be reused
 * by an unrelated process after ours died; the pair cannot.
 */
export function processStartTicks(pid: number): number | undefined {
  const stat = readStat(pid);
  if (!stat || stat.state === 'Z') return undefined;
  return stat.startTicks;
}

/** The state letter of /proc/<pid>/stat (R running, S sleeping, Z zombie…), or undefined when there is no such process. */
export function processState(pid: number): string | undefined {
  return readStat(pid)?.state;
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  return processStartTicks(pid) !== undefined;
}

/** Alive and the very process we started (same start time). */
export function isSameProcess(pid: number, startTicks: number): boolean {
  return pid > 0 && processStartTicks(pid) === startTicks;
}

function readStat(pid: number): { state: string; startTicks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or
  // parentheses itself: the fields after it start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  return { state: rest[0], startTicks: Number(rest[19]) };
}

export async function waitForExit(pid: number, startTicks: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isSameProcess(pid, startTicks)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
