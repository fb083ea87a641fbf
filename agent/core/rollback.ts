/**
 * The undo list of one command (a CNI plugin's cleanup stack): each step
 * that made something leaves its undo here; a failure later undoes exactly
 * those, last first, and nothing a step found already in place.
 */
export type Undo = () => Promise<unknown>;

export interface UndoFailure {
  step: string;
  error: unknown;
}

export class Rollback {
  private readonly undos: { step: string; undo: Undo }[] = [];

  /** Runs one step; its undo, if it made something, is kept. */
  async step(step: string, ensure: () => Promise<Undo | undefined>): Promise<void> {
    const undo = await ensure();
    if (undo) this.undos.push({ step, undo });
  }

  /** The steps that made something so far, in order. */
  get made(): string[] {
    return this.undos.map((u) => u.step);
  }

  /**
   * Undoes every kept step, last first. A failing undo does not stop the
   * others; the failures are returned for the caller to report.
   */
  async undo(): Promise<UndoFailure[]> {
    const failures: UndoFailure[] = [];
    while (this.undos.length) {
      const { step, undo } = this.undos.pop()!;
      try {
        await undo();
      } catch (error) {
        failures.push({ step, error });
      }
    }
    return failures;
  }
}

/**
 * Awaits every promise, then throws the first failure in argument order:
 * unlike Promise.all, nothing is still running when the caller starts
 * rolling back, so a step running alongside a look-up has left its undo.
 */
export async function settleAll<T extends readonly unknown[]>(...promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
