import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Host } from './netns.ts';
import type { DhcpServerUnderTest, ServerKind, ServerLease, TestServerConfig } from './servers.ts';
import type { TrackedProcess } from './tracked-process.ts';

/**
 * What every server under test shares: one foreground process in the server
 * namespace, a private directory that outlives restarts (so the lease file
 * does too), and stop/crash/restart on top of the launch the subclass defines.
 */
export abstract class ServerProcess implements DhcpServerUnderTest {
  abstract readonly kind: ServerKind;
  #host: Host | undefined;
  #config: TestServerConfig | undefined;
  #dir: string | undefined;
  #process: TrackedProcess | undefined;

  /** Starts the server and resolves once it reports that it is serving. */
  protected abstract launch(host: Host, config: TestServerConfig, dir: string): Promise<TrackedProcess>;

  abstract leases(): Promise<ServerLease[]>;

  async start(host: Host, config: TestServerConfig): Promise<void> {
    if (this.#process?.running) throw new Error(`${this.kind} is already running`);
    this.#host = host;
    this.#config = config;
    // Inside the segment's temp dir, so the segment's teardown removes it.
    this.#dir ??= await mkdtemp(join(host.segment.tmpDir, `${this.kind}-`));
    this.#process = await this.launch(host, config, this.#dir);
  }

  async stop(): Promise<void> {
    const child = this.#process;
    if (!child?.running) return;
    const status = await child.stop();
    if (status.code !== 0) throw new Error(`${this.kind} did not stop cleanly on SIGTERM: ${JSON.stringify(status)}\n${child.tail()}`);
  }

  async kill9(): Promise<void> {
    await this.#process?.kill9();
  }

  async restart(): Promise<void> {
    if (!this.#host || !this.#config) throw new Error(`${this.kind} was never started`);
    await this.stop();
    await this.start(this.#host, this.#config);
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
