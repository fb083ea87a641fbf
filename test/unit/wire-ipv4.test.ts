import test from 'ava';
import fc from 'fast-check';
import { EncodeError } from '../../lib/wire/encode-error.ts';
import { bufferToIpv4, intToIp, ipToInt, ipv4ToBuffer, isIpv4 } from '../../lib/wire/ipv4.ts';

test('isIpv4 accepts dotted quads only', (t) => {
  for (const ok of ['0.0.0.0', '255.255.255.255', '198.18.0.1', '10.0.0.10']) t.true(isIpv4(ok), ok);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.4.', '.1.2.3', '01.2.3.4', 'a.b.c.d', ' 1.2.3.4', '1.2.3.-4', '1.2.3.1000']) {
    t.false(isIpv4(bad), bad);
  }
});

test('ipToInt and intToIp are inverse and unsigned', (t) => {
  t.is(ipToInt('255.255.255.255'), 0xffffffff);
  t.is(ipToInt('198.18.200.1'), 0xc612c801);
  t.is(intToIp(0xc612c801), '198.18.200.1');
  t.is(intToIp(0), '0.0.0.0');
  fc.assert(fc.property(fc.ipV4(), (ip) => intToIp(ipToInt(ip)) === ip));
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => ipToInt(intToIp(n)) === n));
});

test('ipToInt throws EncodeError for a bad address', (t) => {
  t.throws(() => ipToInt('300.1.1.1'), { instanceOf: EncodeError, message: /"300.1.1.1"/ });
});

test('ipv4ToBuffer and bufferToIpv4', (t) => {
  t.is(ipv4ToBuffer('198.18.200.1').toString('hex'), 'c612c801');
  t.is(bufferToIpv4(Buffer.from('00c612c801', 'hex'), 1), '198.18.200.1');
});
