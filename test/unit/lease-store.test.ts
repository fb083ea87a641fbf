import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { clientKeyFor, type Lease } from '../../server/leases/lease.ts';
import type { LeaseStore, LeaseStoreStats } from '../../server/leases/lease-store.ts';
import { MemoryLeaseStore } from '../../server/leases/memory-lease-store.ts';
import { openSqliteLeaseStore } from '../../server/leases/sqlite-lease-store.ts';
import { StoreError } from '../../server/leases/store-error.ts';

// The same contract, checked against every backend.

type Store = LeaseStore & { stats(): LeaseStoreStats };

const backends: Array<{ name: string; open: (t: { teardown(fn: () => void): void }, maxBatch?: number) => Store }> = [
  { name: 'memory', open: (_t, maxBatch) => new MemoryLeaseStore([], { maxBatch }) },
  {
    name: 'sqlite',
    open: (t, maxBatch) => {
      const dir = mkdtempSync(join(tmpdir(), 'lt-lease-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      return openSqliteLeaseStore(join(dir, 'leases.db'), { maxBatch, commitLog: { bytes: 1 << 20 } });
    },
  },
  {
    name: 'sqlite without commit log',
    open: (t, maxBatch) => {
      const dir = mkdtempSync(join(tmpdir(), 'lt-lease-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      return openSqliteLeaseStore(join(dir, 'leases.db'), { maxBatch, commitLog: false });
    },
  },
];

function lease(i: number, overrides: Partial<Lease> = {}): Lease {
  const hwAddress = `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  return {
    ip: `198.18.${1 + (i >> 8)}.${i & 0xff}`,
    clientKey: clientKeyFor(undefined, hwAddress),
    hwAddress,
    subnetId: 'lab',
    state: 'bound',
    grantedAt: 1_700_000_000_000 + i,
    expiresAt: 1_700_003_600_000 + i,
    ...overrides,
  };
}

const byIp = (a: Lease, b: Lease) => a.ip.localeCompare(b.ip);

for (const backend of backends) {
  test(`${backend.name}: leases round-trip, optional fields included or absent`, async (t) => {
    const store = backend.open(t);
    const leases = [
      lease(1),
      lease(2, { clientId: '0102000000002a', clientKey: clientKeyFor('0102000000002a', '02:00:00:00:00:02'), hostname: 'web-1' }),
      lease(3, { state: 'declined' }),
      lease(4, { fqdn: 'web-4.lab.leasehold.test', ipv6: 'fd00:198:18::ff:fe00:4' }),
    ];
    await store.commit({ put: leases });
    t.deepEqual(store.loadAll().sort(byIp), leases);
    await store.close();
  });

  test(`${backend.name}: DNS changes are queued with their lease and dequeued in sequence order`, async (t) => {
    const store = backend.open(t);
    const change = (seq: number, action: 'add' | 'remove') => ({
      seq, action, fqdn: `h${seq}.lab.leasehold.test`, ipv4: lease(seq).ip, dhcid: 'AAEBxx==', ttl: 1200, createdAt: 1_700_000_000_000,
    });
    await Promise.all([
      store.commit({ put: [lease(1)], enqueue: [change(2, 'add')] }),
      store.commit({ put: [lease(2)], enqueue: [change(1, 'add'), change(3, 'remove')] }),
    ]);
    t.deepEqual(store.loadDnsQueue().map((c) => c.seq), [1, 2, 3]);
    t.deepEqual(store.loadDnsQueue()[2], change(3, 'remove'));
    await store.commit({ dequeue: [1, 3] });
    t.deepEqual(store.loadDnsQueue().map((c) => c.seq), [2]);
    await store.close();
  });

  test(`${backend.name}: reservations are kept by subnet and address, replaced and withdrawn in commit order`, async (t) => {
    const store = backend.open(t);
    const printer = { subnetId: 'lab', ip: '198.18.0.20', hwAddress: '02:42:c6:12:00:0b', hostname: 'printer' };
    const byId = { subnetId: 'lab', ip: '198.18.0.3', clientId: '01020000000003' };
    const other = { subnetId: 'edge', ip: '198.19.0.7', hwAddress: '02:00:00:00:00:07' };
    await Promise.all([store.commit({ reserve: [printer, other] }), store.commit({ reserve: [byId], unreserve: [{ subnetId: 'edge', ip: '198.19.0.7' }] })]);
    t.deepEqual(store.loadReservations(), [byId, printer], 'ordered by subnet, then numerically by address');
    await store.commit({ reserve: [{ ...printer, hostname: 'laser' }] });
    t.deepEqual(store.loadReservations()[1], { ...printer, hostname: 'laser' });
    await store.close();
  });

  test(`${backend.name}: concurrent commits share one transaction`, async (t) => {
    const store = backend.open(t);
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.commit({ put: [lease(i)] })));
    t.deepEqual(store.stats(), { commits: 1, leasesWritten: 100, leasesRemoved: 0, lastBatchSize: 100 });
    t.is(store.loadAll().length, 100);
    await store.close();
  });

  test(`${backend.name}: a group is cut at maxBatch`, async (t) => {
    const store = backend.open(t, 10);
    await Promise.all(Array.from({ length: 25 }, (_, i) => store.commit({ put: [lease(i)] })));
    const stats = store.stats();
    t.is(stats.commits, 3);
    t.is(stats.lastBatchSize, 5);
    t.is(store.loadAll().length, 25);
    await store.close();
  });

  test(`${backend.name}: later changes to the same ip in a group win`, async (t) => {
    const store = backend.open(t);
    const first = store.commit({ put: [lease(7, { state: 'bound' })] });
    const second = store.commit({ put: [lease(7, { state: 'released', hostname: 'gone' })] });
    const third = store.commit({ remove: [lease(8).ip], put: [lease(8)] });
    const fourth = store.commit({ put: [lease(9)] });
    const fifth = store.commit({ remove: [lease(9).ip] });
    await Promise.all([first, second, third, fourth, fifth]);
    t.is(store.stats().commits, 1);
    // Within one change puts apply before removes, so lease 8 is gone too.
    t.deepEqual(store.loadAll(), [lease(7, { state: 'released', hostname: 'gone' })]);
    await store.close();
  });

  test(`${backend.name}: remove forgets leases`, async (t) => {
    const store = backend.open(t);
    await store.commit({ put: [lease(1), lease(2), lease(3)] });
    await store.commit({ remove: [lease(1).ip, lease(3).ip, '198.18.9.9'] });
    t.deepEqual(store.loadAll(), [lease(2)]);
    t.is(store.stats().leasesRemoved, 3);
    await store.close();
  });

  test(`${backend.name}: a lease mutated after commit() is stored as it was at commit()`, async (t) => {
    const store = backend.open(t);
    const l = lease(1);
    const done = store.commit({ put: [l] });
    l.state = 'expired';
    await done;
    t.is(store.loadAll()[0].state, 'bound');
    await store.close();
  });

  test(`${backend.name}: close writes pending commits, later commits are refused`, async (t) => {
    const store = backend.open(t);
    const pending = store.commit({ put: [lease(1)] });
    await store.close();
    await pending;
    t.is(store.stats().leasesWritten, 1);
    const err = await t.throwsAsync(store.commit({ put: [lease(2)] }), { instanceOf: StoreError });
    t.is(err?.code, 'E_STORE');
    t.regex(err?.message ?? '', /commit after close/);
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
