/**
 * A DNS UPDATE (RFC 2136) in plain data: what the name policy and the
 * conflict-resolution planner produce, and what the UPDATE codec encodes.
 * Names are absolute, lower-case, without the trailing dot
 * ("web1.lab.leasehold.test").
 */
export type RecordType = 'A' | 'AAAA' | 'PTR' | 'DHCID';

/**
 * One record's data in presentation form: A dotted quad, AAAA RFC 5952
 * text, PTR a name (no trailing dot), DHCID base64 of the RDATA (RFC 4701 §3.4).
 */
export interface RecordData {
  type: RecordType;
  data: string;
}

/** RFC 2136 §2.4 prerequisites. */
export type Prerequisite =
  | { kind: 'name-in-use'; name: string } // §2.4.4: class ANY, type ANY
  | { kind: 'name-not-in-use'; name: string } // §2.4.5: class NONE, type ANY
  | { kind: 'rrset-exists'; name: string; type: RecordType } // §2.4.1: value independent
  | { kind: 'rrset-exists-value'; name: string; record: RecordData } // §2.4.2: value dependent
  | { kind: 'rrset-not-exists'; name: string; type: RecordType }; // §2.4.3

/** RFC 2136 §2.5 updates. */
export type UpdateOp =
  | { kind: 'add'; name: string; ttl: number; record: RecordData } // §2.5.1
  | { kind: 'delete-rrset'; name: string; type: RecordType } // §2.5.2: class ANY, empty rdata
  | { kind: 'delete-name'; name: string } // §2.5.3: class ANY, type ANY
  | { kind: 'delete-record'; name: string; record: RecordData }; // §2.5.4: class NONE

export interface UpdateRequest {
  /** The zone the names are in (the Zone section, §2.3). */
  zone: string;
  prerequisites: Prerequisite[];
  updates: UpdateOp[];
}
