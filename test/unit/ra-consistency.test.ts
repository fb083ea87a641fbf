// RFC 4861 §6.2.7: what another router advertises that contradicts our RA.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { findInconsistencies } from '../../server/ra/ra-consistency.ts';
import { routerAdvert, type RouterAdvert } from '../../lib/ndp/router-advert.ts';
import type { NdOption } from '../../lib/ndp/nd-options.ts';

const prefix = (p: string, validLifetime: number, preferredLifetime: number, prefixLength = 64): NdOption => ({
  kind: 'prefix-information',
  prefixLength,
  onLink: true,
  autonomous: true,
  validLifetime,
  preferredLifetime,
  prefix: p,
});

const OURS: RouterAdvert = {
  curHopLimit: 64,
  managed: false,
  otherConfig: false,
  routerPreference: 'medium',
  routerLifetime: 1800,
  reachableTime: 0,
  retransTimer: 0,
  options: [prefix('fd00:198:18::', 86400, 14400), { kind: 'mtu', mtu: 1400 }, { kind: 'source-link-layer-address', address: '02:00:00:00:00:01' }],
};

test('an RA that says the same thing, from another MAC and with another lifetime and preference, agrees', (t) => {
  const theirs: RouterAdvert = {
    ...OURS,
    routerPreference: 'high',
    routerLifetime: 0,
    options: [...OURS.options.slice(0, 2), { kind: 'source-link-layer-address', address: '02:00:00:00:00:02' }],
  };
  t.deepEqual(findInconsistencies(OURS, theirs), []);
});

test('each header field that differs is one inconsistency, in the order of the RA', (t) => {
  const ours = { ...OURS, reachableTime: 30000, retransTimer: 1000 };
  const theirs = { ...ours, curHopLimit: 32, managed: true, otherConfig: true, reachableTime: 20000, retransTimer: 2000 };
  t.deepEqual(findInconsistencies(ours, theirs), [
    { field: 'cur-hop-limit', ours: 64, theirs: 32 },
    { field: 'managed', ours: false, theirs: true },
    { field: 'other-config', ours: false, theirs: true },
    { field: 'reachable-time', ours: 30000, theirs: 20000 },
    { field: 'retrans-timer', ours: 1000, theirs: 2000 },
  ]);
  t.deepEqual(
    findInconsistencies(theirs, ours).map((i) => i.field),
    ['cur-hop-limit', 'managed', 'other-config', 'reachable-time', 'retrans-timer'],
    'symmetric: a flag we set and they do not is as much a conflict',
  );
});

test('0 is "unspecified", never a conflict, on either side (§6.2.7)', (t) => {
  const specified = { ...OURS, curHopLimit: 64, reachableTime: 30000, retransTimer: 1000 };
  const unspecified = { ...OURS, curHopLimit: 0, reachableTime: 0, retransTimer: 0 };
  t.deepEqual(findInconsistencies(specified, unspecified), []);
  t.deepEqual(findInconsistencies(unspecified, specified), []);
});

test('the MTU is compared only when both send one', (t) => {
  const withMtu = (mtu: number): RouterAdvert => ({ ...OURS, options: [{ kind: 'mtu', mtu }] });
  t.deepEqual(findInconsistencies(OURS, withMtu(1500)), [{ field: 'mtu', ours: 1400, theirs: 1500 }]);
  t.deepEqual(findInconsistencies(OURS, { ...OURS, options: [] }), []);
  t.deepEqual(findInconsistencies({ ...OURS, options: [] }, withMtu(1500)), []);
});

test('lifetimes are compared for the prefixes both advertise, one line each, other prefixes are no conflict', (t) => {
  const theirs: RouterAdvert = {
    ...OURS,
    options: [prefix('fd00:198:20::', 600, 300), prefix('fd00:198:18::', 3600, 1800), prefix('fd00:198:18::', 86400, 14400, 48)],
  };
  t.deepEqual(findInconsistencies(OURS, theirs), [
    { field: 'prefix-valid-lifetime', ours: 86400, theirs: 3600, prefix: 'fd00:198:18::/64' },
    { field: 'prefix-preferred-lifetime', ours: 14400, theirs: 1800, prefix: 'fd00:198:18::/64' },
  ]);
  const onlyPreferred: RouterAdvert = { ...OURS, options: [prefix('fd00:198:18::', 86400, 0)] };
  t.deepEqual(findInconsistencies(OURS, onlyPreferred), [{ field: 'prefix-preferred-lifetime', ours: 14400, theirs: 0, prefix: 'fd00:198:18::/64' }]);
});

test('bits past the prefix length are ignored (RFC 4861 §4.6.2): the same prefix', (t) => {
  const theirs: RouterAdvert = { ...OURS, options: [prefix('fd00:198:18::1', 3600, 14400)] };
  t.deepEqual(findInconsistencies(OURS, theirs), [{ field: 'prefix-valid-lifetime', ours: 86400, theirs: 3600, prefix: 'fd00:198:18::/64' }]);
});

test("radvd's lab RA against its own final RA: the deprecated prefix is reported", (t) => {
  const ra = routerAdvert.decode(readFileSync(new URL('../fixtures/ra/radvd-lab-ra.bin', import.meta.url)));
  const final = routerAdvert.decode(readFileSync(new URL('../fixtures/ra/radvd-lab-final-ra.bin', import.meta.url)));
  t.deepEqual(findInconsistencies(ra, ra), []);
  t.deepEqual(
    findInconsistencies(ra, final).map((i) => [i.field, i.theirs]),
    [
      ['prefix-valid-lifetime', 7200],
      ['prefix-preferred-lifetime', 0],
    ],
  );
});
