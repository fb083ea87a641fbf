import test from 'ava';
import { findZone, reverseNameV4, reverseNameV6 } from '../../server/ddns/reverse-names.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';

test('in-addr.arpa: octets last first (RFC 1035 §3.5)', (t) => {
  t.is(reverseNameV4('198.18.1.5'), '5.1.18.198.in-addr.arpa');
  t.is(reverseNameV4('10.0.0.255'), '255.0.0.10.in-addr.arpa');
  t.throws(() => reverseNameV4('198.18.1'), { instanceOf: EncodeError });
});

test('ip6.arpa: nibbles last first (RFC 3596 §2.5 example)', (t) => {
  t.is(
    reverseNameV6('4321:0:1:2:3:4:567:89ab'),
    'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa',
  );
  t.is(
    reverseNameV6('fd00:198:18:0:42:c6ff:fe12:b'),
    'b.0.0.0.2.1.e.f.f.f.6.c.2.4.0.0.0.0.0.0.8.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa',
  );
  t.throws(() => reverseNameV6('198.18.1.5'), { instanceOf: EncodeError });
});

const zones = [
  { name: 'leasehold.test' },
  { name: 'web.leasehold.test' },
  { name: '18.198.in-addr.arpa' },
  { name: '0.0.0.0.8.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa' },
];

test('the longest zone that contains the name wins', (t) => {
  t.is(findZone('h.lab.leasehold.test', zones)?.name, 'leasehold.test');
  t.is(findZone('h.web.leasehold.test', zones)?.name, 'web.leasehold.test');
  t.is(findZone('web.leasehold.test', zones)?.name, 'web.leasehold.test');
  t.is(findZone('leasehold.test', zones)?.name, 'leasehold.test');
  t.is(findZone(reverseNameV4('198.18.1.5'), zones)?.name, '18.198.in-addr.arpa');
  t.is(findZone(reverseNameV6('fd00:198:18:0:42:c6ff:fe12:b'), zones)?.name, '0.0.0.0.8.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa');
  // Order does not matter.
  t.is(findZone('h.web.leasehold.test', [...zones].reverse())?.name, 'web.leasehold.test');
});

test('only whole labels match, case-insensitively', (t) => {
  t.is(findZone('h.xleasehold.test', zones), undefined);
  t.is(findZone('h.lab.leasehold.test.example', zones), undefined);
  t.is(findZone(reverseNameV4('198.19.0.1'), zones), undefined);
  t.is(findZone(reverseNameV4('10.18.198.1'), zones), undefined);
  t.is(findZone('H.Lab.LeaseHold.TEST', zones)?.name, 'leasehold.test');
  t.is(findZone('h.lab.leasehold.test', [{ name: 'LeaseHold.Test' }])?.name, 'LeaseHold.Test');
  t.is(findZone('h.lab.leasehold.test', []), undefined);
});
