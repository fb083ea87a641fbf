import type { Clock } from '../../lib/core/clock.ts';

/**
 * The clock the agent waits with: the time, and a pause between polls (for
 * the hook's lease file, the SLAAC address). Injected, so timeouts and
 * back-off are tested without waiting.
 */
export interface AgentClock extends Clock {
  sleep(ms: number): Promise<void>;
}

export const systemAgentClock: AgentClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
