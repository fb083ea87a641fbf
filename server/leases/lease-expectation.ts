import { leaseIsReusable, type Lease } from './lease.ts';
import type { ConditionalLeaseChange, LeaseChange, LeaseWrite } from './lease-store.ts';

/**
 * The rule a conditional write is held to (lease-store.ts
 * `LeaseExpectation`), for the stores that check it in TypeScript (memory,
 * SQLite). PostgreSQL checks the same rule in `lh_commit_group`
 * (pg/pg-migrations.ts); the lease-store contract suite runs one table of
 * cases through every store, so the two cannot drift apart.
 */

/** The rows a change is judged against, as they are inside its transaction. */
export interface LeaseRows {
  leaseAt(ip: string): Lease | undefined;
  /** The client's `bound` rows in the subnet. */
  bindingsOf(subnetId: string, clientKey: string): Lease[];
}

/** Does `write`'s expectation hold for the row now at its address (`current`, undefined when there is none)? */
export function expectationHolds(write: LeaseWrite, current: Lease | undefined, now: number): boolean {
  const expect = write.expect;
  switch (expect.kind) {
    case 'any':
      return true;
    case 'bind':
      return (
        current === undefined ||
        (current.clientKey === write.lease.clientKey && current.state !== 'declined') ||
        leaseIsReusable(current, now)
      );
    case 'held':
      return current !== undefined && current.clientKey === expect.clientKey && (expect.state === undefined || current.state === expect.state);
    case 'lapsed':
      return current !== undefined && current.state === expect.state && current.expiresAt === expect.expiresAt && current.expiresAt <= now;
  }
}

export type ChangeVerdict = { ok: true } | { ok: false; current: Lease[] };

/**
 * Whether a whole change may be applied: every put's expectation holds, and
 * a `bind` finds no other binding of its client in the subnet, except one
 * this same change ends (a client moving to a new address releases the old
 * one in the same change). When it may not, the rows at the change's
 * addresses and the blocking bindings, as they are.
 */
export function judgeChange(change: ConditionalLeaseChange, rows: LeaseRows, now: number): ChangeVerdict {
  const puts = change.put ?? [];
  const leaving = new Set([...puts.filter((w) => w.lease.state !== 'bound').map((w) => w.lease.ip), ...(change.remove ?? [])]);
  let ok = true;
  const blocking: Lease[] = [];
  for (const write of puts) {
    if (!expectationHolds(write, rows.leaseAt(write.lease.ip), now)) ok = false;
    if (write.expect.kind === 'bind') {
      const others = rows
        .bindingsOf(write.lease.subnetId, write.lease.clientKey)
        .filter((other) => other.ip !== write.lease.ip && !leaving.has(other.ip));
      if (others.length > 0) {
        ok = false;
        blocking.push(...others);
      }
    }
  }
  if (ok) return { ok: true };
  const current = new Map<string, Lease>();
  for (const write of puts) {
    const row = rows.leaseAt(write.lease.ip);
    if (row) current.set(row.ip, row);
  }
  for (const row of blocking) current.set(row.ip, row);
  return { ok: false, current: [...current.values()].map((lease) => ({ ...lease })) };
}

/** `commit`'s change as a conditional one: every put unconditional. */
export function unconditional(change: LeaseChange): ConditionalLeaseChange {
  return { ...change, put: change.put?.map((lease) => ({ lease, expect: { kind: 'any' } })) };
}
