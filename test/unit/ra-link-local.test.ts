import test from 'ava';
import { chooseLinkLocal, isLinkLocalAddress, usableLinkLocal, usableLinkLocals } from '../../server/ra/link-local.ts';

// /proc/net/if_inet6 as Linux 6.18 writes it: address, ifindex, prefix length, scope, flags, name.
const DURING_DAD = `fd000198001800000000000000000001 03 40 00 c0       eth0
fe80000000000000cc0562fffea73a7e 02 40 20 c0       v1
fe8000000000000000ff00fffe000001 03 40 20 c0       eth0
`;
const AFTER_DAD = DURING_DAD.replace(/ c0 /g, ' 80 ');

test('a link-local address still in DAD (tentative) is not one to send from', (t) => {
  t.is(usableLinkLocal(DURING_DAD, 'eth0'), undefined);
});

test('once DAD is over, the interface link-local address, not a global one nor another interface one', (t) => {
  t.is(usableLinkLocal(AFTER_DAD, 'eth0'), 'fe80::ff:ff:fe00:1');
  t.is(usableLinkLocal(AFTER_DAD, 'v1'), 'fe80::cc05:62ff:fea7:3a7e');
  t.is(usableLinkLocal(AFTER_DAD, 'eth1'), undefined);
});

test('a link-local address whose DAD failed is never used', (t) => {
  t.is(usableLinkLocal(AFTER_DAD.replace('03 40 20 80', '03 40 20 88'), 'eth0'), undefined);
});

test('every usable link-local address of the interface, in the order of the file', (t) => {
  const two = `${AFTER_DAD}fe800000000000000000000000001234 03 40 20 80       eth0\n`;
  t.deepEqual(usableLinkLocals(two, 'eth0'), ['fe80::ff:ff:fe00:1', 'fe80::1234']);
  t.deepEqual(usableLinkLocals(DURING_DAD, 'eth0'), []);
});

test('the source stays the same while the interface has it, and moves only when it is gone (§6.2.8)', (t) => {
  t.is(chooseLinkLocal(['fe80::1', 'fe80::2'], undefined), 'fe80::1', 'the first to begin with');
  t.is(chooseLinkLocal(['fe80::1', 'fe80::2'], 'fe80::2'), 'fe80::2', 'another one added: kept');
  t.is(chooseLinkLocal(['fe80::3'], 'fe80::2'), 'fe80::3', 'gone: the one that is there');
  t.is(chooseLinkLocal([], 'fe80::2'), undefined, 'none usable');
});

test('fe80::/10 is link-local, in any spelling', (t) => {
  t.true(isLinkLocalAddress('fe80::1'));
  t.true(isLinkLocalAddress('FE80:0000::0001'));
  t.true(isLinkLocalAddress('febf:ffff::1'));
  t.false(isLinkLocalAddress('fec0::1'));
  t.false(isLinkLocalAddress('fd00:198:18::1'));
  t.false(isLinkLocalAddress('::'));
  t.false(isLinkLocalAddress('ff02::1'));
});
