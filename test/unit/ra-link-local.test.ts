import test from 'ava';
import { usableLinkLocal } from '../../server/ra/link-local.ts';

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
