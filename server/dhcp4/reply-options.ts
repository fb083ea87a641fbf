import type { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Opt, type OptionDef } from '../../lib/dhcp4/option-defs.ts';
import type { ReplyModifier } from '../../lib/dhcp4/reply.ts';
import { directedBroadcast, type Cidr } from '../../lib/wire/cidr.ts';
import { intToIp, LIMITED_BROADCAST } from '../../lib/wire/ipv4.ts';
import type { SubnetOptions } from './dhcp4-config.ts';

/**
 * Options every client gets whether or not it listed them (RFC 2131 §4.3.1
 * leaves the choice to the server; these are the ones basic clients such as
 * busybox udhcpc rely on without asking). Everything else is sent only when
 * the Parameter Request List (option 55) names it, or to a client that sends
 * no list at all.
 */
const ALWAYS_SENT = new Set<number>([Opt.SubnetMask.code, Opt.Router.code, Opt.DomainServer.code, Opt.DomainName.code]);

/**
 * A subnet's parameters encoded once, at start-up, in option-code order:
 * the reply path then copies bytes instead of re-encoding (option 119's
 * compression is the costliest part of building an ACK).
 */
export type EncodedOptions = ReadonlyArray<{ code: number; data: Buffer }>;

export function encodeSubnetOptions(o: SubnetOptions, network: Cidr): EncodedOptions {
  const encoded: Array<{ code: number; data: Buffer }> = [];
  const add = <T>(def: OptionDef<T>, value: T | undefined) => {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) return;
    encoded.push({ code: def.code, data: def.kind.encode(value) });
  };
  add(Opt.SubnetMask, intToIp(network.mask));
  add(Opt.Router, o.routers);
  add(Opt.DomainServer, o.dnsServers);
  add(Opt.DomainName, o.domainName);
  add(Opt.InterfaceMtu, o.mtu);
  add(Opt.BroadcastAddress, broadcastAddress(network));
  add(Opt.NtpServers, o.ntpServers);
  add(Opt.DomainSearch, o.domainSearch);
  add(Opt.ClasslessRoutes, o.classlessRoutes);
  return encoded;
}

/**
 * Option 28 (RFC 2132 §5.3), the broadcast address of the client's subnet.
 * A /31 or /32 has no directed broadcast (RFC 3021 §2.2: its all-ones
 * address is a host, the client's or the server's), so there it is the
 * limited broadcast, the only one the link has. Sent rather than left out:
 * ISC dhclient, given no option 28, derives network | ~mask itself, which
 * on a /31 is one of the two hosts (Kea sends option 28 only when
 * configured, and its /31 clients get exactly that).
 */
function broadcastAddress(network: Cidr): string {
  const directed = directedBroadcast(network);
  return directed === undefined ? LIMITED_BROADCAST : intToIp(directed);
}

/** A lease's duration and renewal timers, in seconds. */
export interface LeaseTimes {
  readonly leaseSeconds: number;
  readonly renewSeconds: number;
  readonly rebindSeconds: number;
}

/** Options 51, 58, 59 of a subnet's times, encoded on first use (a subnet's times never change). */
const encodedTimes = new WeakMap<LeaseTimes, EncodedOptions>();

function encodedLeaseTimes(times: LeaseTimes): EncodedOptions {
  let encoded = encodedTimes.get(times);
  if (encoded === undefined) {
    encoded = [
      { code: Opt.LeaseTime.code, data: Opt.LeaseTime.kind.encode(times.leaseSeconds) },
      { code: Opt.RenewalTime.code, data: Opt.RenewalTime.kind.encode(times.renewSeconds) },
      { code: Opt.RebindingTime.code, data: Opt.RebindingTime.kind.encode(times.rebindSeconds) },
    ];
    encodedTimes.set(times, encoded);
  }
  return encoded;
}

/** Lease duration and renewal timers (RFC 2131 §4.3.1, §4.4.5), as the subnet's `times` say. */
export function withLeaseTimes(times: LeaseTimes): ReplyModifier {
  const encoded = encodedLeaseTimes(times);
  return (reply) => {
    for (const { code, data } of encoded) reply.options.setRaw(code, data);
  };
}

/** The subnet's configured parameters, filtered by the client's request list. */
export function withSubnetOptions(subnet: { readonly encodedOptions: EncodedOptions }, request: Dhcp4Message): ReplyModifier {
  const requested = request.options.get(Opt.ParamRequestList);
  return (reply) => {
    for (const { code, data } of subnet.encodedOptions) {
      if (requested === undefined || ALWAYS_SENT.has(code) || requested.includes(code)) reply.options.setRaw(code, data);
    }
  };
}
