import type { DnsChange } from './dns-change.ts';
import type { Lease } from './lease.ts';
import type { LeaseChange, LeaseStore, LeaseStoreStats } from './lease-store.ts';
import { GroupCommitter } from './group-committer.ts';

/**
 * A lease store that forgets everything on exit, for unit tests of the DHCP
 * logic. It groups and settles commits exactly like the SQLite store, so code
 * tested against it sees the same timing.
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly #leases = new Map<string, Lease>();
  readonly #dnsQueue = new Map<number, DnsChange>();
  readonly #committer: GroupCommitter;

  constructor(initial: readonly Lease[] = [], opts: { maxBatch?: number } = {}) {
    for (const lease of initial) this.#leases.set(lease.ip, { ...lease });
    this.#committer = new GroupCommitter('memory', (changes) => this.#apply(changes), opts.maxBatch);
  }

  loadAll(): Lease[] {
    return [...this.#leases.values()].map((lease) => ({ ...lease }));
  }

  loadDnsQueue(): DnsChange[] {
    return [...this.#dnsQueue.values()].sort((a, b) => a.seq - b.seq).map((c) => ({ ...c }));
  }

  commit(change: LeaseChange): Promise<void> {
    return this.#committer.submit(change);
  }

  close(): Promise<void> {
    return this.#committer.close();
  }

  stats(): LeaseStoreStats {
    return this.#committer.stats();
  }

  #apply(changes: readonly LeaseChange[]): void {
    for (const change of changes) {
      for (const lease of change.put ?? []) this.#leases.set(lease.ip, lease);
      for (const ip of change.remove ?? []) this.#leases.delete(ip);
      for (const dns of change.enqueue ?? []) this.#dnsQueue.set(dns.seq, { ...dns });
      for (const seq of change.dequeue ?? []) this.#dnsQueue.delete(seq);
    }
  }
}
