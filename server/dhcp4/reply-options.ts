import { intToIp } from '../wire/ipv4.ts';
import type { Dhcp4Message } from './message.ts';
import { Opt } from './option-defs.ts';
import type { ServedSubnet } from './served-subnet.ts';
import type { ReplyModifier } from './reply.ts';

/**
 * Options every client gets whether or not it listed them (RFC 2131 §4.3.1
 * leaves the choice to the server; these are the ones basic clients such as
 * busybox udhcpc rely on without asking). Everything else is sent only when
 * the Parameter Request List (option 55) names it, or to a client that sends
 * no list at all.
 */
const ALWAYS_SENT = new Set<number>([Opt.SubnetMask.code, Opt.Router.code, Opt.DomainServer.code, Opt.DomainName.code]);

/** Lease duration and renewal timers (RFC 2131 §4.3.1, §4.4.5). */
export function withLeaseTimes(subnet: ServedSubnet): ReplyModifier {
  return (reply) => {
    reply.options.set(Opt.LeaseTime, subnet.leaseSeconds);
    reply.options.set(Opt.RenewalTime, subnet.renewSeconds);
    reply.options.set(Opt.RebindingTime, subnet.rebindSeconds);
  };
}

/** The subnet's configured parameters, filtered by the client's request list. */
export function withSubnetOptions(subnet: ServedSubnet, request: Dhcp4Message): ReplyModifier {
  const requested = request.options.get(Opt.ParamRequestList);
  const wanted = (code: number) => requested === undefined || ALWAYS_SENT.has(code) || requested.includes(code);
  const o = subnet.config.options ?? {};
  return (reply) => {
    const put = <T>(def: { code: number }, value: T | undefined, set: (v: T) => void) => {
      if (value !== undefined && wanted(def.code)) set(value);
    };
    put(Opt.SubnetMask, intToIp(subnet.mask), (v) => reply.options.set(Opt.SubnetMask, v));
    put(Opt.Router, nonEmpty(o.routers), (v) => reply.options.set(Opt.Router, v));
    put(Opt.DomainServer, nonEmpty(o.dnsServers), (v) => reply.options.set(Opt.DomainServer, v));
    put(Opt.DomainName, o.domainName, (v) => reply.options.set(Opt.DomainName, v));
    put(Opt.InterfaceMtu, o.mtu, (v) => reply.options.set(Opt.InterfaceMtu, v));
    put(Opt.BroadcastAddress, intToIp(subnet.broadcast), (v) => reply.options.set(Opt.BroadcastAddress, v));
    put(Opt.NtpServers, nonEmpty(o.ntpServers), (v) => reply.options.set(Opt.NtpServers, v));
    put(Opt.DomainSearch, nonEmpty(o.domainSearch), (v) => reply.options.set(Opt.DomainSearch, v));
    put(Opt.ClasslessRoutes, nonEmpty(o.classlessRoutes), (v) => reply.options.set(Opt.ClasslessRoutes, v));
  };
}

function nonEmpty<T>(list: T[] | undefined): T[] | undefined {
  return list && list.length > 0 ? list : undefined;
}
