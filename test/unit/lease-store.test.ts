import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { clientKeyFor } from '../../server/leases/lease.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { openSqliteLeaseStore, type SqliteLeaseStore } from '../../server/leases/sqlite-lease-store.ts';
import { leaseStoreContract } from '../harness/lease-store-contract.ts';

// The lease-store contract (test/harness/lease-store-contract.ts) for the
// stores that need no server; PostgreSQL runs the same suite in
// test/integration/pg-lease-store.test.ts.

leaseStoreContract(test, { name: 'memory', open: async (_t, { maxBatch }) => new MemoryLeaseStore([], { maxBatch }), checksRows: false });

for (const variant of [
  { name: 'sqlite', commitLog: { bytes: 1 << 20 } },
  { name: 'sqlite without commit log', commitLog: false as const },
]) {
  leaseStoreContract(test, {
    name: variant.name,
    open: async (t, { maxBatch }) => {
      const dir = mkdtempSync(join(tmpdir(), 'lt-lease-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      return openSqliteLeaseStore(join(dir, 'leases.db'), { maxBatch, commitLog: variant.commitLog });
    },
    reopen: async (_t, closed) => openSqliteLeaseStore((closed as SqliteLeaseStore).path, { commitLog: variant.commitLog }),
    checksRows: true,
  });
}

test('clientKeyFor prefers the client identifier (RFC 2131 §4.2)', (t) => {
  t.is(clientKeyFor('01020000000001', '02:00:00:00:00:01'), 'id:01020000000001');
  t.is(clientKeyFor(undefined, '02:00:00:00:00:01'), 'hw:02:00:00:00:00:01');
  t.is(clientKeyFor('01AB', '02:00:00:00:00:01'), 'id:01ab');
  t.is(clientKeyFor(undefined, '02:AA:00:00:00:01'), 'hw:02:aa:00:00:00:01');
  // A client id that spells the MAC must not collide with the MAC key.
  t.not(clientKeyFor('020000000001', '02:00:00:00:00:01'), clientKeyFor(undefined, '02:00:00:00:00:01'));
});
