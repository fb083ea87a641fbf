import type { ConflictResolutionMode } from './ddns-config.ts';
import type { Prerequisite, RecordData, RecordType, UpdateOp, UpdateRequest } from '../../lib/dns/update-request.ts';

/**
 * The DNS UPDATEs that publish and withdraw a client's name (RFC 4703 §5),
 * as a small state machine: each step is one UpdateRequest to send, and
 * `next(outcome)` — fed with what the server answered — gives the
 * follow-up request or a final verdict. Pure: a step never changes, so a
 * step can be resent (retry) or replayed in tests.
 *
 * Forward (address records + DHCID) and reverse (PTR) are planned apart,
 * in their own zones. The caller runs the reverse plan only after the
 * forward one ended `done`, as Kea does: a name that stayed someone else's
 * must not get a PTR pointing at it.
 */

/** What the server answered (RFC 2136 §2.2 RCODEs); `failed` is any other answer, or none. */
export type UpdateOutcome = 'success' | 'nxdomain' | 'yxdomain' | 'nxrrset' | 'yxrrset' | 'failed';

/**
 * `done`: DNS is as wanted (or nothing of ours was left to remove).
 * `conflict`: the name is someone else's; left alone, to be logged and counted.
 * `retry-later`: the update could not be made now; run the plan again later.
 */
export type Verdict = 'done' | 'conflict' | 'retry-later';

export type PlanStep = SendStep | FinalStep;

export interface SendStep {
  kind: 'send';
  request: UpdateRequest;
  next(outcome: UpdateOutcome): PlanStep;
}

export interface FinalStep {
  kind: 'final';
  verdict: Verdict;
  /** One line for the log. */
  reason: string;
}

export interface AddressRecord extends RecordData {
  type: 'A' | 'AAAA';
}

/** A client's forward records: its name, its addresses (at least one) and the DHCID that marks them as its own. */
export interface ForwardChange {
  zone: string;
  fqdn: string;
  addresses: readonly AddressRecord[];
  /** Base64 DHCID RDATA (dhcid.ts) of this client and `fqdn`. */
  dhcid: string;
  ttl: number;
}

/** One address's PTR: its owner name (reverse-names.ts) pointing at `fqdn`. */
export interface ReverseChange {
  zone: string;
  name: string;
  fqdn: string;
  ttl: number;
}

type CheckMode = Extract<ConflictResolutionMode, 'check-with-dhcid' | 'check-exists-with-dhcid'>;

/**
 * A name re-added after it vanished between two steps (NXDOMAIN on the
 * replace) may vanish again; after this many rounds the plan gives up
 * until the next retry rather than loop.
 */
const MAX_ROUNDS = 2;

/**
 * Address RRsets are replaced whole on a name the client may write: its
 * binding lists every address the name should have (a stale AAAA of an old
 * MAC goes too).
 */
const ADDRESS_TYPES: readonly RecordType[] = ['A', 'AAAA'];

/**
 * Publishes the forward records (RFC 4703 §5.3), per mode (Kea's
 * `ddns-conflict-resolution-mode`):
 * - check-with-dhcid: add if the name is unused (§5.3.1); if it is in use,
 *   replace the address records only if the DHCID there is this client's
 *   (§5.3.2); otherwise conflict — another client's name, or a static
 *   record someone put in the zone, is never touched.
 * - check-exists-with-dhcid: the same, but the replace needs only some
 *   DHCID to be there (a dynamic name, whoever's), and takes it over.
 * - no-check-with-dhcid: replace whatever is there, and add our DHCID.
 * - no-check-without-dhcid: replace the address records; no DHCID at all.
 */
export function planForwardAdd(mode: ConflictResolutionMode, change: ForwardChange): PlanStep {
  switch (mode) {
    case 'check-with-dhcid':
    case 'check-exists-with-dhcid':
      return addIfUnused(mode, change, 1);
    case 'no-check-with-dhcid':
      return sendOnce(
        request(change.zone, [], [
          ...deleteAddresses(change.fqdn),
          { kind: 'delete-rrset', name: change.fqdn, type: 'DHCID' },
          ...addAddresses(change),
          addDhcid(change),
        ]),
        `${change.fqdn} written over`,
      );
    case 'no-check-without-dhcid':
      return sendOnce(
        request(change.zone, [], [...deleteAddresses(change.fqdn), ...addAddresses(change)]),
        `${change.fqdn} written over`,
      );
  }
}

/** RFC 4703 §5.3.1: prerequisite "name not in use"; adds the addresses and the DHCID. */
function addIfUnused(mode: CheckMode, change: ForwardChange, round: number): PlanStep {
  const { zone, fqdn } = change;
  return send(
    request(zone, [{ kind: 'name-not-in-use', name: fqdn }], [...addAddresses(change), addDhcid(change)]),
    (outcome) => {
      if (outcome === 'success') return final('done', `${fqdn} added`);
      if (outcome === 'yxdomain') return replaceIfOwned(mode, change, round);
      return retryLater(outcome);
    },
  );
}

/**
 * RFC 4703 §5.3.2: the name is in use; replace its address records only
 * under the mode's DHCID prerequisite. "Name in use" comes first so that a
 * name deleted since the add attempt answers NXDOMAIN (RFC 2136 §3.2.5
 * checks prerequisites in order) and is simply added again.
 */
function replaceIfOwned(mode: CheckMode, change: ForwardChange, round: number): PlanStep {
  const { zone, fqdn } = change;
  const own = mode === 'check-with-dhcid';
  const guard: Prerequisite = own
    ? { kind: 'rrset-exists-value', name: fqdn, record: dhcidRecord(change) }
    : { kind: 'rrset-exists', name: fqdn, type: 'DHCID' };
  const updates: UpdateOp[] = own
    ? [...deleteAddresses(fqdn), ...addAddresses(change)]
    : [...deleteAddresses(fqdn), { kind: 'delete-rrset', name: fqdn, type: 'DHCID' }, ...addAddresses(change), addDhcid(change)];
  return send(request(zone, [{ kind: 'name-in-use', name: fqdn }, guard], updates), (outcome) => {
    if (outcome === 'success') return final('done', `${fqdn} updated`);
    if (outcome === 'nxdomain') {
      return round < MAX_ROUNDS
        ? addIfUnused(mode, change, round + 1)
        : final('retry-later', `${fqdn} kept appearing and disappearing during the update`);
    }
    if (outcome === 'nxrrset') {
      return final(
        'conflict',
        own
          ? `${fqdn} is in use without this client's DHCID (another client's name, or a static record); left alone`
          : `${fqdn} is in use without a DHCID (a static record); left alone`,
      );
    }
    return retryLater(outcome);
  });
}

/** A forward change being withdrawn: what was published, minus the TTL. */
export type ForwardRemoval = Omit<ForwardChange, 'ttl'>;

/**
 * Withdraws the forward records (RFC 4703 §5.5): first this lease's address
 * records — in the check modes only under the same DHCID prerequisite as
 * adding, so a name that is now someone else's keeps its records — then the
 * DHCID, but only once no address record is left on the name (another
 * binding of the same client, e.g. a DHCPv6 one, may still hold it).
 * Deleting single records (RFC 2136 §2.5.4) rather than whole RRsets means
 * even the no-check modes remove nothing but what this lease put there.
 */
export function planForwardRemove(mode: ConflictResolutionMode, removal: ForwardRemoval): PlanStep {
  const { zone, fqdn } = removal;
  const updates: UpdateOp[] = removal.addresses.map((record) => ({ kind: 'delete-record', name: fqdn, record }));
  return send(request(zone, ownership(mode, removal), updates), (outcome) => {
    if (outcome === 'success') {
      return mode === 'no-check-without-dhcid' ? final('done', `${fqdn} removed`) : removeDhcid(mode, removal);
    }
    if (outcome === 'nxdomain') return final('done', `${fqdn} was already gone`);
    if (outcome === 'nxrrset') {
      return final('conflict', `${fqdn} is no longer this client's (its DHCID does not match); left alone`);
    }
    return retryLater(outcome);
  });
}

/**
 * The prerequisites under which a mode lets this client change records at
 * its name. "Name in use" first: an RRset prerequisite on a missing name
 * fails with NXRRSET (RFC 2136 §3.2.1, §3.2.3), which would read as "someone
 * else's"; this way a name already gone answers NXDOMAIN.
 */
function ownership(mode: ConflictResolutionMode, removal: ForwardRemoval): Prerequisite[] {
  const inUse: Prerequisite = { kind: 'name-in-use', name: removal.fqdn };
  switch (mode) {
    case 'check-with-dhcid':
      return [inUse, { kind: 'rrset-exists-value', name: removal.fqdn, record: dhcidRecord(removal) }];
    case 'check-exists-with-dhcid':
      return [inUse, { kind: 'rrset-exists', name: removal.fqdn, type: 'DHCID' }];
    case 'no-check-with-dhcid':
    case 'no-check-without-dhcid':
      return [];
  }
}

/**
 * RFC 4703 §5.5, second update: delete the DHCID when no A or AAAA remains
 * (RFC 2136 §2.4.3 "RRset does not exist"). YXRRSET (addresses remain) and
 * NXRRSET/NXDOMAIN (the DHCID or the name is already gone) leave nothing
 * for us to do.
 */
function removeDhcid(mode: ConflictResolutionMode, removal: ForwardRemoval): PlanStep {
  const { zone, fqdn } = removal;
  const empty: Prerequisite[] = ADDRESS_TYPES.map((type) => ({ kind: 'rrset-not-exists', name: fqdn, type }));
  // check-with-dhcid still wants its own DHCID there (Kea's NameRemove);
  // the other modes delete whatever DHCID guards an empty name (Kea's CheckExistsRemove).
  const owned = mode === 'check-with-dhcid' ? ownership(mode, removal) : [];
  const prerequisites = [...owned, ...empty];
  return send(request(zone, prerequisites, [{ kind: 'delete-rrset', name: fqdn, type: 'DHCID' }]), (outcome) => {
    if (outcome === 'success') return final('done', `${fqdn} removed`);
    if (outcome === 'yxrrset') return final('done', `${fqdn}: this lease's addresses removed; other addresses keep the name`);
    if (outcome === 'nxrrset' || outcome === 'nxdomain') return final('done', `${fqdn}: addresses removed; the DHCID was already gone`);
    return retryLater(outcome);
  });
}

/**
 * RFC 4703 §5.4: the PTR of an address belongs to whoever holds the lease
 * on it, so it is replaced without a prerequisite and without a DHCID
 * guard (which that section makes optional).
 */
export function planReverseAdd(change: ReverseChange): PlanStep {
  const { zone, name, fqdn, ttl } = change;
  return sendOnce(
    request(zone, [], [
      { kind: 'delete-rrset', name, type: 'PTR' },
      { kind: 'add', name, ttl, record: { type: 'PTR', data: fqdn } },
    ]),
    `${name} points at ${fqdn}`,
  );
}

/**
 * RFC 4703 §5.5: delete this lease's PTR record only (RFC 2136 §2.5.4), so
 * a PTR the address's next holder already wrote survives.
 */
export function planReverseRemove(removal: Omit<ReverseChange, 'ttl'>): PlanStep {
  const { zone, name, fqdn } = removal;
  return sendOnce(
    request(zone, [], [{ kind: 'delete-record', name, record: { type: 'PTR', data: fqdn } }]),
    `${name} no longer points at ${fqdn}`,
  );
}

function request(zone: string, prerequisites: Prerequisite[], updates: UpdateOp[]): UpdateRequest {
  return { zone, prerequisites, updates };
}

function send(req: UpdateRequest, next: (outcome: UpdateOutcome) => PlanStep): SendStep {
  return { kind: 'send', request: req, next };
}

/** A request without prerequisites: it succeeds, or it must be tried again. */
function sendOnce(req: UpdateRequest, doneReason: string): SendStep {
  return send(req, (outcome) => (outcome === 'success' ? final('done', doneReason) : retryLater(outcome)));
}

function final(verdict: Verdict, reason: string): FinalStep {
  return { kind: 'final', verdict, reason };
}

function retryLater(outcome: UpdateOutcome): FinalStep {
  return final(
    'retry-later',
    outcome === 'failed' ? 'the server did not apply the update' : `unexpected ${outcome.toUpperCase()} from the server`,
  );
}

function deleteAddresses(fqdn: string): UpdateOp[] {
  return ADDRESS_TYPES.map((type) => ({ kind: 'delete-rrset', name: fqdn, type }));
}

function addAddresses(change: ForwardChange): UpdateOp[] {
  return change.addresses.map((record) => ({ kind: 'add', name: change.fqdn, ttl: change.ttl, record }));
}

function dhcidRecord(change: { dhcid: string }): RecordData {
  return { type: 'DHCID', data: change.dhcid };
}

function addDhcid(change: ForwardChange): UpdateOp {
  return { kind: 'add', name: change.fqdn, ttl: change.ttl, record: dhcidRecord(change) };
}
