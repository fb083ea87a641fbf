import { dnsRecord } from '../../lib/dns/dns-record.ts';
import { updateMessage } from '../../lib/dns/update-message.ts';
import type { UpdateRequest } from '../../lib/dns/update-request.ts';
import type { UpdateOutcome } from './conflict-resolution.ts';

/**
 * Several names' UPDATEs of one zone as one message, and what its answer
 * means for each name. Pure.
 *
 * RFC 2136 lets one UPDATE carry any number of prerequisites and updates
 * (§2.4, §2.5); the server checks every prerequisite before it applies
 * anything (§3.2) and then applies all updates or none (§3.4, §3.7). Each
 * name's part is the step its own RFC 4703 plan (conflict-resolution.ts)
 * would send alone, and one message holds at most one step per name, whose
 * prerequisites and updates concern that name only (or, for a PTR, its
 * reverse name). So a message that succeeds has the effect each part would
 * have had alone — and one whose prerequisites fail says nothing about
 * which part failed (§3.2.5 names the first failure only): it is split
 * and sent again in halves, down to single names, which get their own
 * answer, exactly as when sent alone.
 */

/** What the server answered to a message: an RCODE conflict resolution reasons about, or one of these. */
export type BatchAnswer =
  | { kind: 'outcome'; outcome: UpdateOutcome }
  /** A refusal for good (REFUSED, NOTAUTH…); `zoneWide` when it cannot be about one name of the message. */
  | { kind: 'refused'; zoneWide: boolean }
  /** Not applied for now: `answered` when the server said so (SERVFAIL…), else no answer came (timeout, unreachable). */
  | { kind: 'failed'; answered: boolean };

/** What to do with the parts of a message after its answer. */
export type BatchVerdict = 'answer-each' | 'split';

/**
 * Success is every part's success; an answer that may be about one part
 * only (a failed prerequisite, a refusal a name can cause, an error the
 * server answered with) splits a message of several parts, so one name
 * never decides for the others; an answer about the zone or the server
 * (a refusal of the key, no answer at all) is every part's.
 */
export function judgeBatch(answer: BatchAnswer, parts: number): BatchVerdict {
  if (parts <= 1) return 'answer-each';
  switch (answer.kind) {
    case 'outcome':
      return answer.outcome === 'success' || answer.outcome === 'failed' ? 'answer-each' : 'split';
    case 'refused':
      return answer.zoneWide ? 'answer-each' : 'split';
    case 'failed':
      return answer.answered ? 'split' : 'answer-each';
  }
}

/** The two halves a message of several parts is sent again as (bisection: about 2·log2(n) messages find one failing part among n). */
export function splitBatch<T>(parts: readonly T[]): [T[], T[]] {
  const half = Math.ceil(parts.length / 2);
  return [parts.slice(0, half), parts.slice(half)];
}

/** One message for the zone with every part's prerequisites, then every part's updates, in the parts' order. */
export function mergeRequests(zone: string, parts: readonly UpdateRequest[]): UpdateRequest {
  return {
    zone,
    prerequisites: parts.flatMap((p) => p.prerequisites),
    updates: parts.flatMap((p) => p.updates),
  };
}

/** The bytes a part adds to a message: its prerequisite and update records (names are written uncompressed). */
export function partBytes(part: UpdateRequest): number {
  const message = updateMessage(0, part);
  return [...message.answers, ...message.authorities].reduce((n, rr) => n + dnsRecord.encodingLength(rr), 0);
}

export interface BatchLimits {
  /** Names (parts) in one message at most. */
  maxParts: number;
  /** Bytes of prerequisite and update records in one message at most (the whole message must stay under 64 KiB for TCP, RFC 1035 §4.2.2). */
  maxBytes: number;
}

/**
 * How many of the waiting parts, taken from the front, go into the next
 * message: as many as fit the limits, and always the first (a part too big
 * for the limits alone is sent alone).
 */
export function batchLength(sizes: readonly number[], limits: BatchLimits): number {
  let bytes = 0;
  let n = 0;
  while (n < sizes.length && n < limits.maxParts) {
    if (n > 0 && bytes + sizes[n] > limits.maxBytes) break;
    bytes += sizes[n];
    n++;
  }
  return n;
}
