import test from 'ava';
import { coalesceChanges } from '../../server/ddns/change-coalescing.ts';
import type { DnsChange } from '../../server/leases/dns-change.ts';
import { testDnsChange } from './helpers/ddns-fixtures.ts';

const NAME = 'x.lab.leasehold.test';
const OTHER_CLIENT = 'AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=';

let seq = 0;
const add = (ipv4 = '198.18.1.10', over: Partial<DnsChange> = {}): DnsChange => ({ ...testDnsChange(++seq, NAME, 'add', ipv4), ...over });
const remove = (ipv4 = '198.18.1.10', over: Partial<DnsChange> = {}): DnsChange => ({ ...testDnsChange(++seq, NAME, 'remove', ipv4), ttl: 0, ...over });

/** Each work item as [sent seq or '-', seqs it settles]. */
const shape = (queue: DnsChange[]) => coalesceChanges(queue).map((w) => [w.change?.seq ?? '-', w.seqs]);

test('one change is one item', (t) => {
  const a = add();
  t.deepEqual(shape([a]), [[a.seq, [a.seq]]]);
  t.deepEqual(coalesceChanges([]), []);
});

test('an add then the removal of exactly its records sends nothing, and settles both', (t) => {
  const a = add();
  const r = remove();
  t.deepEqual(shape([a, r]), [['-', [a.seq, r.seq]]]);
});

test('an add then a removal of other records is sent as it is: another address, another client', (t) => {
  const a = add();
  const other = remove('198.18.1.11');
  t.deepEqual(shape([a, other]), [[a.seq, [a.seq]], [other.seq, [other.seq]]]);
  const b = add();
  const foreign = remove('198.18.1.10', { dhcid: OTHER_CLIENT });
  t.deepEqual(shape([b, foreign]), [[b.seq, [b.seq]], [foreign.seq, [foreign.seq]]]);
  const withV6 = add('198.18.1.10', { ipv6: 'fd00:198:18::10' });
  const withoutV6 = remove('198.18.1.10');
  t.is(coalesceChanges([withV6, withoutV6]).length, 2, 'the AAAA differs');
});

test('two adds of one client send the last; of two clients, both (the first may win the name)', (t) => {
  const first = add('198.18.1.10');
  const second = add('198.18.1.20');
  t.deepEqual(shape([first, second]), [[second.seq, [first.seq, second.seq]]]);
  const mine = add();
  const theirs = add('198.18.1.30', { dhcid: OTHER_CLIENT });
  t.deepEqual(shape([mine, theirs]), [[mine.seq, [mine.seq]], [theirs.seq, [theirs.seq]]]);
});

test('a removal then an add is sent as it is (the removal may withdraw what the add keeps)', (t) => {
  const r = remove();
  const a = add();
  t.deepEqual(shape([r, a]), [[r.seq, [r.seq]], [a.seq, [a.seq]]]);
});

test('a repeated removal of the same records is sent once', (t) => {
  const r1 = remove();
  const r2 = remove();
  t.deepEqual(shape([r1, r2]), [[r2.seq, [r1.seq, r2.seq]]]);
});

test('after a pair that cancels out, the next change is sent for all three; queue order is kept throughout', (t) => {
  const r0 = remove('198.18.1.9');
  const a = add();
  const r = remove();
  const again = add('198.18.1.40');
  t.deepEqual(shape([r0, a, r, again]), [[r0.seq, [r0.seq]], [again.seq, [a.seq, r.seq, again.seq]]]);
  // Every entry is settled by exactly one item, and items cover the queue front to back.
  const queue = [add(), add('198.18.1.11'), remove('198.18.1.11'), remove('198.18.1.12'), add('198.18.1.13', { dhcid: OTHER_CLIENT })];
  t.deepEqual(coalesceChanges(queue).flatMap((w) => w.seqs), queue.map((c) => c.seq));
});
