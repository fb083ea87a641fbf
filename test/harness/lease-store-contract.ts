import type { ExecutionContext, TestFn } from 'ava';
import type { DnsChange } from '../../server/leases/dns-change.ts';
import { clientKeyFor, type Lease, type LeaseState } from '../../server/leases/lease.ts';
import type { CommitOutcome, ConditionalLeaseChange, ConditionalLeaseStore, LeaseExpectation, LeaseStoreStats } from '../../server/leases/lease-store.ts';
import { StoreError } from '../../server/leases/store-error.ts';

/**
 * The lease-store contract, one suite for every backend: memory and SQLite
 * in the unit tests (test/unit/lease-store.test.ts), PostgreSQL against a
 * real server (test/integration/pg-lease-store.test.ts). The same inputs
 * must give the same `loadAll`/`loadDnsQueue`, the same outcomes of
 * conditional writes (so the TypeScript rule and its SQL twin cannot drift
 * apart), the same grouping, and a group that fails fails whole.
 */

export type ContractStore = ConditionalLeaseStore & { stats(): LeaseStoreStats };

export interface ContractBackend {
  name: string;
  /** A new, empty store. */
  open(t: ExecutionContext, opts: { maxBatch?: number }): Promise<ContractStore>;
  /** The data of a closed store, in a new store object; absent when the backend forgets on close (memory). */
  reopen?(t: ExecutionContext, closed: ContractStore): Promise<ContractStore>;
  /** Whether the store refuses a row its schema forbids (a state outside the four); the memory store keeps anything. */
  checksRows: boolean;
}

// Relative to now, so the database's clock (PostgreSQL judges by its own) and ours agree on what is over.
const HOUR = 3_600_000;
const NOW = Date.now();
const PAST = NOW - HOUR;
const FUTURE = NOW + HOUR;

export function lease(i: number, overrides: Partial<Lease> = {}): Lease {
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

/** Address `ip` (1, 2…) held by client `client` ('A', 'B'…). */
function at(ip: number, client: string, state: LeaseState, expiresAt: number, overrides: Partial<Lease> = {}): Lease {
  const hwAddress = `02:00:00:00:0a:${client.charCodeAt(0).toString(16)}`;
  return {
    ip: `198.18.1.${ip}`,
    clientKey: clientKeyFor(undefined, hwAddress),
    hwAddress,
    subnetId: 'lab',
    state,
    grantedAt: NOW - 2 * HOUR,
    expiresAt,
    ...overrides,
  };
}

const keyOf = (client: string) => at(0, client, 'bound', 0).clientKey;
const byIp = (a: Lease, b: Lease) => a.ip.localeCompare(b.ip, 'en', { numeric: true });
const sorted = (leases: Lease[]) => [...leases].sort(byIp);

function dns(seq: number, action: 'add' | 'remove', fqdn = `h${seq}.lab.leasehold.test`): DnsChange {
  return { seq, action, fqdn, ipv4: lease(seq).ip, dhcid: 'AAEBxx==', ttl: 1200, createdAt: 1_700_000_000_000 };
}

const put = (lease: Lease, expect: LeaseExpectation) => ({ lease, expect });
const bind = { kind: 'bind' } as const;
const held = (client: string, state?: LeaseState): LeaseExpectation => ({ kind: 'held', clientKey: keyOf(client), ...(state && { state }) });
const lapsed = (state: LeaseState, expiresAt: number): LeaseExpectation => ({ kind: 'lapsed', state, expiresAt });

interface ExpectationCase {
  name: string;
  seed: Lease[];
  change: ConditionalLeaseChange;
  /** Committed, or lost with these rows (as `current`, by address). */
  lost?: Lease[];
}

/** The table both definitions of the rule (lease-expectation.ts, lh_commit_group) answer alike. */
export const EXPECTATION_CASES: ExpectationCase[] = [
  { name: 'bind: a free address', seed: [], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] } },
  { name: "bind: renewing the client's own binding", seed: [at(1, 'A', 'bound', FUTURE)], change: { put: [put(at(1, 'A', 'bound', FUTURE + 1000), bind)] } },
  { name: "bind: another client's live binding", seed: [at(1, 'B', 'bound', FUTURE)], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] }, lost: [at(1, 'B', 'bound', FUTURE)] },
  { name: "bind: another client's binding, over", seed: [at(1, 'B', 'bound', PAST)], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] } },
  { name: 'bind: released by another client (before its expiry)', seed: [at(1, 'B', 'released', FUTURE)], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] } },
  { name: 'bind: expired', seed: [at(1, 'B', 'expired', PAST)], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] } },
  { name: 'bind: declined by the client itself, in quarantine', seed: [at(1, 'A', 'declined', FUTURE)], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] }, lost: [at(1, 'A', 'declined', FUTURE)] },
  { name: 'bind: declined, quarantine over', seed: [at(1, 'B', 'declined', PAST)], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] } },
  { name: 'bind: the client is bound at another address', seed: [at(2, 'A', 'bound', FUTURE)], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] }, lost: [at(2, 'A', 'bound', FUTURE)] },
  {
    name: 'bind: the client moves, releasing its old address in the same change',
    seed: [at(2, 'A', 'bound', FUTURE)],
    change: { put: [put(at(1, 'A', 'bound', FUTURE), bind), put(at(2, 'A', 'released', NOW), held('A', 'bound'))] },
  },
  { name: 'bind: bound elsewhere in another subnet', seed: [at(2, 'A', 'bound', FUTURE, { subnetId: 'other' })], change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] } },
  {
    name: 'bind: lost on both counts reports both rows',
    seed: [at(1, 'B', 'bound', FUTURE), at(2, 'A', 'bound', FUTURE)],
    change: { put: [put(at(1, 'A', 'bound', FUTURE), bind)] },
    lost: [at(1, 'B', 'bound', FUTURE), at(2, 'A', 'bound', FUTURE)],
  },
  { name: 'held: the holder releases', seed: [at(1, 'A', 'bound', FUTURE)], change: { put: [put(at(1, 'A', 'released', NOW), held('A', 'bound'))] } },
  { name: 'held: not the holder', seed: [at(1, 'B', 'bound', FUTURE)], change: { put: [put(at(1, 'A', 'released', NOW), held('A', 'bound'))] }, lost: [at(1, 'B', 'bound', FUTURE)] },
  { name: 'held: no row at the address', seed: [], change: { put: [put(at(1, 'A', 'declined', FUTURE), held('A'))] }, lost: [] },
  { name: 'held: the state moved on', seed: [at(1, 'A', 'released', NOW)], change: { put: [put(at(1, 'A', 'released', NOW), held('A', 'bound'))] }, lost: [at(1, 'A', 'released', NOW)] },
  { name: 'held without a state: a decline of a record the client holds', seed: [at(1, 'A', 'expired', PAST)], change: { put: [put(at(1, 'A', 'declined', FUTURE), held('A'))] } },
  { name: 'lapsed: unchanged and over', seed: [at(1, 'A', 'bound', PAST)], change: { put: [put(at(1, 'A', 'expired', PAST), lapsed('bound', PAST))] } },
  { name: 'lapsed: not over yet', seed: [at(1, 'A', 'bound', FUTURE)], change: { put: [put(at(1, 'A', 'expired', FUTURE), lapsed('bound', FUTURE))] }, lost: [at(1, 'A', 'bound', FUTURE)] },
  { name: 'lapsed: renewed since it was seen', seed: [at(1, 'A', 'bound', PAST + 5)], change: { put: [put(at(1, 'A', 'expired', PAST), lapsed('bound', PAST))] }, lost: [at(1, 'A', 'bound', PAST + 5)] },
  { name: 'lapsed: the state changed', seed: [at(1, 'A', 'released', PAST)], change: { put: [put(at(1, 'A', 'expired', PAST), lapsed('bound', PAST))] }, lost: [at(1, 'A', 'released', PAST)] },
  { name: 'lapsed: the row is gone', seed: [], change: { put: [put(at(1, 'A', 'expired', PAST), lapsed('bound', PAST))] }, lost: [] },
  { name: 'any: overwrites whatever is there', seed: [at(1, 'B', 'bound', FUTURE)], change: { put: [put(at(1, 'A', 'bound', FUTURE), { kind: 'any' })] } },
];

/** The outcome with `current` in address order, for comparison. */
function normalised(outcome: CommitOutcome): CommitOutcome {
  return outcome.kind === 'lost' ? { kind: 'lost', current: sorted(outcome.current) } : outcome;
}

/** Rows after a change that committed: the seed with the change's puts over it. */
function applied(seed: Lease[], change: ConditionalLeaseChange): Lease[] {
  const rows = new Map(seed.map((l) => [l.ip, l]));
  for (const w of change.put ?? []) rows.set(w.lease.ip, w.lease);
  return sorted([...rows.values()]);
}

export function leaseStoreContract(test: TestFn, backend: ContractBackend): void {
  const name = backend.name;
  const open = (t: ExecutionContext, maxBatch?: number) => backend.open(t, { maxBatch });

  /** What the store says now, and — where it can reopen — what a new store on the same data says. */
  async function contents(t: ExecutionContext, store: ContractStore): Promise<{ leases: Lease[]; dnsQueue: DnsChange[] }> {
    const now = { leases: sorted(store.loadAll()), dnsQueue: store.loadDnsQueue() };
    if (!backend.reopen) {
      await store.close();
      return now;
    }
    await store.close();
    const again = await backend.reopen(t, store);
    const reread = { leases: sorted(again.loadAll()), dnsQueue: again.loadDnsQueue() };
    await again.close();
    t.deepEqual(reread, now, 'what the store kept equals what it said');
    return now;
  }

  test(`${name}: leases round-trip, optional fields included or absent`, async (t) => {
    const store = await open(t);
    const leases = [
      lease(1),
      lease(2, { clientId: '0102000000002a', clientKey: clientKeyFor('0102000000002a', '02:00:00:00:00:02'), hostname: 'web-1' }),
      lease(3, { state: 'declined' }),
      lease(4, { fqdn: 'web-4.lab.leasehold.test', ipv6: 'fd00:198:18::ff:fe00:4' }),
    ];
    await store.commit({ put: leases });
    t.deepEqual(store.loadAll().sort(byIp), leases);
    t.deepEqual((await contents(t, store)).leases, leases);
  });

  test(`${name}: DNS changes are queued with their lease and dequeued in sequence order`, async (t) => {
    const store = await open(t);
    await Promise.all([
      store.commit({ put: [lease(1)], enqueue: [dns(2, 'add')] }),
      store.commit({ put: [lease(2)], enqueue: [dns(1, 'add'), dns(3, 'remove')] }),
    ]);
    t.deepEqual(store.loadDnsQueue().map((c) => c.seq), [1, 2, 3]);
    t.deepEqual(store.loadDnsQueue()[2], dns(3, 'remove'));
    await store.commit({ dequeue: [1, 3] });
    t.deepEqual(store.loadDnsQueue().map((c) => c.seq), [2]);
    t.deepEqual((await contents(t, store)).dnsQueue, [dns(2, 'add')]);
  });

  test(`${name}: reservations are kept by subnet and address, replaced and withdrawn in commit order`, async (t) => {
    const store = await open(t);
    const printer = { subnetId: 'lab', ip: '198.18.0.20', hwAddress: '02:42:c6:12:00:0b', hostname: 'printer' };
    const byId = { subnetId: 'lab', ip: '198.18.0.3', clientId: '01020000000003' };
    const other = { subnetId: 'edge', ip: '198.19.0.7', hwAddress: '02:00:00:00:00:07' };
    await Promise.all([store.commit({ reserve: [printer, other] }), store.commit({ reserve: [byId], unreserve: [{ subnetId: 'edge', ip: '198.19.0.7' }] })]);
    t.deepEqual(store.loadReservations(), [byId, printer], 'ordered by subnet, then numerically by address');
    await store.commit({ reserve: [{ ...printer, hostname: 'laser' }] });
    t.deepEqual(store.loadReservations()[1], { ...printer, hostname: 'laser' });
    if (backend.reopen) {
      await store.close();
      const again = await backend.reopen(t, store);
      t.deepEqual(again.loadReservations(), [byId, { ...printer, hostname: 'laser' }], 'kept across reopen');
      await again.close();
    } else {
      await store.close();
    }
  });

  test(`${name}: concurrent commits share one transaction`, async (t) => {
    const store = await open(t);
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.commit({ put: [lease(i)] })));
    t.deepEqual(store.stats(), { commits: 1, leasesWritten: 100, leasesRemoved: 0, lastBatchSize: 100 });
    t.is(store.loadAll().length, 100);
    t.is((await contents(t, store)).leases.length, 100);
  });

  test(`${name}: a group is cut at maxBatch`, async (t) => {
    const store = await open(t, 10);
    await Promise.all(Array.from({ length: 25 }, (_, i) => store.commit({ put: [lease(i)] })));
    const stats = store.stats();
    t.is(stats.commits, 3);
    t.is(stats.lastBatchSize, 5);
    t.is((await contents(t, store)).leases.length, 25);
  });

  test(`${name}: later changes to the same ip in a group win`, async (t) => {
    const store = await open(t);
    const first = store.commit({ put: [lease(7, { state: 'bound' })] });
    const second = store.commit({ put: [lease(7, { state: 'released', hostname: 'gone' })] });
    const third = store.commit({ remove: [lease(8).ip], put: [lease(8)] });
    const fourth = store.commit({ put: [lease(9)] });
    const fifth = store.commit({ remove: [lease(9).ip] });
    await Promise.all([first, second, third, fourth, fifth]);
    t.is(store.stats().commits, 1);
    // Within one change puts apply before removes, so lease 8 is gone too.
    t.deepEqual(store.loadAll(), [lease(7, { state: 'released', hostname: 'gone' })]);
    t.deepEqual((await contents(t, store)).leases, [lease(7, { state: 'released', hostname: 'gone' })]);
  });

  test(`${name}: within one change the last put of an address wins`, async (t) => {
    const store = await open(t);
    await store.commit({ put: [lease(1, { state: 'released' }), lease(1, { hostname: 'last' })] });
    t.deepEqual((await contents(t, store)).leases, [lease(1, { hostname: 'last' })]);
  });

  test(`${name}: remove forgets leases`, async (t) => {
    const store = await open(t);
    await store.commit({ put: [lease(1), lease(2), lease(3)] });
    await store.commit({ remove: [lease(1).ip, lease(3).ip, '198.18.9.9'] });
    t.deepEqual(store.loadAll(), [lease(2)]);
    t.is(store.stats().leasesRemoved, 3);
    t.deepEqual((await contents(t, store)).leases, [lease(2)]);
  });

  test(`${name}: a lease mutated after commit() is stored as it was at commit()`, async (t) => {
    const store = await open(t);
    const l = lease(1);
    const done = store.commit({ put: [l] });
    l.state = 'expired';
    await done;
    t.is(store.loadAll()[0].state, 'bound');
    t.is((await contents(t, store)).leases[0].state, 'bound');
  });

  test(`${name}: close writes pending commits, later commits are refused`, async (t) => {
    const store = await open(t);
    const pending = store.commit({ put: [lease(1)] });
    await store.close();
    await pending;
    t.is(store.stats().leasesWritten, 1);
    const err = await t.throwsAsync(store.commit({ put: [lease(2)] }), { instanceOf: StoreError });
    t.is(err?.code, 'E_STORE');
    t.regex(err?.message ?? '', /commit after close/);
    if (backend.reopen) {
      const again = await backend.reopen(t, store);
      t.deepEqual(again.loadAll(), [lease(1)]);
      await again.close();
    }
  });

  if (backend.checksRows) {
    test(`${name}: a failing group rejects every commit in it and writes none of them`, async (t) => {
      const store = await open(t);
      const results = await Promise.allSettled([
        store.commit({ put: [lease(1)], enqueue: [dns(1, 'add')] }),
        store.commit({ put: [lease(2, { state: 'bogus' as Lease['state'] })] }),
        store.commitConditional({ put: [put(lease(3), bind)] }),
      ]);
      for (const r of results) {
        t.is(r.status, 'rejected');
        const reason = (r as PromiseRejectedResult).reason as StoreError;
        t.true(reason instanceof StoreError);
        t.is(reason.code, 'E_STORE');
        t.regex(reason.message, /^lease store .+: commit failed: /);
        t.false(reason.message.includes('\n'), 'one line');
        t.truthy(reason.cause);
      }
      t.deepEqual(store.loadAll(), []);
      t.deepEqual(store.loadDnsQueue(), []);
      await store.commit({ put: [lease(4)] });
      t.deepEqual((await contents(t, store)).leases, [lease(4)]);
    });
  }

  if (backend.reopen) {
    test(`${name}: leases and the DNS queue survive close and reopen`, async (t) => {
      const store = await open(t);
      await store.commit({ put: [lease(1), lease(2, { hostname: 'a', clientId: '01ff' })], enqueue: [dns(4, 'add'), dns(9, 'remove')] });
      await store.commit({ remove: [lease(1).ip], dequeue: [4] });
      const kept = await contents(t, store);
      t.deepEqual(kept, { leases: [lease(2, { hostname: 'a', clientId: '01ff' })], dnsQueue: [dns(9, 'remove')] });
    });
  }

  for (const c of EXPECTATION_CASES) {
    test(`${name}: conditional write, ${c.name}`, async (t) => {
      const store = await open(t);
      if (c.seed.length > 0) await store.commit({ put: c.seed });
      const outcome = await store.commitConditional({ ...c.change, enqueue: [dns(5, 'add')] });
      if (c.lost) {
        t.deepEqual(normalised(outcome), { kind: 'lost', current: sorted(c.lost) });
        t.deepEqual(await contents(t, store), { leases: sorted(c.seed), dnsQueue: [] }, 'a lost change writes nothing, its DNS rows neither');
      } else {
        t.deepEqual(outcome, { kind: 'committed', enqueued: [{ seq: 5, headOfName: true }] });
        t.deepEqual(await contents(t, store), { leases: applied(c.seed, c.change), dnsQueue: [dns(5, 'add')] });
      }
    });
  }

  test(`${name}: a lost change leaves the rest of its group alone; a later change sees an earlier one's writes`, async (t) => {
    const store = await open(t);
    const outcomes = await Promise.all([
      store.commitConditional({ put: [put(at(1, 'A', 'bound', FUTURE), bind)] }),
      store.commitConditional({ put: [put(at(1, 'B', 'bound', FUTURE), bind)] }),
      store.commit({ put: [at(2, 'C', 'bound', FUTURE)] }),
      store.commitConditional({ put: [put(at(2, 'C', 'released', NOW), held('C', 'bound'))] }),
    ]);
    t.is(store.stats().commits, 1);
    t.deepEqual(outcomes.map((o) => o && normalised(o)), [
      { kind: 'committed', enqueued: [] },
      { kind: 'lost', current: [at(1, 'A', 'bound', FUTURE)] },
      undefined,
      { kind: 'committed', enqueued: [] },
    ]);
    t.is(store.stats().leasesWritten, 3, 'the lost change is not counted as written');
    t.deepEqual((await contents(t, store)).leases, [at(1, 'A', 'bound', FUTURE), at(2, 'C', 'released', NOW)]);
  });

  test(`${name}: each queued DNS change says whether it is first in its name's queue`, async (t) => {
    const store = await open(t);
    const fqdn = 'same.lab.leasehold.test';
    const first = await store.commitConditional({ enqueue: [dns(10, 'add', fqdn), dns(11, 'add')] });
    const second = await store.commitConditional({ enqueue: [dns(12, 'remove', fqdn)] });
    t.deepEqual(first, { kind: 'committed', enqueued: [{ seq: 10, headOfName: true }, { seq: 11, headOfName: true }] });
    t.deepEqual(second, { kind: 'committed', enqueued: [{ seq: 12, headOfName: false }] });
    await store.commit({ dequeue: [10] });
    const third = await store.commitConditional({ enqueue: [dns(13, 'add', fqdn)] });
    t.deepEqual(third, { kind: 'committed', enqueued: [{ seq: 13, headOfName: false }] }, '12 is still ahead of it');
    t.deepEqual((await contents(t, store)).dnsQueue.map((c) => c.seq), [11, 12, 13]);
  });
}
