import test from 'ava';
import { ddnsTtl } from '../../server/ddns/ddns-ttl.ts';

const bounds = { floor: 60, cap: 86400 };

test('a third of the lease (RFC 4702 §5), rounded down', (t) => {
  t.is(ddnsTtl(3600, bounds), 1200);
  t.is(ddnsTtl(3601, bounds), 1200);
  t.is(ddnsTtl(3602, bounds), 1200);
  t.is(ddnsTtl(3603, bounds), 1201);
});

test('kept within floor and cap', (t) => {
  t.is(ddnsTtl(60, bounds), 60);
  t.is(ddnsTtl(180, bounds), 60);
  t.is(ddnsTtl(183, bounds), 61);
  t.is(ddnsTtl(7 * 86400, bounds), 86400);
  t.is(ddnsTtl(0xfffffffe, bounds), 86400);
  t.is(ddnsTtl(3600, { floor: 1200, cap: 1200 }), 1200);
  t.is(ddnsTtl(10, { floor: 0, cap: 10 }), 3);
});
