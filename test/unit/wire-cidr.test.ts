import test from 'ava';
import fc from 'fast-check';
import { cidrContains, directedBroadcast, hostAddressProblem, isHostAddress, parseCidr, type Cidr } from '../../lib/wire/cidr.ts';
import { intToIp, ipToInt } from '../../lib/wire/ipv4.ts';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.cidr;
}

const problem = (network: string, ip: string) => hostAddressProblem(cidr(network), ipToInt(ip));

test('RFC 1122 §3.2.1.3: on a /30 or shorter the network and broadcast addresses are no host\'s', (t) => {
  t.is(problem('198.18.0.0/24', '198.18.0.0'), 'network');
  t.is(problem('198.18.0.0/24', '198.18.0.255'), 'broadcast');
  t.is(problem('198.18.0.0/24', '198.18.0.1'), undefined);
  t.is(problem('198.18.0.0/24', '198.18.0.254'), undefined);
  t.is(problem('198.18.0.4/30', '198.18.0.4'), 'network');
  t.is(problem('198.18.0.4/30', '198.18.0.7'), 'broadcast');
  t.deepEqual(['198.18.0.5', '198.18.0.6'].map((ip) => problem('198.18.0.4/30', ip)), [undefined, undefined]);
  t.is(problem('0.0.0.0/0', '0.0.0.0'), 'network');
  t.is(problem('0.0.0.0/0', '255.255.255.255'), 'broadcast');
});

test('RFC 3021 §2.1: both addresses of a /31 are hosts; a /32 is its one address', (t) => {
  t.is(problem('198.18.0.6/31', '198.18.0.6'), undefined);
  t.is(problem('198.18.0.6/31', '198.18.0.7'), undefined);
  t.is(problem('198.18.0.9/32', '198.18.0.9'), undefined);
});

test('an address outside the network is no host of it, whatever the prefix', (t) => {
  t.is(problem('198.18.0.6/31', '198.18.0.8'), 'outside');
  t.is(problem('198.18.0.6/31', '198.18.0.5'), 'outside');
  t.is(problem('198.18.0.9/32', '198.18.0.8'), 'outside');
  t.is(problem('198.18.0.0/24', '198.18.1.0'), 'outside');
});

test('host addresses of any network: all of it on /31 and /32, all but the two ends otherwise', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 0xffffffff }), (address, length, probe) => {
      const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
      const c = cidr(`${intToIp((address & mask) >>> 0)}/${length}`);
      const inside = cidrContains(c, probe);
      const ends = probe === c.network || probe === c.last;
      t.is(isHostAddress(c, probe), inside && (length >= 31 || !ends));
    }),
  );
});

test('a directed broadcast exists only on a /30 or shorter (RFC 3021 §2.2)', (t) => {
  t.is(directedBroadcast(cidr('198.18.0.0/24')), ipToInt('198.18.0.255'));
  t.is(directedBroadcast(cidr('198.18.0.4/30')), ipToInt('198.18.0.7'));
  t.is(directedBroadcast(cidr('198.18.0.6/31')), undefined);
  t.is(directedBroadcast(cidr('198.18.0.9/32')), undefined);
});
