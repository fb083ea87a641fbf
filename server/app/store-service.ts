import type { CommitObserver, LeaseStore } from '../leases/lease-store.ts';
import type { Service } from './service.ts';

/**
 * The lease store as a service: opened first, closed last, so every other
 * service's last write (a lease, a DNS change done) still lands.
 */
export class StoreService implements Service {
  readonly name = 'store';
  #store: LeaseStore | undefined;

  /**
   * `open` throws (or rejects with) a StoreError, one line naming the path
   * or the database, when the store cannot be used; a PostgreSQL store is
   * opened asynchronously. `observer`, when given, is handed to the store.
   */
  constructor(
    private readonly open: (observer?: CommitObserver) => LeaseStore | Promise<LeaseStore>,
    private readonly observer?: CommitObserver,
  ) {}

  /** The open store; only between start and stop. */
  get store(): LeaseStore {
    if (!this.#store) throw new Error('the lease store is not open');
    return this.#store;
  }

  /** Whether the store is open (between start and stop). */
  get isOpen(): boolean {
    return this.#store !== undefined;
  }

  async start(): Promise<void> {
    this.#store = await this.open(this.observer);
  }

  async stop(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    await store?.close();
  }
}
