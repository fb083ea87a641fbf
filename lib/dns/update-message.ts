import { DecodeError } from '../wire/decode-error.ts';
import { Opcode, RrClass, RrType } from './dns-codes.ts';
import { newHeader } from './dns-header.ts';
import { decodeMessageLayout, encodeMessage, type DnsMessage } from './dns-message.ts';
import type { DnsRecord } from './dns-record.ts';
import { fromRdata, RECORD_TYPE_NUMBERS, recordTypeOf, toRdata } from './record-data.ts';
import type { Prerequisite, UpdateOp, UpdateRequest } from './update-request.ts';

/**
 * UpdateRequest ↔ UPDATE message (RFC 2136 §2). Each prerequisite and
 * update form is a fixed combination of class, type, TTL and RDATA; the
 * tables in §2.4 and §2.5 are the reference for every branch below. The
 * zone's class is IN throughout.
 */

/** §2.4, §2.5.2–2.5.4: "TTL ... must be specified as zero". */
const ZERO_TTL = 0;
const EMPTY = { kind: 'empty' } as const;

function prerequisiteRecord(p: Prerequisite, field: string): DnsRecord {
  const rr = (cls: number, type: number): DnsRecord => ({ name: p.name, type, class: cls, ttl: ZERO_TTL, rdata: EMPTY });
  switch (p.kind) {
    case 'rrset-exists': // §2.4.1
      return rr(RrClass.ANY, RECORD_TYPE_NUMBERS[p.type]);
    case 'rrset-exists-value': // §2.4.2
      return { ...rr(RrClass.IN, RECORD_TYPE_NUMBERS[p.record.type]), rdata: toRdata(p.record, field) };
    case 'rrset-not-exists': // §2.4.3
      return rr(RrClass.NONE, RECORD_TYPE_NUMBERS[p.type]);
    case 'name-in-use': // §2.4.4
      return rr(RrClass.ANY, RrType.ANY);
    case 'name-not-in-use': // §2.4.5
      return rr(RrClass.NONE, RrType.ANY);
  }
}

function updateRecord(u: UpdateOp, field: string): DnsRecord {
  switch (u.kind) {
    case 'add': // §2.5.1
      return { name: u.name, type: RECORD_TYPE_NUMBERS[u.record.type], class: RrClass.IN, ttl: u.ttl, rdata: toRdata(u.record, field) };
    case 'delete-rrset': // §2.5.2
      return { name: u.name, type: RECORD_TYPE_NUMBERS[u.type], class: RrClass.ANY, ttl: ZERO_TTL, rdata: EMPTY };
    case 'delete-name': // §2.5.3
      return { name: u.name, type: RrType.ANY, class: RrClass.ANY, ttl: ZERO_TTL, rdata: EMPTY };
    case 'delete-record': // §2.5.4
      return { name: u.name, type: RECORD_TYPE_NUMBERS[u.record.type], class: RrClass.NONE, ttl: ZERO_TTL, rdata: toRdata(u.record, field) };
  }
}

/** The UPDATE message for `req`, unsigned; throws EncodeError for values the wire cannot hold. */
export function updateMessage(id: number, req: UpdateRequest): DnsMessage {
  return {
    header: newHeader(id, Opcode.UPDATE),
    // §2.3: one zone, type SOA, the zone's class.
    questions: [{ name: req.zone, type: RrType.SOA, class: RrClass.IN }],
    answers: req.prerequisites.map((p, i) => prerequisiteRecord(p, `prerequisites[${i}]`)),
    authorities: req.updates.map((u, i) => updateRecord(u, `updates[${i}]`)),
    additionals: [],
  };
}

export function encodeUpdate(id: number, req: UpdateRequest): Buffer {
  return encodeMessage(updateMessage(id, req));
}

function readPrerequisite(rr: DnsRecord, field: string, at: number): Prerequisite {
  if (rr.ttl !== ZERO_TTL) throw new DecodeError(field, at, `prerequisite TTL is ${rr.ttl}, not 0 (RFC 2136 §2.4)`);
  const empty = rr.rdata.kind === 'empty';
  if (rr.class === RrClass.IN && !empty) {
    return { kind: 'rrset-exists-value', name: rr.name, record: fromRdata(recordTypeOf(rr.type, field, at), rr.rdata, field, at) };
  }
  if (empty && (rr.class === RrClass.ANY || rr.class === RrClass.NONE)) {
    const inUse = rr.class === RrClass.ANY;
    if (rr.type === RrType.ANY) return { kind: inUse ? 'name-in-use' : 'name-not-in-use', name: rr.name };
    return { kind: inUse ? 'rrset-exists' : 'rrset-not-exists', name: rr.name, type: recordTypeOf(rr.type, field, at) };
  }
  throw new DecodeError(field, at, `class ${rr.class} with ${empty ? 'empty' : 'non-empty'} data is no prerequisite form of RFC 2136 §2.4`);
}

function readUpdate(rr: DnsRecord, field: string, at: number): UpdateOp {
  const empty = rr.rdata.kind === 'empty';
  const noForm = () => new DecodeError(field, at, `class ${rr.class} with ${empty ? 'empty' : 'non-empty'} data is no update form of RFC 2136 §2.5`);
  if (rr.class === RrClass.IN) {
    if (empty) throw noForm();
    return { kind: 'add', name: rr.name, ttl: rr.ttl, record: fromRdata(recordTypeOf(rr.type, field, at), rr.rdata, field, at) };
  }
  if (rr.ttl !== ZERO_TTL) throw new DecodeError(field, at, `delete with TTL ${rr.ttl}, not 0 (RFC 2136 §2.5)`);
  if (rr.class === RrClass.ANY && empty) {
    if (rr.type === RrType.ANY) return { kind: 'delete-name', name: rr.name };
    return { kind: 'delete-rrset', name: rr.name, type: recordTypeOf(rr.type, field, at) };
  }
  if (rr.class === RrClass.NONE && !empty) {
    return { kind: 'delete-record', name: rr.name, record: fromRdata(recordTypeOf(rr.type, field, at), rr.rdata, field, at) };
  }
  throw noForm();
}

/**
 * An UPDATE message back to its id and UpdateRequest (for tests and for
 * logging what was sent). The Additional section, which carries only the
 * TSIG record in what Leasehold sends, is not part of the request. Throws
 * DecodeError for bytes that are no message, and for a message with a form
 * or type an UpdateRequest cannot express.
 */
export function decodeUpdate(buf: Buffer): { id: number; request: UpdateRequest } {
  const { message, offsets } = decodeMessageLayout(buf);
  if (message.header.opcode !== Opcode.UPDATE) {
    throw new DecodeError('header.opcode', 2, `opcode ${message.header.opcode} is not UPDATE (${Opcode.UPDATE})`);
  }
  const zone = message.questions[0];
  // §3.1.1: exactly one zone, of type SOA.
  if (message.questions.length !== 1 || zone.type !== RrType.SOA || zone.class !== RrClass.IN) {
    throw new DecodeError('zone', offsets.questions[0] ?? 4, 'the zone section must hold one IN SOA entry (RFC 2136 §3.1.1)');
  }
  return {
    id: message.header.id,
    request: {
      zone: zone.name,
      prerequisites: message.answers.map((rr, i) => readPrerequisite(rr, `prerequisites[${i}]`, offsets.answers[i])),
      updates: message.authorities.map((rr, i) => readUpdate(rr, `updates[${i}]`, offsets.authorities[i])),
    },
  };
}
