import { readFile } from 'node:fs/promises';
import { pollUntil } from './poll.ts';

/** One hook invocation: the event (udhcpc's $1, dhclient's $reason) and the variables the client exported. */
export type ClientEvent = { event: string } & Record<string, string>;

/**
 * The JSON-lines file a client hook appends to. waitFor() consumes events in
 * order, so "bound, then renew" is two calls and the second can only be
 * satisfied by an event that came after the first.
 */
export class EventLog {
  #consumed = 0;

  constructor(
    readonly path: string,
    private readonly isAlive: () => boolean,
    private readonly describe: () => string,
  ) {}

  async all(): Promise<ClientEvent[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    // A line still being written has no newline yet; it is read next time.
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    return complete.split('\n').filter(Boolean).map((line) => JSON.parse(line) as ClientEvent);
  }

  /** The next not yet consumed event named one of `events`; fails early once the client has exited without it. */
  async waitFor(events: string | readonly string[], timeoutMs: number): Promise<ClientEvent> {
    const wanted = typeof events === 'string' ? [events] : events;
    return pollUntil(
      `client event ${wanted.join('|')}`,
      async () => {
        // Checked before reading, so an event written just before exit is still seen.
        const alive = this.isAlive();
        const all = await this.all();
        const index = all.findIndex((e, i) => i >= this.#consumed && wanted.includes(e.event));
        if (index >= 0) {
          this.#consumed = index + 1;
          return all[index];
        }
        if (!alive) throw new Error(`client exited without event ${wanted.join('|')}\n${await this.summary()}`);
        return undefined;
      },
      { timeoutMs, describe: () => this.summary() },
    );
  }

  async summary(): Promise<string> {
    const events = (await this.all()).map((e) => e.event).join(', ');
    return `events so far: [${events}]\n${this.describe()}`;
  }
}
