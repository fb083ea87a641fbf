import test from 'ava';
import {
  planForwardAdd,
  planForwardRemove,
  planReverseAdd,
  planReverseRemove,
  type ForwardChange,
  type PlanStep,
  type UpdateOutcome,
} from '../../server/ddns/conflict-resolution.ts';
import type { ConflictResolutionMode } from '../../server/ddns/ddns-config.ts';
import type { RecordData, UpdateRequest } from '../../lib/dns/update-request.ts';
import { FakeZone } from './helpers/fake-dns-zone.ts';

function run(zone: FakeZone, step: PlanStep): { verdict: string; reason: string; steps: number } {
  let steps = 0;
  while (step.kind === 'send') {
    steps++;
    step = step.next(zone.apply(step.request));
  }
  return { verdict: step.verdict, reason: step.reason, steps };
}

/** Feeds fixed outcomes, for the answers a FakeZone does not give (failures, races). */
function walk(step: PlanStep, outcomes: UpdateOutcome[]): { verdict: string; reason: string; requests: UpdateRequest[] } {
  const requests: UpdateRequest[] = [];
  for (const outcome of outcomes) {
    if (step.kind !== 'send') throw new Error(`plan ended before "${outcome}"`);
    requests.push(step.request);
    step = step.next(outcome);
  }
  if (step.kind !== 'final') throw new Error('plan still sending after the given outcomes');
  return { verdict: step.verdict, reason: step.reason, requests };
}

const FQDN = 'h.lab.leasehold.test';
const ZONE = 'leasehold.test';
const OURS = 'AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=';
const THEIRS = 'AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=';
const A = (data: string): RecordData => ({ type: 'A', data });
const AAAA = (data: string): RecordData => ({ type: 'AAAA', data });
const DHCID = (data: string): RecordData => ({ type: 'DHCID', data });

const change: ForwardChange = {
  zone: ZONE,
  fqdn: FQDN,
  addresses: [
    { type: 'A', data: '198.18.1.5' },
    { type: 'AAAA', data: 'fd00:198:18:0:42:c6ff:fe12:b' },
  ],
  dhcid: OURS,
  ttl: 1200,
};
const published = [A('198.18.1.5'), AAAA('fd00:198:18:0:42:c6ff:fe12:b'), DHCID(OURS)];
const MODES: ConflictResolutionMode[] = ['check-with-dhcid', 'no-check-with-dhcid', 'check-exists-with-dhcid', 'no-check-without-dhcid'];
const sortRecords = (rrs: RecordData[]) => [...rrs].sort((a, b) => `${a.type} ${a.data}`.localeCompare(`${b.type} ${b.data}`));

// ---- adding, RFC 4703 §5.3 ----

test('check-with-dhcid sends RFC 4703 §5.3.1 then §5.3.2, exactly', (t) => {
  const { requests } = walk(planForwardAdd('check-with-dhcid', change), ['yxdomain', 'success']);
  t.deepEqual(requests[0], {
    zone: ZONE,
    prerequisites: [{ kind: 'name-not-in-use', name: FQDN }],
    updates: [
      { kind: 'add', name: FQDN, ttl: 1200, record: A('198.18.1.5') },
      { kind: 'add', name: FQDN, ttl: 1200, record: AAAA('fd00:198:18:0:42:c6ff:fe12:b') },
      { kind: 'add', name: FQDN, ttl: 1200, record: DHCID(OURS) },
    ],
  });
  t.deepEqual(requests[1], {
    zone: ZONE,
    prerequisites: [
      { kind: 'name-in-use', name: FQDN },
      { kind: 'rrset-exists-value', name: FQDN, record: DHCID(OURS) },
    ],
    updates: [
      { kind: 'delete-rrset', name: FQDN, type: 'A' },
      { kind: 'delete-rrset', name: FQDN, type: 'AAAA' },
      { kind: 'add', name: FQDN, ttl: 1200, record: A('198.18.1.5') },
      { kind: 'add', name: FQDN, ttl: 1200, record: AAAA('fd00:198:18:0:42:c6ff:fe12:b') },
    ],
  });
});

test('every mode publishes a free name in one update', (t) => {
  for (const mode of MODES) {
    const zone = new FakeZone();
    t.like(run(zone, planForwardAdd(mode, change)), { verdict: 'done', steps: 1 }, mode);
    const expected = mode === 'no-check-without-dhcid' ? published.slice(0, 2) : published;
    t.deepEqual(sortRecords(zone.at(FQDN)), sortRecords(expected), mode);
  }
});

test('the same client (same DHCID) gets its name updated: a renewal with a new address', (t) => {
  for (const mode of MODES) {
    const zone = new FakeZone({ [FQDN]: [A('198.18.1.4'), AAAA('fd00:198:18:0:42:c6ff:fe12:a'), DHCID(OURS)] });
    t.is(run(zone, planForwardAdd(mode, change)).verdict, 'done', mode);
    t.deepEqual(sortRecords(zone.at(FQDN)), sortRecords(published), mode);
  }
});

test('a static record (no DHCID) is a conflict in the check modes, and left untouched', (t) => {
  for (const mode of ['check-with-dhcid', 'check-exists-with-dhcid'] as const) {
    const zone = new FakeZone({ [FQDN]: [A('198.18.0.99')] });
    const result = run(zone, planForwardAdd(mode, change));
    t.like(result, { verdict: 'conflict', steps: 2 }, mode);
    t.regex(result.reason, /static record/);
    t.deepEqual(zone.at(FQDN), [A('198.18.0.99')], mode);
  }
});

test("another client's DHCID: conflict and untouched with check-with-dhcid", (t) => {
  const theirs = [A('198.18.1.9'), DHCID(THEIRS)];
  const zone = new FakeZone({ [FQDN]: theirs });
  const result = run(zone, planForwardAdd('check-with-dhcid', change));
  t.like(result, { verdict: 'conflict', steps: 2 });
  t.regex(result.reason, /another client/);
  t.deepEqual(zone.at(FQDN), theirs);
});

test("check-exists-with-dhcid takes over a name with another client's DHCID, and puts its own", (t) => {
  const zone = new FakeZone({ [FQDN]: [A('198.18.1.9'), DHCID(THEIRS)] });
  t.like(run(zone, planForwardAdd('check-exists-with-dhcid', change)), { verdict: 'done', steps: 2 });
  t.deepEqual(sortRecords(zone.at(FQDN)), sortRecords(published));
  t.deepEqual(zone.sent[1].prerequisites, [
    { kind: 'name-in-use', name: FQDN },
    { kind: 'rrset-exists', name: FQDN, type: 'DHCID' },
  ]);
});

test('no-check-with-dhcid overwrites anything, static or not, and adds its DHCID', (t) => {
  for (const existing of [[A('198.18.0.99')], [A('198.18.1.9'), DHCID(THEIRS)]]) {
    const zone = new FakeZone({ [FQDN]: existing });
    t.like(run(zone, planForwardAdd('no-check-with-dhcid', change)), { verdict: 'done', steps: 1 });
    t.deepEqual(sortRecords(zone.at(FQDN)), sortRecords(published));
    t.deepEqual(zone.sent[0].prerequisites, []);
  }
});

test('no-check-without-dhcid overwrites the addresses and writes no DHCID', (t) => {
  const zone = new FakeZone({ [FQDN]: [A('198.18.1.9'), DHCID(THEIRS)] });
  t.like(run(zone, planForwardAdd('no-check-without-dhcid', change)), { verdict: 'done', steps: 1 });
  t.deepEqual(sortRecords(zone.at(FQDN)), sortRecords([...published.slice(0, 2), DHCID(THEIRS)]));
  t.false(zone.sent[0].updates.some((u) => 'type' in u && u.type === 'DHCID'));
});

test('other records at other names are never touched', (t) => {
  for (const mode of MODES) {
    const zone = new FakeZone({ 'g.lab.leasehold.test': [A('198.18.1.6'), DHCID(THEIRS)] });
    run(zone, planForwardAdd(mode, change));
    t.deepEqual(zone.at('g.lab.leasehold.test'), [A('198.18.1.6'), DHCID(THEIRS)], mode);
  }
});

test('a name that vanishes between add and replace is added again, once', (t) => {
  for (const mode of ['check-with-dhcid', 'check-exists-with-dhcid'] as const) {
    const again = walk(planForwardAdd(mode, change), ['yxdomain', 'nxdomain', 'success']);
    t.is(again.verdict, 'done', mode);
    t.deepEqual(again.requests[2], again.requests[0], mode);
    const flapping = walk(planForwardAdd(mode, change), ['yxdomain', 'nxdomain', 'yxdomain', 'nxdomain']);
    t.is(flapping.verdict, 'retry-later', mode);
  }
});

test('failures and unexpected answers end in retry-later at every add step', (t) => {
  for (const mode of MODES) {
    for (const outcome of ['failed', 'yxrrset', 'nxrrset', 'nxdomain'] as const) {
      const first = walk(planForwardAdd(mode, change), [outcome]);
      t.is(first.verdict, 'retry-later', `${mode} ${outcome}`);
    }
    t.regex(walk(planForwardAdd(mode, change), ['failed']).reason, /did not apply/);
  }
  for (const mode of ['check-with-dhcid', 'check-exists-with-dhcid'] as const) {
    for (const outcome of ['failed', 'yxrrset', 'yxdomain'] as const) {
      t.is(walk(planForwardAdd(mode, change), ['yxdomain', outcome]).verdict, 'retry-later', `${mode} replace ${outcome}`);
    }
  }
  for (const mode of ['no-check-with-dhcid', 'no-check-without-dhcid'] as const) {
    t.is(walk(planForwardAdd(mode, change), ['yxdomain']).verdict, 'retry-later', mode);
  }
});

test('a plan step is immutable: the same step can be resent and branches anew', (t) => {
  const step = planForwardAdd('check-with-dhcid', change);
  if (step.kind !== 'send') return t.fail();
  t.like(step.next('success'), { kind: 'final', verdict: 'done' });
  t.like(step.next('yxdomain'), { kind: 'send' });
  t.like(step.next('success'), { kind: 'final', verdict: 'done' });
});

// ---- removing, RFC 4703 §5.5 ----

test('removing our name takes the addresses, then the DHCID', (t) => {
  for (const mode of MODES) {
    const zone = new FakeZone({ [FQDN]: mode === 'no-check-without-dhcid' ? published.slice(0, 2) : published });
    const result = run(zone, planForwardRemove(mode, change));
    t.like(result, { verdict: 'done', steps: mode === 'no-check-without-dhcid' ? 1 : 2 }, mode);
    t.deepEqual(zone.at(FQDN), [], mode);
  }
});

test('check-with-dhcid removal sends RFC 4703 §5.5 requests exactly', (t) => {
  const { requests } = walk(planForwardRemove('check-with-dhcid', change), ['success', 'success']);
  t.deepEqual(requests, [
    {
      zone: ZONE,
      prerequisites: [
        { kind: 'name-in-use', name: FQDN },
        { kind: 'rrset-exists-value', name: FQDN, record: DHCID(OURS) },
      ],
      updates: [
        { kind: 'delete-record', name: FQDN, record: A('198.18.1.5') },
        { kind: 'delete-record', name: FQDN, record: AAAA('fd00:198:18:0:42:c6ff:fe12:b') },
      ],
    },
    {
      zone: ZONE,
      prerequisites: [
        { kind: 'name-in-use', name: FQDN },
        { kind: 'rrset-exists-value', name: FQDN, record: DHCID(OURS) },
        { kind: 'rrset-not-exists', name: FQDN, type: 'A' },
        { kind: 'rrset-not-exists', name: FQDN, type: 'AAAA' },
      ],
      updates: [{ kind: 'delete-rrset', name: FQDN, type: 'DHCID' }],
    },
  ]);
});

test("removal leaves another client's name alone: conflict in the check modes", (t) => {
  const theirs = [A('198.18.1.5'), DHCID(THEIRS)];
  const zone = new FakeZone({ [FQDN]: theirs });
  t.like(run(zone, planForwardRemove('check-with-dhcid', change)), { verdict: 'conflict', steps: 1 });
  t.deepEqual(zone.at(FQDN), theirs);

  // check-exists-with-dhcid only protects names without a DHCID (static ones).
  const staticName = new FakeZone({ [FQDN]: [A('198.18.1.5')] });
  t.like(run(staticName, planForwardRemove('check-exists-with-dhcid', change)), { verdict: 'conflict', steps: 1 });
  t.deepEqual(staticName.at(FQDN), [A('198.18.1.5')]);
});

test('removal deletes only this lease’s records, even without checks', (t) => {
  for (const mode of MODES) {
    // Another address shares the name: it stays, and so does the DHCID guarding it.
    const dhcid = mode === 'check-exists-with-dhcid' ? DHCID(THEIRS) : DHCID(OURS);
    const zone = new FakeZone({ [FQDN]: [...published.slice(0, 2), A('198.18.1.77'), dhcid] });
    const result = run(zone, planForwardRemove(mode, change));
    t.is(result.verdict, 'done', mode);
    t.deepEqual(sortRecords(zone.at(FQDN)), sortRecords([A('198.18.1.77'), dhcid]), mode);
  }
});

test('removing a name that is already gone is done', (t) => {
  for (const mode of MODES) {
    const zone = new FakeZone();
    t.is(run(zone, planForwardRemove(mode, change)).verdict, 'done', mode);
  }
  t.is(walk(planForwardRemove('check-with-dhcid', change), ['nxdomain']).verdict, 'done');
  for (const outcome of ['nxrrset', 'nxdomain', 'yxrrset'] as const) {
    t.is(walk(planForwardRemove('check-with-dhcid', change), ['success', outcome]).verdict, 'done', outcome);
  }
});

test('removal failures end in retry-later', (t) => {
  for (const mode of MODES) {
    t.is(walk(planForwardRemove(mode, change), ['failed']).verdict, 'retry-later', mode);
    t.is(walk(planForwardRemove(mode, change), ['yxdomain']).verdict, 'retry-later', mode);
  }
  for (const mode of ['check-with-dhcid', 'no-check-with-dhcid', 'check-exists-with-dhcid'] as const) {
    t.is(walk(planForwardRemove(mode, change), ['success', 'failed']).verdict, 'retry-later', mode);
  }
});

// ---- reverse, RFC 4703 §5.4 ----

const PTR_NAME = '5.1.18.198.in-addr.arpa';
const REV_ZONE = '18.198.in-addr.arpa';
const PTR = (data: string): RecordData => ({ type: 'PTR', data });

test('a PTR is replaced without prerequisite or DHCID', (t) => {
  const zone = new FakeZone({ [PTR_NAME]: [PTR('old.lab.leasehold.test'), PTR('other.lab.leasehold.test')] });
  t.like(run(zone, planReverseAdd({ zone: REV_ZONE, name: PTR_NAME, fqdn: FQDN, ttl: 1200 })), { verdict: 'done', steps: 1 });
  t.deepEqual(zone.at(PTR_NAME), [PTR(FQDN)]);
  t.deepEqual(zone.sent[0], {
    zone: REV_ZONE,
    prerequisites: [],
    updates: [
      { kind: 'delete-rrset', name: PTR_NAME, type: 'PTR' },
      { kind: 'add', name: PTR_NAME, ttl: 1200, record: PTR(FQDN) },
    ],
  });
  t.is(walk(planReverseAdd({ zone: REV_ZONE, name: PTR_NAME, fqdn: FQDN, ttl: 1200 }), ['failed']).verdict, 'retry-later');
});

test('removing a PTR removes ours only', (t) => {
  const zone = new FakeZone({ [PTR_NAME]: [PTR(FQDN)] });
  t.is(run(zone, planReverseRemove({ zone: REV_ZONE, name: PTR_NAME, fqdn: FQDN })).verdict, 'done');
  t.deepEqual(zone.at(PTR_NAME), []);
  // The address's next holder already wrote its own PTR: it stays.
  const taken = new FakeZone({ [PTR_NAME]: [PTR('next.lab.leasehold.test')] });
  t.is(run(taken, planReverseRemove({ zone: REV_ZONE, name: PTR_NAME, fqdn: FQDN })).verdict, 'done');
  t.deepEqual(taken.at(PTR_NAME), [PTR('next.lab.leasehold.test')]);
  t.is(walk(planReverseRemove({ zone: REV_ZONE, name: PTR_NAME, fqdn: FQDN }), ['failed']).verdict, 'retry-later');
});
