// The usage figures (status-get, assigned-addresses on /metrics): records
// counted by subnet, and the same assembly whether the counts come from
// this server's lease table or, on a shared store, from the database.
import test from 'ava';
import { LeaseTable } from '../../server/dhcp4/lease-table.ts';
import { toServedSubnet } from '../../server/dhcp4/served-subnet.ts';
import { subnetUsage, usageFromCounts } from '../../server/dhcp4/subnet-usage.ts';
import { countLeases } from '../../server/leases/lease-counts.ts';
import type { Lease, LeaseState } from '../../server/leases/lease.ts';

const NOW = 1_700_000_000_000;

function served(id: string, pool: [string, string]) {
  return toServedSubnet({ id, subnet: '198.18.0.0/16', interface: 'eth0', pools: [{ start: pool[0], end: pool[1] }], leaseTime: 600, renewTime: 300, rebindTime: 525, options: {}, reservations: [] });
}

let n = 0;
function lease(subnetId: string, state: LeaseState, expiresAt = NOW + 60_000): Lease {
  n++;
  const hw = `02:00:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
  return { ip: `198.18.${n >> 8}.${n & 0xff}`, clientKey: `hw:${hw}`, hwAddress: hw, subnetId, state, grantedAt: NOW - 1000, expiresAt };
}

test('countLeases: bound and declined records in force; expired, released and lapsed ones are records only', (t) => {
  const leases = [
    lease('a', 'bound'),
    lease('a', 'bound'),
    lease('a', 'bound', NOW), // lapsed at this very moment (leaseIsReusable: expiresAt <= now)
    lease('a', 'declined'),
    lease('a', 'declined', NOW - 1),
    lease('a', 'released'),
    lease('b', 'expired'),
    lease('b', 'bound'),
  ];
  t.deepEqual(
    countLeases(leases, NOW).sort((x, y) => x.subnetId.localeCompare(y.subnetId)),
    [
      { subnetId: 'a', assigned: 2, declined: 1, records: 6 },
      { subnetId: 'b', assigned: 1, declined: 0, records: 2 },
    ],
  );
});

test('usageFromCounts: every served subnet in order, 0 where nothing is counted, counts of subnets not served left out', (t) => {
  const subnets = [served('lab', ['198.18.1.10', '198.18.1.200']), served('dmz', ['198.18.2.1', '198.18.2.10'])];
  const counts = [
    { subnetId: 'gone', assigned: 9, declined: 9, records: 9 },
    { subnetId: 'lab', assigned: 40, declined: 2, records: 50 },
  ];
  t.deepEqual(usageFromCounts(subnets, counts), [
    { subnetId: 'lab', total: 191, assigned: 40, declined: 2 },
    { subnetId: 'dmz', total: 10, assigned: 0, declined: 0 },
  ]);
});

test('subnetUsage from a lease table is usageFromCounts of its counts', (t) => {
  const subnets = [served('lab', ['198.18.1.10', '198.18.1.200'])];
  const leases = [lease('lab', 'bound'), lease('lab', 'declined'), lease('lab', 'expired'), lease('other', 'bound')];
  const table = new LeaseTable(leases);
  t.deepEqual(subnetUsage(subnets, table, NOW), [{ subnetId: 'lab', total: 191, assigned: 1, declined: 1 }]);
  t.deepEqual(subnetUsage(subnets, table, NOW), usageFromCounts(subnets, countLeases(leases, NOW)));
});
