import test from 'ava';
import { KeyedTokenBuckets, TokenBucket } from '../../lib/core/token-bucket.ts';
import { RequestRateLimits } from '../../server/dhcp4/request-rate-limits.ts';

test('a bucket admits its burst at once, then its rate', (t) => {
  const b = new TokenBucket({ perSecond: 10, burst: 3 }, 0);
  t.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  t.false(b.take(99), 'not yet one token back (100 ms at 10/s)');
  t.true(b.take(100));
  t.false(b.take(100));
  // After a long quiet spell it holds no more than its burst.
  t.deepEqual([b.take(60_000), b.take(60_000), b.take(60_000), b.take(60_000)], [true, true, true, false]);
});

test('a clock stepping back neither refills nor drains the bucket', (t) => {
  const b = new TokenBucket({ perSecond: 1, burst: 1 }, 10_000);
  t.true(b.take(10_000));
  t.false(b.take(5_000));
  t.true(b.take(11_000));
});

test('perSecond 0 is off: everything is admitted', (t) => {
  const b = new TokenBucket({ perSecond: 0, burst: 1 }, 0);
  t.true([...Array(1000).keys()].every(() => b.take(0)));
});

test('bad limits are refused', (t) => {
  t.throws(() => new TokenBucket({ perSecond: -1, burst: 1 }, 0), { instanceOf: RangeError });
  t.throws(() => new TokenBucket({ perSecond: 1, burst: 0 }, 0), { instanceOf: RangeError });
  t.throws(() => new KeyedTokenBuckets({ perSecond: 1, burst: 1 }, 0), { instanceOf: RangeError });
});

test('keyed buckets are independent, and bounded: the key used longest ago is forgotten first', (t) => {
  const k = new KeyedTokenBuckets({ perSecond: 1, burst: 1 }, 2);
  t.true(k.take('a', 0));
  t.false(k.take('a', 0), 'a is over its limit');
  t.true(k.take('b', 0), 'b has its own bucket');
  t.false(k.take('a', 0), 'a used again: now b is the oldest');
  t.true(k.take('c', 0), 'a third key: b is forgotten');
  t.is(k.size, 2);
  t.false(k.take('a', 0), 'a was kept, still empty');
  t.true(k.take('b', 0), 'b starts over with a full bucket');
});

test('a random-MAC flood over the link limit is refused by the link; one noisy client by its own limit', (t) => {
  const limits = new RequestRateLimits(
    { global: { perSecond: 0, burst: 1 }, perInterface: { perSecond: 100, burst: 5 }, perRelay: { perSecond: 100, burst: 2 }, perClient: { perSecond: 1, burst: 2 } },
    0,
  );
  const direct = (mac: string) => ({ interfaceName: 'eth0', giaddr: '0.0.0.0', hwAddress: mac });
  const scopes = [1, 2, 3, 4, 5, 6].map((i) => limits.refusedBy(direct(`02:00:00:00:00:0${i}`), 0));
  t.deepEqual(scopes, [undefined, undefined, undefined, undefined, undefined, 'interface']);
  t.is(limits.refusedBy({ interfaceName: 'eth1', giaddr: '0.0.0.0', hwAddress: '02:00:00:00:00:01' }, 0), undefined, 'another interface has its own bucket');
  t.is(limits.refusedBy({ interfaceName: 'eth1', giaddr: '0.0.0.0', hwAddress: '02:00:00:00:00:01' }, 0), 'client', 'the client’s burst of 2 is spent');
  const relay = (giaddr: string) => ({ interfaceName: 'eth0', giaddr, hwAddress: `02:00:00:00:01:0${giaddr.slice(-1)}` });
  t.is(limits.refusedBy(relay('198.18.5.1'), 0), undefined);
  t.is(limits.refusedBy(relay('198.18.5.2'), 0), undefined);
  t.is(limits.refusedBy({ interfaceName: 'eth0', giaddr: '198.18.5.1', hwAddress: '02:00:00:00:02:01' }, 0), undefined);
  t.is(limits.refusedBy({ interfaceName: 'eth0', giaddr: '198.18.5.1', hwAddress: '02:00:00:00:02:02' }, 0), 'relay', 'relay 198.18.5.1 spent its burst of 2');
  t.true(limits.admitDatagram(0), 'global limit off');
});

test('the global limit is checked before decoding and counts every datagram', (t) => {
  const limits = new RequestRateLimits(
    { global: { perSecond: 1000, burst: 3 }, perInterface: { perSecond: 0, burst: 1 }, perRelay: { perSecond: 0, burst: 1 }, perClient: { perSecond: 0, burst: 1 } },
    0,
  );
  t.deepEqual([0, 0, 0, 0].map((now) => limits.admitDatagram(now)), [true, true, true, false]);
  t.true(limits.admitDatagram(1), '1 ms later one token is back');
});

test('a bucket is full again once its burst has flowed back in', (t) => {
  const b = new TokenBucket({ perSecond: 10, burst: 2 }, 0);
  t.true(b.isFullAt(0));
  b.take(0);
  b.take(0);
  t.false(b.isFullAt(100), 'one token back after 100 ms, burst is 2');
  t.true(b.isFullAt(200));
  t.false(b.isFullAt(-5), 'a clock stepping back adds nothing');
});

test('keyed buckets that have refilled are forgotten, so a flood of made-up keys leaves no memory behind', (t) => {
  const k = new KeyedTokenBuckets({ perSecond: 10, burst: 1 }, 100_000);
  for (let i = 0; i < 5000; i++) t.true(k.take(`flood-${i}`, 0));
  t.is(k.size, 5000);
  t.false(k.take('flood-4999', 50), 'still empty 50 ms later');
  // 100 ms later every flood bucket is full again: the next take forgets them.
  t.true(k.take('real', 1000));
  t.is(k.size, 1);
  // A key whose bucket is not yet full is kept, with its state.
  t.false(k.take('real', 1050));
  t.true(k.take('other', 1050));
  t.is(k.size, 2);
  t.false(k.take('real', 1060), 'real was kept and is still empty');
});
