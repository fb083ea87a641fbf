import test from 'ava';
import fc from 'fast-check';
import { SearchableBitset } from '../../lib/core/searchable-bitset.ts';

/** The answer a linear scan gives: the reference the bitset must match. */
function scanNext(members: Set<number>, size: number, from: number): number {
  for (let i = Math.max(0, from); i < size; i++) if (members.has(i)) return i;
  return -1;
}

test('an empty set has no members; a filled one has all, and nothing past its size', (t) => {
  const s = new SearchableBitset(70);
  t.is(s.count, 0);
  t.is(s.nextAtOrAfter(0), -1);
  t.is(s.nextCyclic(5), -1);
  s.fill();
  t.is(s.count, 70);
  t.is(s.nextAtOrAfter(69), 69);
  t.is(s.nextAtOrAfter(70), -1);
  t.false(s.has(70));
});

test('nextCyclic wraps around to the lowest member', (t) => {
  const s = new SearchableBitset(100_000);
  s.add(3);
  s.add(99_000);
  t.is(s.nextCyclic(4), 99_000);
  t.is(s.nextCyclic(99_001), 3);
  t.true(s.delete(3));
  t.false(s.delete(3), 'deleting twice reports it was not there');
  t.is(s.nextCyclic(99_001), 99_000);
  t.is(s.count, 1);
});

test('out-of-range indices and sizes are refused', (t) => {
  t.throws(() => new SearchableBitset(-1), { instanceOf: RangeError });
  const s = new SearchableBitset(10);
  t.throws(() => s.add(10), { instanceOf: RangeError });
  t.throws(() => s.delete(-1), { instanceOf: RangeError });
});

test('any sequence of adds and deletes answers next-member queries as a scan does', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40_000 }),
      fc.boolean(),
      fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 300 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (size, startFull, ops, queries) => {
        const s = new SearchableBitset(size);
        const ref = new Set<number>();
        if (startFull) {
          s.fill();
          for (let i = 0; i < size; i++) ref.add(i);
        }
        for (const [add, raw] of ops) {
          const i = raw % size;
          if (add) t.is(s.add(i), !ref.has(i));
          else t.is(s.delete(i), ref.has(i));
          if (add) ref.add(i);
          else ref.delete(i);
        }
        t.is(s.count, ref.size);
        for (const raw of queries) {
          const from = raw % (size + 2);
          t.is(s.nextAtOrAfter(from), scanNext(ref, size, from));
          const cyclic = scanNext(ref, size, from);
          t.is(s.nextCyclic(from), cyclic >= 0 ? cyclic : scanNext(ref, size, 0));
        }
      },
    ),
    { numRuns: 200 },
  );
});
