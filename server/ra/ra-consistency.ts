import { bufferToIpv6, ipv6ToBuffer } from '../../lib/wire/ipv6.ts';
import type { PrefixInformationOption } from '../../lib/ndp/option-prefix-information.ts';
import type { RouterAdvert } from '../../lib/ndp/router-advert.ts';

/** What RFC 4861 §6.2.7 asks a router to compare; each is counted as `ra_inconsistent_<field>`. */
export type RaConsistencyField =
  | 'cur-hop-limit'
  | 'managed'
  | 'other-config'
  | 'reachable-time'
  | 'retrans-timer'
  | 'mtu'
  | 'prefix-valid-lifetime'
  | 'prefix-preferred-lifetime';

/** One value another router advertises differently from us. */
export interface RaInconsistency {
  field: RaConsistencyField;
  ours: number | boolean;
  theirs: number | boolean;
  /** For the prefix fields: the prefix both advertise, "fd00:198:18::/64". */
  prefix?: string;
}

/**
 * RFC 4861 §6.2.7: what another router on the link advertises that
 * contradicts our own RA, so that hosts would switch between two values
 * with each RA they hear. Compared: Cur Hop Limit, Reachable Time and
 * Retrans Timer when both give one (0 is "unspecified", never a
 * conflict), the M and O flags, the MTU option when both send one, and
 * the valid and preferred lifetimes of every prefix both advertise
 * (prefixes only one of us advertises are no conflict: §6.2.7 says so).
 * Our lifetimes are fixed, not counting down (§6.2.1's alternative), so
 * the fields are compared as sent. In the order of the RA's fields, then
 * of their prefixes; empty when all agree.
 */
export function findInconsistencies(ours: RouterAdvert, theirs: RouterAdvert): RaInconsistency[] {
  const found: RaInconsistency[] = [];
  const specified = (field: RaConsistencyField, a: number, b: number) => {
    if (a !== 0 && b !== 0 && a !== b) found.push({ field, ours: a, theirs: b });
  };
  const flag = (field: RaConsistencyField, a: boolean, b: boolean) => {
    if (a !== b) found.push({ field, ours: a, theirs: b });
  };
  specified('cur-hop-limit', ours.curHopLimit, theirs.curHopLimit);
  flag('managed', ours.managed, theirs.managed);
  flag('other-config', ours.otherConfig, theirs.otherConfig);
  specified('reachable-time', ours.reachableTime, theirs.reachableTime);
  specified('retrans-timer', ours.retransTimer, theirs.retransTimer);

  const ourMtu = mtuOf(ours);
  const theirMtu = mtuOf(theirs);
  if (ourMtu !== undefined && theirMtu !== undefined && ourMtu !== theirMtu) found.push({ field: 'mtu', ours: ourMtu, theirs: theirMtu });

  const ourPrefixes = new Map(prefixesOf(ours).map((p) => [prefixKey(p), p]));
  for (const their of prefixesOf(theirs)) {
    const prefix = prefixKey(their);
    const our = ourPrefixes.get(prefix);
    if (!our) continue;
    if (our.validLifetime !== their.validLifetime) {
      found.push({ field: 'prefix-valid-lifetime', ours: our.validLifetime, theirs: their.validLifetime, prefix });
    }
    if (our.preferredLifetime !== their.preferredLifetime) {
      found.push({ field: 'prefix-preferred-lifetime', ours: our.preferredLifetime, theirs: their.preferredLifetime, prefix });
    }
  }
  return found;
}

function mtuOf(ra: RouterAdvert): number | undefined {
  for (const option of ra.options) if (option.kind === 'mtu') return option.mtu;
  return undefined;
}

function prefixesOf(ra: RouterAdvert): PrefixInformationOption[] {
  return ra.options.filter((o): o is PrefixInformationOption => o.kind === 'prefix-information');
}

/**
 * "network/length" with the bits past the length cleared: RFC 4861 §4.6.2
 * has receivers ignore them, so two RAs naming the same prefix with
 * different stray bits still name the same prefix.
 */
function prefixKey(option: PrefixInformationOption): string {
  const bytes = ipv6ToBuffer(option.prefix);
  for (let bit = option.prefixLength; bit < 128; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  return `${bufferToIpv6(bytes)}/${option.prefixLength}`;
}
