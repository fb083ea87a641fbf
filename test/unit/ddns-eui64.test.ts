import test from 'ava';
import { eui64InterfaceId, slaacAddress } from '../../server/ddns/eui64.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';

test('RFC 4291 Appendix A: ff:fe in the middle, universal/local bit inverted', (t) => {
  // A universal MAC (U/L bit 0) gets the bit set…
  t.is(eui64InterfaceId('34:56:78:9a:bc:de')?.toString('hex'), '365678fffe9abcde');
  t.is(eui64InterfaceId('00:1b:21:3c:9d:f8')?.toString('hex'), '021b21fffe3c9df8');
  // …and a locally administered one, like the agent's, gets it cleared.
  t.is(eui64InterfaceId('02:42:c6:12:00:0b')?.toString('hex'), '0042c6fffe12000b');
  t.is(eui64InterfaceId('AA-BB-CC-DD-EE-FF')?.toString('hex'), 'a8bbccfffeddeeff');
});

test('only 48-bit MACs have one', (t) => {
  t.is(eui64InterfaceId('02:42:c6:12:00'), undefined);
  t.is(eui64InterfaceId('02:42:c6:12:00:0b:01:02'), undefined);
  t.is(eui64InterfaceId('not a mac'), undefined);
  t.is(slaacAddress('fd00:198:18::/64', '80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:0b:0c'), undefined);
});

test('the SLAAC address in the lab prefix, RFC 5952 text', (t) => {
  t.is(slaacAddress('fd00:198:18::/64', '02:42:c6:12:00:0b'), 'fd00:198:18:0:42:c6ff:fe12:b');
  t.is(slaacAddress('fe80::/64', '00:1b:21:3c:9d:f8'), 'fe80::21b:21ff:fe3c:9df8');
  t.is(slaacAddress('2001:db8:1:2::/64', '36:56:78:9a:bc:de'), '2001:db8:1:2:3456:78ff:fe9a:bcde');
});

test('a prefix that is not a /64 is a programming error', (t) => {
  t.throws(() => slaacAddress('fd00:198:18::/48', '02:42:c6:12:00:0b'), { instanceOf: EncodeError, message: /\/64/ });
  t.throws(() => slaacAddress('fd00:198:18::1/64', '02:42:c6:12:00:0b'), { instanceOf: EncodeError });
});
