import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import type { NdOption } from '../../lib/ndp/nd-options.ts';
import { routerAdvert, type RouterAdvert } from '../../lib/ndp/router-advert.ts';
import type { RoutePreference } from '../../lib/ndp/router-preference.ts';
import { routerSolicit, type RouterSolicit } from '../../lib/ndp/router-solicit.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { bufferToIpv6 } from '../../lib/wire/ipv6.ts';
import { assertRoundTrip } from './helpers/roundtrip.ts';

const RUNS = { numRuns: 500, includeErrorInReport: true };

// ---- arbitraries -----------------------------------------------------------

const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const ipv6 = bytes(16, 16).map((b) => bufferToIpv6(b));
const preference = fc.constantFrom<RoutePreference>('high', 'medium', 'low', 'reserved');
const colonHex = (length: number) => bytes(length, length).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));

/** Labels in canonical text form, escapes included (dns-name.ts). */
const label = fc.oneof(
  fc.constantFrom('test', 'leasehold', 'lab', 'x\\.y', 'sp\\032ace', 'Mixed'),
  fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/),
);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));

const KNOWN_TYPES = new Set([1, 3, 5, 24, 25, 31]);

const option: fc.Arbitrary<NdOption> = fc.oneof(
  // Ethernet's 6 bytes, and longer addresses that fill their units exactly.
  record({ kind: fc.constant('source-link-layer-address' as const), address: fc.oneof(colonHex(6), colonHex(14)) }),
  record({
    kind: fc.constant('prefix-information' as const),
    prefixLength: fc.integer({ min: 0, max: 128 }),
    onLink: fc.boolean(),
    autonomous: fc.boolean(),
    validLifetime: u32,
    preferredLifetime: u32,
    prefix: ipv6,
  }),
  record({ kind: fc.constant('mtu' as const), mtu: u32 }),
  record({ kind: fc.constant('route-information' as const), prefixLength: fc.integer({ min: 0, max: 128 }), preference, lifetime: u32, prefix: ipv6 }),
  record({ kind: fc.constant('rdnss' as const), lifetime: u32, servers: fc.array(ipv6, { minLength: 1, maxLength: 4 }) }),
  record({ kind: fc.constant('dnssl' as const), lifetime: u32, domains: fc.array(domain, { minLength: 1, maxLength: 4 }) }),
  record({
    kind: fc.constant('unknown' as const),
    type: u8.filter((t) => !KNOWN_TYPES.has(t)),
    body: fc.integer({ min: 0, max: 3 }).chain((units) => bytes(6 + 8 * units, 6 + 8 * units)),
  }),
);

const advert: fc.Arbitrary<RouterAdvert> = record({
  curHopLimit: u8,
  managed: fc.boolean(),
  otherConfig: fc.boolean(),
  routerPreference: preference,
  routerLifetime: u16,
  reachableTime: u32,
  retransTimer: u32,
  options: fc.array(option, { maxLength: 8 }),
});

const solicit: fc.Arbitrary<RouterSolicit> = record({ options: fc.array(option, { maxLength: 4 }) });

// ---- properties ------------------------------------------------------------

test('every Router Advertisement survives encode → decode → encode', (t) => {
  fc.assert(fc.property(advert, (ra) => void assertRoundTrip(routerAdvert, ra)), RUNS);
  t.pass();
});

test('every Router Solicitation survives encode → decode → encode', (t) => {
  fc.assert(fc.property(solicit, (rs) => void assertRoundTrip(routerSolicit, rs)), RUNS);
  t.pass();
});

/** Decoding throws DecodeError or nothing; what decodes re-encodes to something that decodes the same. */
function decodesSafely<T>(codec: { decode(b: Buffer): T; encode(v: T): Buffer }, input: Buffer): void {
  let value: T;
  try {
    value = codec.decode(input);
  } catch (err) {
    assert.ok(err instanceof DecodeError, `not a DecodeError: ${String(err)}`);
    return;
  }
  assert.deepStrictEqual(codec.decode(codec.encode(value)), value);
}

test('arbitrary bytes after an RA or RS header decode or fail with DecodeError, nothing else', (t) => {
  const header = (type: number, length: number) => bytes(length, length).map((b) => Buffer.concat([Buffer.from([type]), b]));
  fc.assert(fc.property(header(134, 15), bytes(0, 120), (h, rest) => decodesSafely(routerAdvert, Buffer.concat([h, rest]))), RUNS);
  fc.assert(fc.property(header(133, 7), bytes(0, 120), (h, rest) => decodesSafely(routerSolicit, Buffer.concat([h, rest]))), RUNS);
  t.pass();
});

test('cutting an RA anywhere inside an option is a DecodeError; at an option boundary, a shorter RA', (t) => {
  fc.assert(
    fc.property(advert, fc.nat(), (ra, seed) => {
      const full = routerAdvert.encode(ra);
      const cut = 16 + (seed % (full.length - 15));
      const boundaries = [16];
      for (const o of ra.options) boundaries.push(boundaries[boundaries.length - 1] + routerAdvert.encodingLength({ ...ra, options: [o] }) - 16);
      const kept = boundaries.indexOf(cut);
      if (kept >= 0) {
        assert.deepStrictEqual(routerAdvert.decode(full.subarray(0, cut)).options, ra.options.slice(0, kept));
      } else {
        assert.throws(() => routerAdvert.decode(full.subarray(0, cut)), DecodeError);
      }
    }),
    RUNS,
  );
  t.pass();
});
