// The RA built from an interface's configuration, and the final one; the
// golden tests compare both with radvd's bytes, these cover what they don't.
import test from 'ava';
import { validateConfig } from '../../server/config/validate.ts';
import { buildFinalRouterAdvert, buildRouterAdvert } from '../../server/ra/advert-builder.ts';
import type { RaInterfaceConfig } from '../../server/ra/ra-config.ts';

function raInterface(iface: Record<string, unknown>): RaInterfaceConfig {
  return validateConfig({
    interfaces: [{ name: 'eth0', address: '198.18.0.1' }],
    subnets: [{ id: 'lab', subnet: '198.18.0.0/16', interface: 'eth0', leaseTime: 3600 }],
    ra: { interfaces: [{ name: 'eth0', ...iface }] },
  }).ra!.interfaces[0];
}

test('a bare interface advertises only itself as default router and its MAC', (t) => {
  t.deepEqual(buildRouterAdvert(raInterface({}), '02:00:00:00:00:01'), {
    curHopLimit: 64,
    managed: false,
    otherConfig: false,
    routerPreference: 'medium',
    routerLifetime: 1800,
    reachableTime: 0,
    retransTimer: 0,
    options: [{ kind: 'source-link-layer-address', address: '02:00:00:00:00:01' }],
  });
});

test('no source link-layer address when it is turned off or the link has none', (t) => {
  t.deepEqual(buildRouterAdvert(raInterface({ sourceLinkLayerAddress: false }), '02:00:00:00:00:01').options, []);
  t.deepEqual(buildRouterAdvert(raInterface({}), undefined).options, []);
});

test('the final RA cuts prefix validity to two hours but keeps a shorter one', (t) => {
  const iface = raInterface({
    prefixes: [
      { prefix: 'fd00:198:18::/64', validLifetimeSeconds: 86400, preferredLifetimeSeconds: 3600 },
      { prefix: 'fd00:198:20::/64', validLifetimeSeconds: 600, preferredLifetimeSeconds: 300 },
    ],
  });
  const final = buildFinalRouterAdvert(iface, undefined);
  t.like(final, { routerLifetime: 0, routerPreference: 'medium' });
  t.deepEqual(
    final.options.map((o) => (o.kind === 'prefix-information' ? [o.validLifetime, o.preferredLifetime] : o.kind)),
    [
      [7200, 0],
      [600, 0],
    ],
  );
});
