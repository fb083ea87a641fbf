/**
 * Base class for the errors Leasehold raises on purpose. Every one carries a
 * stable `code` (for logs, metrics and tests) and a one-line message; the
 * lower-level error that caused it, if any, travels in `cause` so it is logged
 * once, at the edge, with its full story.
 */
export abstract class LeaseholdError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The first line of any thrown value's message, for one-line errors that wrap it. */
export function reasonOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n', 1)[0];
}
