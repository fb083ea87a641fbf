/**
 * Node's timers take at most 2^31-1 ms (a longer delay fires at once), so
 * every duration a configuration gives a timer is bounded by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Durations configured in seconds: a year, well inside MAX_TIMER_MS. */
export const MAX_TIMER_SECONDS = 31_536_000;
