import test from 'ava';
import fc from 'fast-check';
import { intToIp, ipToInt } from '../../lib/wire/ipv4.ts';
import { AddressAllocator, NoAddressAvailableError } from '../../server/dhcp4/address-allocator.ts';
import { LeaseTable } from '../../server/dhcp4/lease-table.ts';
import { toServedSubnet, type ClientIdentity, type ServedSubnet } from '../../server/dhcp4/served-subnet.ts';
import type { Lease, LeaseState } from '../../server/leases/lease.ts';

/** Two pools, a reservation inside one, and a server address inside the other: every rule the scan applied. */
function served(): ServedSubnet {
  return toServedSubnet({
    id: 'lan',
    subnet: '198.18.0.0/24',
    interface: 'eth0',
    pools: [
      { start: '198.18.0.40', end: '198.18.0.49' },
      { start: '198.18.0.10', end: '198.18.0.29' },
    ],
    leaseTime: 3600,
    renewTime: 1800,
    rebindTime: 3150,
    options: {},
    reservations: [{ hwAddress: '02:00:00:00:00:63', ip: '198.18.0.12' }],
  });
}
const SERVER_IN_POOL = ipToInt('198.18.0.44');

const client = (n: number): ClientIdentity => ({ key: `hw:02:00:00:00:00:${n.toString(16).padStart(2, '0')}`, hwKey: `hw:02:00:00:00:00:${n.toString(16).padStart(2, '0')}` });
const RESERVED_CLIENT = 0x63;

/**
 * The allocator before the free set, verbatim in behaviour: scan the pools
 * in configuration order from a cursor, take the first address the client
 * may have, and move the cursor past it.
 */
class ScanReference {
  cursor = 0;
  constructor(
    private readonly subnet: ServedSubnet,
    private readonly allocator: AddressAllocator,
  ) {}

  allocate(c: ClientIdentity, now: number): number | 'none' {
    const addresses = this.subnet.pools.flatMap((p) => Array.from({ length: p.end - p.start + 1 }, (_, i) => p.start + i));
    for (let scanned = 0; scanned < addresses.length; scanned++) {
      const position = (this.cursor + scanned) % addresses.length;
      if (this.allocator.isAvailableFor(this.subnet, addresses[position], c, now)) {
        this.cursor = (position + 1) % addresses.length;
        return addresses[position];
      }
    }
    return 'none';
  }
}

type Op =
  | { kind: 'hold'; ip: number; client: number; seconds: number }
  | { kind: 'lease'; ip: number; client: number; state: LeaseState; seconds: number }
  | { kind: 'remove'; ip: number }
  | { kind: 'release-hold'; client: number }
  | { kind: 'time'; seconds: number }
  | { kind: 'allocate'; client: number; hold: boolean };

const anyIp = fc.integer({ min: 5, max: 55 }).map((last) => ipToInt(`198.18.0.${last}`));
const anyClient = fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constant(RESERVED_CLIENT));
// Weighted towards a crowded pool, where the client's own records decide.
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('hold' as const), ip: anyIp, client: anyClient, seconds: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 4, arbitrary: fc.record({
    kind: fc.constant('lease' as const),
    ip: anyIp,
    client: anyClient,
    state: fc.constantFrom<LeaseState>('bound', 'declined', 'released', 'expired'),
    seconds: fc.integer({ min: -30, max: 120 }),
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), ip: anyIp }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release-hold' as const), client: anyClient }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('time' as const), seconds: fc.integer({ min: 0, max: 90 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('allocate' as const), client: anyClient, hold: fc.boolean() }) },
);

function lease(ip: number, c: ClientIdentity, state: LeaseState, expiresAt: number): Lease {
  return { ip: intToIp(ip), clientKey: c.key, hwAddress: c.key.slice(3), subnetId: 'lan', state, grantedAt: 0, expiresAt };
}

test('allocate picks what a pool scan from the cursor picks, after any history of holds, bindings, declines, releases and time', (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 250 }), (ops) => {
      const subnet = served();
      const table = new LeaseTable();
      let now = 1_000_000;
      const allocator = new AddressAllocator(table, new Set([SERVER_IN_POOL]), [subnet]);
      const reference = new ScanReference(subnet, allocator);
      for (const o of ops) {
        switch (o.kind) {
          case 'hold':
            table.holdOffer({ ip: o.ip, clientKey: client(o.client).key, subnetId: 'lan', expiresAt: now + o.seconds * 1000 });
            break;
          case 'lease':
            table.put(lease(o.ip, client(o.client), o.state, now + o.seconds * 1000));
            break;
          case 'remove':
            table.remove(o.ip);
            break;
          case 'release-hold':
            table.releaseOfferOf(client(o.client).key);
            break;
          case 'time':
            now += o.seconds * 1000;
            break;
          case 'allocate': {
            const c = client(o.client);
            const want = reference.allocate(c, now);
            let got: number | 'none';
            try {
              got = allocator.allocate(subnet, c, now);
            } catch (err) {
              if (!(err instanceof NoAddressAvailableError)) throw err;
              got = 'none';
            }
            t.is(got === 'none' ? got : intToIp(got), want === 'none' ? want : intToIp(want));
            if (got !== 'none' && o.hold) table.holdOffer({ ip: got, clientKey: c.key, subnetId: 'lan', expiresAt: now + 30_000 });
            break;
          }
        }
      }
    }),
    { numRuns: 500 },
  );
});

test('a full pool is known from the free count, and freed addresses come back as holds expire', (t) => {
  const subnet = served();
  const table = new LeaseTable();
  const allocator = new AddressAllocator(table, new Set([SERVER_IN_POOL]), [subnet]);
  // 30 pool addresses, less the reservation and the server's own.
  t.is(allocator.freeCount(subnet), 28);
  const now = 5_000;
  for (let n = 1; n <= 28; n++) {
    const ip = allocator.allocate(subnet, client(n), now);
    table.holdOffer({ ip, clientKey: client(n).key, subnetId: 'lan', expiresAt: now + 30_000 });
  }
  t.is(allocator.freeCount(subnet), 0);
  t.throws(() => allocator.allocate(subnet, client(40), now), { instanceOf: NoAddressAvailableError });
  t.is(intToIp(allocator.allocate(subnet, client(RESERVED_CLIENT), now)), '198.18.0.12', 'the reservation is still its owner’s');
  t.is(allocator.allocate(subnet, client(40), now + 30_000) > 0, true, 'the holds expired: addresses are free again');
  t.is(allocator.freeCount(subnet), 28);
});

test('two servers on one database, each with its share of the buckets: their offers never take the same address until a share is full, then any free one', (t) => {
  const subnet = served();
  const even = (bucket: number) => bucket % 2 === 0;
  const odd = (bucket: number) => bucket % 2 === 1;
  // Each server knows only its own holds: two tables, as two processes.
  const servers = [even, odd].map((share) => {
    const table = new LeaseTable();
    return { share, table, allocator: new AddressAllocator(table, new Set([SERVER_IN_POOL]), [subnet], share) };
  });
  const now = 5_000;
  const offered = servers.map(() => [] as number[]);
  // 28 free: 14 even (10,14,…,28,40,42,46,48 less .12 and .44), 14 odd; alternate, as the buckets split clients.
  for (let n = 1; n <= 26; n++) {
    const s = n % 2;
    const { table, allocator } = servers[s];
    const ip = allocator.allocate(subnet, client(n), now);
    table.holdOffer({ ip, clientKey: client(n).key, subnetId: 'lan', expiresAt: now + 30_000 });
    offered[s].push(ip);
  }
  t.true(offered[0].every((ip) => even(ip & 0xff)), `server 0 stayed in its share: ${offered[0].map(intToIp)}`);
  t.true(offered[1].every((ip) => odd(ip & 0xff)), `server 1 stayed in its share: ${offered[1].map(intToIp)}`);
  t.deepEqual(offered[0].filter((ip) => offered[1].includes(ip)), [], 'no address offered by both');
  // Server 0's share is full (12 even pool addresses are free for it: 14 less .12 and .44): now it takes an odd one.
  const spill = servers[0].allocator.allocate(subnet, client(60), now);
  t.true(odd(spill & 0xff), `a full share spills into the other: ${intToIp(spill)}`);
});

test('without a share (one server) the first free address in configuration order; with one, the first of its share', (t) => {
  const subnet = served();
  const plain = new AddressAllocator(new LeaseTable(), new Set([SERVER_IN_POOL]), [subnet]);
  t.is(intToIp(plain.allocate(subnet, client(1), 0)), '198.18.0.40');
  const shared = new AddressAllocator(new LeaseTable(), new Set([SERVER_IN_POOL]), [subnet], (b) => b % 2 === 1);
  t.is(intToIp(shared.allocate(subnet, client(1), 0)), '198.18.0.41');
  t.is(intToIp(shared.allocate(subnet, client(2), 0)), '198.18.0.43', 'the cursor moved on within the share');
});
