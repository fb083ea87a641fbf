import type { UpdateOutcome } from '../../../server/ddns/conflict-resolution.ts';
import type { DdnsZoneConfig } from '../../../server/ddns/ddns-config.ts';
import type { DnsRefusal, DnsUpdater, UpdateAnswer } from '../../../server/ddns/dns-updater-port.ts';
import type { Prerequisite, RecordData, UpdateOp, UpdateRequest } from '../../../lib/dns/update-request.ts';

/**
 * A zone that applies UPDATEs as RFC 2136 says a primary does: all
 * prerequisites checked in order, the first failing one's RCODE returned
 * (§3.2, table in §3.2.5), then the updates applied together (§3.4.2).
 * Enough of a server to walk the plans against real zone contents (the
 * real BIND is the integration tests', test/integration/ddns-*.test.ts).
 * One table for all names: zone boundaries are the planner's business.
 */
export class FakeZone {
  readonly records = new Map<string, RecordData[]>();
  readonly sent: UpdateRequest[] = [];

  constructor(initial: Record<string, RecordData[]> = {}) {
    for (const [name, rrs] of Object.entries(initial)) this.records.set(name, [...rrs]);
  }

  at(name: string): RecordData[] {
    return this.records.get(name) ?? [];
  }

  apply(req: UpdateRequest): UpdateOutcome {
    this.sent.push(req);
    for (const p of req.prerequisites) {
      const failed = this.check(p);
      if (failed) return failed;
    }
    for (const u of req.updates) this.applyUpdate(u);
    return 'success';
  }

  private check(p: Prerequisite): UpdateOutcome | undefined {
    const rrs = this.at(p.name);
    switch (p.kind) {
      case 'name-in-use':
        return rrs.length > 0 ? undefined : 'nxdomain';
      case 'name-not-in-use':
        return rrs.length === 0 ? undefined : 'yxdomain';
      case 'rrset-exists':
        return rrs.some((r) => r.type === p.type) ? undefined : 'nxrrset';
      case 'rrset-not-exists':
        return rrs.some((r) => r.type === p.type) ? 'yxrrset' : undefined;
      case 'rrset-exists-value': {
        // §3.2.3: the whole RRset must equal the one the prerequisites spell.
        const rrset = rrs.filter((r) => r.type === p.record.type);
        return rrset.length === 1 && rrset[0].data === p.record.data ? undefined : 'nxrrset';
      }
    }
  }

  private applyUpdate(u: UpdateOp): void {
    const rrs = this.at(u.name);
    let next: RecordData[];
    switch (u.kind) {
      case 'add':
        next = rrs.some((r) => r.type === u.record.type && r.data === u.record.data) ? rrs : [...rrs, u.record];
        break;
      case 'delete-rrset':
        next = rrs.filter((r) => r.type !== u.type);
        break;
      case 'delete-name':
        next = [];
        break;
      case 'delete-record':
        next = rrs.filter((r) => !(r.type === u.record.type && r.data === u.record.data));
        break;
    }
    if (next.length > 0) this.records.set(u.name, next);
    else this.records.delete(u.name);
  }
}

/** Runs a plan against the zone to its verdict. */

const REFUSED: DnsRefusal = { kind: 'refused', rcode: 'REFUSED', server: '198.18.0.2 port 53', code: 'E_DNS_REFUSED', detail: 'UPDATE: REFUSED' };

/** A FakeZone as the worker's DNS edge (DnsUpdater), with scripted answers and names an update policy refuses. */
export class FakeDnsZones extends FakeZone implements DnsUpdater {
  /** Answers to give instead of applying, one per message, while any are left. */
  readonly scripted: UpdateAnswer[] = [];
  /** Names an update policy does not grant (BIND's update-policy): a message touching one is refused whole. */
  readonly refusedNames = new Set<string>();

  /** Every message received, in order. */
  get messages(): UpdateRequest[] {
    return this.sent;
  }

  async update(_zone: DdnsZoneConfig, req: UpdateRequest): Promise<UpdateAnswer> {
    const scripted = this.scripted.shift();
    if (scripted !== undefined) {
      this.sent.push(req);
      return scripted;
    }
    if (req.updates.some((u) => this.refusedNames.has(u.name))) {
      this.sent.push(req);
      return REFUSED;
    }
    return this.apply(req);
  }

  /** The data of `name`'s records of `type`, sorted. */
  get(name: string, type: RecordData['type']): string[] {
    return this.at(name).filter((r) => r.type === type).map((r) => r.data).sort();
  }

  /** Names in each message to `zone` (a step is about one name: a forward name, or a PTR's reverse name). */
  namesPerMessage(zone: string): number[] {
    return this.sent.filter((m) => m.zone === zone).map((m) => new Set(m.updates.map((u) => u.name)).size);
  }
}
