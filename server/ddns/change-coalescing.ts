import type { DnsChange } from '../leases/dns-change.ts';

/**
 * What one name's queued changes come to once those that cancel or supersede
 * each other are folded together: each work item is sent as one change
 * (`change`), or not at all (`change` undefined), and takes every queue entry
 * in `seqs` out of the durable queue when it is done. Pure.
 */
export interface CoalescedWork {
  /** The change to send; undefined when the entries cancel out and nothing is sent. */
  change?: DnsChange;
  /** Every queue entry this item settles, in queue order (the sent change's own last). */
  seqs: number[];
}

/** The same client's records at the name: the same DHCID, the same addresses. */
function sameRecords(a: DnsChange, b: DnsChange): boolean {
  return a.dhcid === b.dhcid && a.ipv4 === b.ipv4 && a.ipv6 === b.ipv6;
}

/**
 * Folds one name's queued changes, in queue order, none of them on the
 * wire yet:
 * - an add followed by the removal of exactly what it adds (same client,
 *   same addresses) sends nothing: DNS ends where it would have ended;
 * - two adds of the same client (same DHCID) send the last: it replaces
 *   the first's addresses anyway, and RFC 4703's outcome for the name —
 *   added, updated or a conflict — depends only on the DHCID, so it stays
 *   what it would have been;
 * - a removal repeated with the same records is sent once;
 * - after something that cancelled out, the next change is sent as if
 *   it came first.
 * Adds of different clients never fold (the first one may win the name),
 * and neither does a removal followed by an add (the removal may withdraw
 * records the add would otherwise keep).
 */
export function coalesceChanges(queue: readonly DnsChange[]): CoalescedWork[] {
  const work: CoalescedWork[] = [];
  for (const next of queue) {
    const last = work.at(-1);
    const prev = last?.change;
    if (last && prev === undefined) {
      last.change = next;
      last.seqs.push(next.seq);
    } else if (last && prev && prev.action === 'add' && next.action === 'remove' && sameRecords(prev, next)) {
      last.change = undefined;
      last.seqs.push(next.seq);
    } else if (last && prev && prev.action === 'add' && next.action === 'add' && prev.dhcid === next.dhcid) {
      last.change = next;
      last.seqs.push(next.seq);
    } else if (last && prev && prev.action === 'remove' && next.action === 'remove' && sameRecords(prev, next)) {
      last.change = next;
      last.seqs.push(next.seq);
    } else {
      work.push({ change: next, seqs: [next.seq] });
    }
  }
  return work;
}
