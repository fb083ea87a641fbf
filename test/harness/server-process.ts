import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Host } from './netns.ts';
import type { DhcpServerUnderTest, ServerKind, ServerLease, TestServerConfig } from './servers.ts';
import type { TrackedProcess } from './tracked-process.ts';

/**
 * What every server under test shares: foreground processes in the server
 * namespace (one, or a few that work together, such as kea-dhcp4 and its
 * DDNS daemon), a private directory that outlives restarts (so the lease
 * file does too), and stop/crash/restart on top of the launch the subclass
 * defines.
 */
export abstract class ServerProcess implements DhcpServerUnderTest {
  abstract readonly kind: ServerKind;
  #host: Host | undefined;
  #config: TestServerConfig | undefined;
  #dir: string | undefined;
  #processes: readonly TrackedProcess[] = [];

  /**
   * Starts the server and resolves once it reports that it is serving: its
   * process, or its processes in the order they were started (they are
   * stopped in the reverse order).
   */
  protected abstract launch(host: Host, config: TestServerConfig, dir: string): Promise<TrackedProcess | readonly TrackedProcess[]>;

  abstract leases(): Promise<ServerLease[]>;

  async start(host: Host, config: TestServerConfig): Promise<void> {
    if (this.running) throw new Error(`${this.kind} is already running`);
    this.#host = host;
    this.#config = config;
    // Inside the segment's temp dir, so the segment's teardown removes it.
    this.#dir ??= await mkdtemp(join(host.segment.tmpDir, `${this.kind}-`));
    const launched = await this.launch(host, config, this.#dir);
    this.#processes = Array.isArray(launched) ? launched : [launched as TrackedProcess];
  }

  async stop(): Promise<void> {
    for (const child of [...this.#processes].reverse()) {
      if (!child.running) continue;
      const status = await child.stop();
      if (status.code !== 0) throw new Error(`${child.label} did not stop cleanly on SIGTERM: ${JSON.stringify(status)}\n${child.tail()}`);
    }
  }

  async kill9(): Promise<void> {
    await Promise.all(this.#processes.map((child) => child.kill9()));
  }

  async restart(): Promise<void> {
    if (!this.#host || !this.#config) throw new Error(`${this.kind} was never started`);
    await this.stop();
    await this.start(this.#host, this.#config);
  }

  /**
   * Stops it however it goes (SIGTERM, then SIGKILL) and removes its
   * directory, lease file and all: for a run that wants a fresh server
   * every time, as a benchmark's steps do.
   */
  async remove(): Promise<void> {
    await Promise.all([...this.#processes].reverse().map((child) => child.stop(5000)));
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }

  /** Its processes, first started first (empty before start). */
  get processes(): readonly TrackedProcess[] {
    return this.#processes;
  }

  get running(): boolean {
    return this.#processes.some((child) => child.running);
  }

  /** Undefined while every process of the server runs; else which one ended and how. */
  exitReason(): string | undefined {
    const gone = this.#processes.find((child) => !child.running);
    return gone && `${gone.label} exited`;
  }

  /** The last lines of each process's output, for failure messages. */
  tail(lines = 15): string {
    return this.#processes.map((child) => child.tail(lines)).join('\n');
  }

  protected get dir(): string {
    if (this.#dir === undefined) throw new Error(`${this.kind} was never started`);
    return this.#dir;
  }

  protected get host(): Host {
    if (this.#host === undefined) throw new Error(`${this.kind} was never started`);
    return this.#host;
  }
}
