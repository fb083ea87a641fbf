import test from 'ava';
import type { DdnsConfig, DdnsZoneConfig, SubnetDdnsConfig } from '../../server/ddns/ddns-config.ts';
import { chooseName, type NameDecision, type NameRequest } from '../../server/ddns/name-policy.ts';
import { clientFqdnKind, type ClientFqdn, type ClientFqdnFlags } from '../../lib/dhcp4/options/client-fqdn.ts';

const zone = (name: string): DdnsZoneConfig => ({ name, servers: [{ address: '198.18.0.2', port: 53 }] });
const FORWARD = zone('leasehold.test');
const REVERSE_V4 = zone('18.198.in-addr.arpa');
const REVERSE_V6 = zone('0.0.0.0.8.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa');

/** The lab, as config/leasehold.example.yaml sets it up. */
function lab(overrides: Partial<DdnsConfig> = {}): DdnsConfig {
  return {
    enabled: true,
    zones: [FORWARD, REVERSE_V4, REVERSE_V6],
    conflictResolution: 'check-with-dhcid',
    ttl: { floor: 60, cap: 86400 },
    onRefusedName: 'generate',
    updateOnRenew: false,
    retry: { initialMs: 1000, maxMs: 60000 },
    reconcileIntervalSeconds: 300,
    claimSeconds: 30,
    ...overrides,
  };
}
const LAB_SUBNET: SubnetDdnsConfig = { domain: 'leasehold.test', defaultApp: 'lab', slaacPrefix: 'fd00:198:18::/64' };

function request(fields: Partial<NameRequest>): NameRequest {
  return {
    clientKey: 'hw:02:42:c6:12:00:0b',
    ipv4: '198.18.1.5',
    hwAddress: '02:42:c6:12:00:0b',
    ddns: lab(),
    subnet: LAB_SUBNET,
    ...fields,
  };
}

/** Option 81 as a client sends it: RCODEs 0, flags as given. */
function fqdn(name: string, flags: Partial<ClientFqdnFlags> = {}, partial = !name.endsWith('.')): ClientFqdn {
  return {
    flags: { s: true, o: false, e: true, n: false, ...flags },
    rcode1: 0,
    rcode2: 0,
    name: name.replace(/\.$/, ''),
    partial,
  };
}

function fqdnOf(decision: NameDecision): string | undefined {
  return decision.register ? decision.fqdn : undefined;
}

test('a host name alone goes under the default app, with A, AAAA and both PTR owners', (t) => {
  const decision = chooseName(request({ hostname: 'h' }));
  t.deepEqual(decision, {
    register: true,
    fqdn: 'h.lab.leasehold.test',
    host: 'h',
    app: 'lab',
    forwardZone: FORWARD,
    addresses: [
      { record: { type: 'A', data: '198.18.1.5' }, reverseName: '5.1.18.198.in-addr.arpa', reverseZone: REVERSE_V4 },
      {
        record: { type: 'AAAA', data: 'fd00:198:18:0:42:c6ff:fe12:b' },
        reverseName: 'b.0.0.0.2.1.e.f.f.f.6.c.2.4.0.0.0.0.0.0.8.1.0.0.8.9.1.0.0.0.d.f.ip6.arpa',
        reverseZone: REVERSE_V6,
      },
    ],
  });
});

test('a partial client FQDN names the app; the reply says S, not O, RCODEs 255, the full name (RFC 4702 §4)', (t) => {
  const decision = chooseName(request({ fqdnOption: fqdn('h.web'), hostname: 'ignored' }));
  t.like(decision, { register: true, fqdn: 'h.web.leasehold.test', host: 'h', app: 'web' });
  t.deepEqual(decision.fqdnReply, {
    flags: { s: true, o: false, e: true, n: false },
    rcode1: 255,
    rcode2: 255,
    name: 'h.web.leasehold.test',
    partial: false,
  });
});

test('the reply uses the client encoding: ASCII when E=0 (RFC 4702 §4)', (t) => {
  const decision = chooseName(request({ fqdnOption: fqdn('h.web', { e: false }) }));
  t.false(decision.fqdnReply?.flags.e);
  // And the reply goes on the wire as the option 81 codec writes it.
  t.is(clientFqdnKind.encode(decision.fqdnReply as ClientFqdn).toString('latin1'), '\x01\xff\xffh.web.leasehold.test.');
  const wire = chooseName(request({ fqdnOption: fqdn('h.web') })).fqdnReply as ClientFqdn;
  t.deepEqual(clientFqdnKind.decode(clientFqdnKind.encode(wire)), wire);
});

test('S=0 (the client would update A itself) is overridden: S=1, O=1', (t) => {
  const decision = chooseName(request({ fqdnOption: fqdn('h', { s: false }) }));
  t.is(fqdnOf(decision), 'h.lab.leasehold.test');
  t.deepEqual(decision.fqdnReply?.flags, { s: true, o: true, e: true, n: false });
});

test('N=1 (no server updates) is honoured, and said back', (t) => {
  const decision = chooseName(request({ fqdnOption: fqdn('h.web', { s: false, n: true }) }));
  t.like(decision, { register: false, reason: 'client-declined' });
  t.deepEqual(decision.fqdnReply, {
    flags: { s: false, o: false, e: true, n: true },
    rcode1: 255,
    rcode2: 255,
    name: 'h.web',
    partial: true,
  });
  // N and S together are invalid (RFC 4702 §2.1): no update, and O says S was not followed.
  const both = chooseName(request({ fqdnOption: fqdn('h', { s: true, n: true }) }));
  t.like(both, { register: false, reason: 'client-declined' });
  t.deepEqual(both.fqdnReply?.flags, { s: false, o: true, e: true, n: true });
});

test('a fully qualified name must already be <host>.<app>.<domain>', (t) => {
  t.is(fqdnOf(chooseName(request({ fqdnOption: fqdn('h.web.leasehold.test.') }))), 'h.web.leasehold.test');
  t.is(fqdnOf(chooseName(request({ fqdnOption: fqdn('H.Web.LeaseHold.Test.') }))), 'h.web.leasehold.test');
  const skip = { ddns: lab({ onRefusedName: 'skip' }) };
  for (const name of ['h.leasehold.test.', 'a.h.web.leasehold.test.', 'h.web.other.test.', 'leasehold.test.', 'h.webleasehold.test.']) {
    t.like(chooseName(request({ fqdnOption: fqdn(name), ...skip })), { register: false, reason: 'wrong-domain' }, name);
  }
  t.like(chooseName(request({ fqdnOption: fqdn('a.b.c'), ...skip })), { register: false, reason: 'wrong-domain' });
});

test('labels are RFC 1123 and lower-cased', (t) => {
  t.like(chooseName(request({ fqdnOption: fqdn('Web-1.API') })), { fqdn: 'web-1.api.leasehold.test', host: 'web-1', app: 'api' });
  t.is(fqdnOf(chooseName(request({ hostname: 'DB01' }))), 'db01.lab.leasehold.test');
  const skip = { ddns: lab({ onRefusedName: 'skip' }) };
  for (const name of ['bad_name', '-h', 'h-', 'h.we b', 'caf\u00e9', 'h\\.web', '.web', `${'a'.repeat(64)}`, 'h.web\\000']) {
    t.like(chooseName(request({ fqdnOption: fqdn(name, {}, true), ...skip })), { register: false, reason: 'invalid-name' }, name);
  }
  t.like(chooseName(request({ hostname: 'bad_name', ...skip })), { register: false, reason: 'invalid-name' });
});

test('a name over 253 characters is refused', (t) => {
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}`;
  const domain = `${'c'.repeat(63)}.${'d'.repeat(47)}.leasehold.test`;
  const decision = chooseName(
    request({ fqdnOption: fqdn(long), subnet: { domain, defaultApp: 'lab' }, ddns: lab({ onRefusedName: 'skip' }) }),
  );
  t.like(decision, { register: false, reason: 'invalid-name' });
});

test('a refused name is replaced by a generated one, stable per client', (t) => {
  const first = chooseName(request({ fqdnOption: fqdn('bad_name.web') }));
  t.like(first, { register: true, app: 'lab', replaced: { reason: 'invalid-name' } });
  const name = fqdnOf(first) as string;
  t.regex(name, /^dhcp-[0-9a-f]{12}\.lab\.leasehold\.test$/);
  // The reply carries the name actually registered.
  t.is(first.fqdnReply?.name, name);
  t.is(first.fqdnReply?.partial, false);
  // Same client, another bad name: same generated name (a renewal keeps it).
  t.is(fqdnOf(chooseName(request({ hostname: 'other_bad' }))), name);
  // Another client: another name.
  t.not(fqdnOf(chooseName(request({ hostname: 'other_bad', clientKey: 'id:01020304' }))), name);
});

test('a refused name is not registered when onRefusedName is skip; the reply says N', (t) => {
  const decision = chooseName(request({ fqdnOption: fqdn('bad_name'), ddns: lab({ onRefusedName: 'skip' }) }));
  t.like(decision, { register: false, reason: 'invalid-name' });
  t.deepEqual(decision.fqdnReply, {
    flags: { s: false, o: true, e: true, n: true },
    rcode1: 255,
    rcode2: 255,
    name: 'bad_name',
    partial: true,
  });
});

test('an app not allowed on the subnet is refused; the default app always is', (t) => {
  const subnet: SubnetDdnsConfig = { ...LAB_SUBNET, allowedApps: ['lab', 'web'] };
  t.is(fqdnOf(chooseName(request({ fqdnOption: fqdn('h.web'), subnet }))), 'h.web.leasehold.test');
  t.is(fqdnOf(chooseName(request({ fqdnOption: fqdn('h.WEB'), subnet }))), 'h.web.leasehold.test');
  t.like(chooseName(request({ fqdnOption: fqdn('h.db'), subnet, ddns: lab({ onRefusedName: 'skip' }) })), {
    register: false,
    reason: 'app-not-allowed',
  });
  const replaced = chooseName(request({ fqdnOption: fqdn('h.db'), subnet }));
  t.like(replaced, { register: true, app: 'lab', replaced: { reason: 'app-not-allowed' } });
});

test('names outside every zone are refused, generated ones too', (t) => {
  const ddns = lab({ zones: [zone('other.test')] });
  t.like(chooseName(request({ hostname: 'h', ddns })), { register: false, reason: 'outside-zones' });
  t.like(chooseName(request({ hostname: 'h', ddns: { ...ddns, onRefusedName: 'skip' } })), {
    register: false,
    reason: 'outside-zones',
  });
});

test('the longest zone wins: a delegated app zone gets its own names', (t) => {
  const webZone = zone('web.leasehold.test');
  const decision = chooseName(request({ fqdnOption: fqdn('h.web'), ddns: lab({ zones: [FORWARD, webZone] }) }));
  t.like(decision, { register: true, forwardZone: webZone });
});

test('an empty option 81 name leaves the name to the server', (t) => {
  const generated = chooseName(request({ fqdnOption: fqdn(''), hostname: 'h' }));
  t.regex(fqdnOf(generated) ?? '', /^dhcp-[0-9a-f]{12}\.lab\.leasehold\.test$/);
  t.is((generated as { replaced?: unknown }).replaced, undefined);
  t.like(chooseName(request({ fqdnOption: fqdn(''), ddns: lab({ onRefusedName: 'skip' }) })), {
    register: false,
    reason: 'no-name',
  });
});

test('no name at all: nothing registered, no option 81 in the reply', (t) => {
  const decision = chooseName(request({}));
  t.deepEqual(decision, { register: false, reason: 'no-name', detail: 'the client sent no name (neither option 81 nor 12)' });
  t.like(chooseName(request({ hostname: '\0' })), { register: false, reason: 'no-name' });
});

test('option 12: trailing NULs dropped, only the first label is the host', (t) => {
  t.is(fqdnOf(chooseName(request({ hostname: 'h\0' }))), 'h.lab.leasehold.test');
  t.is(fqdnOf(chooseName(request({ hostname: 'h.web.example.com' }))), 'h.lab.leasehold.test');
});

test('DDNS off, for the server or the subnet: nothing registered, N=1 to a client that asked', (t) => {
  for (const fields of [{ ddns: lab({ enabled: false }) }, { ddns: undefined }, { subnet: undefined }]) {
    const decision = chooseName(request({ fqdnOption: fqdn('h.web'), ...fields }));
    t.like(decision, { register: false, reason: 'disabled' });
    t.deepEqual(decision.fqdnReply?.flags, { s: false, o: true, e: true, n: true });
  }
  t.is(chooseName(request({ hostname: 'h', ddns: undefined })).fqdnReply, undefined);
});

test('addresses: no AAAA without a SLAAC prefix or a 48-bit MAC; no reverse zone, no PTR zone', (t) => {
  const noPrefix = chooseName(request({ hostname: 'h', subnet: { domain: 'leasehold.test', defaultApp: 'lab' } }));
  t.deepEqual(noPrefix.register && noPrefix.addresses.map((a) => a.record.type), ['A']);
  const ib = chooseName(request({ hostname: 'h', hwAddress: '80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:0b:0c' }));
  t.deepEqual(ib.register && ib.addresses.map((a) => a.record.type), ['A']);
  const noReverse = chooseName(request({ hostname: 'h', ddns: lab({ zones: [FORWARD] }) }));
  t.deepEqual(noReverse.register && noReverse.addresses[0], {
    record: { type: 'A', data: '198.18.1.5' },
    reverseName: '5.1.18.198.in-addr.arpa',
  });
});
