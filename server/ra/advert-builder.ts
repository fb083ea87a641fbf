import type { NdOption } from '../../lib/ndp/nd-options.ts';
import type { RaInterfaceConfig } from './ra-config.ts';
import type { RouterAdvert } from '../../lib/ndp/router-advert.ts';

/**
 * RFC 4862 §5.5.3 (e): a host never lets an unauthenticated RA cut a
 * prefix's remaining valid lifetime below two hours, so the final RA asks
 * for no more than that; a shorter configured lifetime is kept.
 */
const FINAL_VALID_LIFETIME = 7200;

/**
 * The RA an interface sends while it advertises (RFC 4861 §6.2.3), from its
 * configuration and, when it is to be included, the interface's MAC.
 * Options come in radvd's order (prefixes, routes, RDNSS, DNSSL, MTU,
 * source link-layer address) so that the same configuration gives the same
 * bytes from both.
 */
export function buildRouterAdvert(config: RaInterfaceConfig, mac: string | undefined): RouterAdvert {
  return {
    curHopLimit: config.curHopLimit,
    managed: config.managed,
    otherConfig: config.otherConfig,
    routerPreference: config.routerPreference,
    routerLifetime: config.routerLifetimeSeconds,
    reachableTime: config.reachableTimeMs,
    retransTimer: config.retransTimerMs,
    options: options(config, mac, false),
  };
}

/**
 * The RA that withdraws this router when it stops advertising (RFC 4861
 * §6.2.5): Router Lifetime 0, so hosts drop it as a default router, with
 * the preference RFC 4191 §2.2 then requires (medium); its prefixes
 * deprecated (preferred lifetime 0, valid lifetime cut to two hours, RFC
 * 4862 §5.5.3), its routes, resolvers and search domains with lifetime 0
 * (RFC 4191 §3.1, RFC 8106 §5.1/§5.2: no longer to be used).
 */
export function buildFinalRouterAdvert(config: RaInterfaceConfig, mac: string | undefined): RouterAdvert {
  return { ...buildRouterAdvert(config, mac), routerPreference: 'medium', routerLifetime: 0, options: options(config, mac, true) };
}

function options(config: RaInterfaceConfig, mac: string | undefined, final: boolean): NdOption[] {
  const out: NdOption[] = [];
  for (const p of config.prefixes) {
    out.push({
      kind: 'prefix-information',
      prefixLength: p.prefixLength,
      onLink: p.onLink,
      autonomous: p.autonomous,
      validLifetime: final ? Math.min(p.validLifetimeSeconds, FINAL_VALID_LIFETIME) : p.validLifetimeSeconds,
      preferredLifetime: final ? 0 : p.preferredLifetimeSeconds,
      prefix: p.prefix,
    });
  }
  for (const r of config.routes) {
    out.push({ kind: 'route-information', prefixLength: r.prefixLength, preference: r.preference, lifetime: final ? 0 : r.lifetimeSeconds, prefix: r.prefix });
  }
  const dnsLifetime = final ? 0 : config.dnsLifetimeSeconds;
  if (config.rdnss.length > 0) out.push({ kind: 'rdnss', lifetime: dnsLifetime, servers: config.rdnss });
  if (config.dnssl.length > 0) out.push({ kind: 'dnssl', lifetime: dnsLifetime, domains: config.dnssl });
  if (config.mtu !== undefined) out.push({ kind: 'mtu', mtu: config.mtu });
  if (config.sourceLinkLayerAddress && mac !== undefined) out.push({ kind: 'source-link-layer-address', address: mac });
  return out;
}
