import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { describe } from '../../lib/dhcp4/format.ts';
import { BOOTP_MIN_LENGTH, Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Opt, type OptionDef } from '../../lib/dhcp4/option-defs.ts';
import type { ClasslessRoute } from '../../lib/dhcp4/options/classless-routes.ts';
import type { ClientFqdn } from '../../lib/dhcp4/options/client-fqdn.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { assertRoundTrip, messageCodec } from './helpers/roundtrip.ts';

const RUNS = { numRuns: 500, includeErrorInReport: true };
const defs = Object.values(Opt) as OptionDef<unknown>[];
const knownCodes = new Set(defs.map((d) => d.code));

// ---- arbitraries -----------------------------------------------------------

/** Plain objects, like the values the codecs produce (fast-check may otherwise use a null prototype). */
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
const bytes = (maxLength: number, minLength = 0) =>
  fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const latin1 = (maxLength: number) => bytes(maxLength).map((b) => b.toString('latin1'));

/** Labels in canonical text form, from a small pool so that suffixes repeat and compression kicks in. */
const label = fc.oneof(
  fc.constantFrom('com', 'example', 'lab', 'leasehold', 'test', 'a', 'x\\.y', 'sp\\032ace', '\\\\', 'Mixed'),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
);
const domainName = fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('.'));

const route: fc.Arbitrary<ClasslessRoute> = fc
  .record({ width: fc.integer({ min: 0, max: 32 }), octets: fc.array(u8, { minLength: 4, maxLength: 4 }), router: fc.ipV4() })
  .map(({ width, octets, router }) => {
    const significant = Math.ceil(width / 8);
    const dest = octets.map((o, i) => (i < significant ? o : 0));
    return { destination: `${dest.join('.')}/${width}`, router };
  });

const fqdn: fc.Arbitrary<ClientFqdn> = fc
  .record({
    flags: record({ s: fc.boolean(), o: fc.boolean(), e: fc.boolean(), n: fc.boolean() }),
    rcode1: u8,
    rcode2: u8,
    partial: fc.boolean(),
    wireName: fc.oneof(fc.constant(''), domainName),
    asciiName: latin1(40),
  })
  .filter((v) => v.flags.e || !v.partial || !v.asciiName.endsWith('.'))
  .map(({ wireName, asciiName, ...rest }) => ({ ...rest, name: rest.flags.e ? wireName : asciiName }));

function arbitraryFor(def: OptionDef<unknown>): fc.Arbitrary<unknown> {
  switch (def.kind.name) {
    case 'ip':
      return fc.ipV4();
    case 'ip-list':
      return fc.array(fc.ipV4(), { minLength: 1, maxLength: 80 });
    case 'u8':
      return u8;
    case 'u16':
      return u16;
    case 'u32':
      return u32;
    case 'string':
      return latin1(300);
    case 'u8-list':
      return fc.array(u8, { maxLength: 300 });
    case 'message-type':
      return u8;
    case 'client-id':
      return record({ type: u8, id: bytes(300) });
    case 'client-fqdn':
      return fqdn;
    case 'relay-agent-info':
      return record({ subOptions: fc.array(record({ code: u8, data: bytes(40) }), { maxLength: 8 }) });
    case 'domain-list':
      return fc.array(domainName, { maxLength: 30 });
    case 'classless-routes':
      return fc.array(route, { maxLength: 60 });
    default:
      throw new Error(`no arbitrary for kind ${def.kind.name}`);
  }
}

const header = record({
  op: fc.constantFrom(1 as const, 2 as const),
  htype: u8,
  hlen: fc.integer({ min: 0, max: 16 }),
  hops: u8,
  xid: u32,
  secs: u16,
  flags: u16,
  ciaddr: fc.ipV4(),
  yiaddr: fc.ipV4(),
  siaddr: fc.ipV4(),
  giaddr: fc.ipV4(),
  chaddr: bytes(16, 16),
  sname: bytes(64, 64),
  file: bytes(128, 128),
});

// Overload (52) is left out: decoding a message that carries it reads
// sname/file as options, which is tested on its own.
const modelled = defs.filter((d) => d.code !== Opt.Overload.code);
const knownOptions = fc
  .shuffledSubarray(modelled)
  .chain((chosen) => fc.tuple(...chosen.map((d) => arbitraryFor(d).map((v) => [d, v] as const))));
const unknownOptions = fc.uniqueArray(
  record({ code: fc.integer({ min: 1, max: 254 }).filter((c) => !knownCodes.has(c)), data: bytes(300) }),
  { selector: (o) => o.code, maxLength: 5 },
);

const validMessage = fc
  .record({ header, known: knownOptions, unknown: unknownOptions, extra: fc.option(fc.integer({ min: 0, max: 400 })) })
  .map(({ header: h, known, unknown, extra }) => {
    const msg = new Dhcp4Message(h);
    for (const [def, value] of known) msg.options.set(def, value);
    for (const { code, data } of unknown) msg.options.setRaw(code, data);
    if (extra !== null) {
      // Any length at least as long as the content round-trips, except one
      // that equals what padding to 300 gives: that encodes the same as the
      // default and so decodes as the default.
      msg.minLength = 0;
      const wanted = msg.encodingLength() + extra;
      msg.minLength = wanted === Math.max(BOOTP_MIN_LENGTH, msg.encodingLength()) ? BOOTP_MIN_LENGTH : wanted;
    }
    return msg;
  });

/** Option streams that are mostly well formed, with pads, ends, lies about lengths and junk. */
const optionCode = fc.oneof(fc.constantFrom(...knownCodes), u8);

/** An option as it appears on the wire, split into 255-byte pieces as RFC 3396 does. */
function tlv(code: number, data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  do {
    const piece = data.subarray(at, at + 255);
    parts.push(Buffer.from([code, piece.length]), piece);
    at += 255;
  } while (at < data.length);
  return Buffer.concat(parts);
}

/** A well-formed value of a modelled option. */
const encodedOption = fc
  .constantFrom(...modelled)
  .chain((def) => arbitraryFor(def).map((value) => tlv(def.code, def.kind.encode(value))));
const optionStream = fc
  .array(
    fc.oneof(
      // Mostly well-formed options, so that decoding gets far and getters see real data…
      { arbitrary: encodedOption, weight: 6 },
      { arbitrary: record({ code: optionCode, data: bytes(40) }).map(({ code, data }) => tlv(code, data)), weight: 6 },
      { arbitrary: fc.constant(Buffer.from([0])), weight: 2 },
      // …with the occasional End, lying length or junk.
      { arbitrary: fc.constant(Buffer.from([255])), weight: 1 },
      {
        arbitrary: record({ code: optionCode, len: u8, data: bytes(40) }).map(({ code, len, data }) =>
          Buffer.concat([Buffer.from([code, len]), data]),
        ),
        weight: 1,
      },
      { arbitrary: bytes(8), weight: 1 },
    ),
    { maxLength: 30 },
  )
  .map((parts) => Buffer.concat(parts));

const fieldOfOptions = (size: number) =>
  fc.oneof(bytes(size, size), optionStream.map((s) => Buffer.concat([s, Buffer.alloc(size)]).subarray(0, size)));

const validPrefix = fc
  .record({
    fixed: bytes(44, 44),
    op: fc.constantFrom(1, 2),
    hlen: fc.integer({ min: 0, max: 16 }),
    sname: fieldOfOptions(64),
    file: fieldOfOptions(128),
  })
  .map(({ fixed, op, hlen, sname, file }) => {
    fixed[0] = op;
    fixed[2] = hlen;
    return Buffer.concat([fixed, sname, file, Buffer.from([0x63, 0x82, 0x53, 0x63])]);
  });

// ---- the checks ------------------------------------------------------------

function mustBeDecodeError(err: unknown): void {
  assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
  assert.equal(err.code, 'E_DECODE');
}

/**
 * Decodes anything; if it decodes, every typed getter either returns or
 * throws DecodeError, every value a getter returns survives its own kind's
 * encode → decode, describe() works, and encode(decode(·)) is a fixpoint.
 */
function exercise(input: Buffer): void {
  let msg: Dhcp4Message;
  try {
    msg = Dhcp4Message.decode(input);
  } catch (err) {
    mustBeDecodeError(err);
    return;
  }
  for (const def of defs) {
    let value: unknown;
    try {
      value = msg.options.get(def);
    } catch (err) {
      mustBeDecodeError(err);
      assert.equal((err as DecodeError).field, def.name);
      continue;
    }
    if (value !== undefined) assert.deepStrictEqual(def.kind.decode(def.kind.encode(value)), value, def.name);
  }
  describe(msg);
  msg.hwAddress();
  const once = msg.encode();
  assert.equal(once.length, msg.encodingLength());
  const twice = Dhcp4Message.decode(once).encode();
  assert.equal(twice.toString('hex'), once.toString('hex'), 'encode(decode(x)) is a fixpoint');
}

test('property: any bytes decode to a message or throw DecodeError, and so do the getters', (t) => {
  fc.assert(fc.property(bytes(700), exercise), { numRuns: 2000 });
  t.pass();
});

test('property: a valid header followed by arbitrary bytes', (t) => {
  fc.assert(
    fc.property(validPrefix, fc.oneof(bytes(600), { arbitrary: optionStream, weight: 3 }), (prefix, tail) => exercise(Buffer.concat([prefix, tail]))),
    { ...RUNS, numRuns: 2000 },
  );
  t.pass();
});

test('property: every option kind decodes arbitrary data or throws DecodeError, and what it decodes re-encodes', (t) => {
  for (const def of defs) {
    fc.assert(
      fc.property(bytes(300), (data) => {
        let value: unknown;
        try {
          value = def.kind.decode(data);
        } catch (err) {
          mustBeDecodeError(err);
          return;
        }
        assert.deepStrictEqual(def.kind.decode(def.kind.encode(value)), value);
      }),
      RUNS,
    );
  }
  t.pass();
});

test('property: every option kind round-trips its values', (t) => {
  for (const def of defs) {
    fc.assert(
      fc.property(arbitraryFor(def), (value) => {
        assertRoundTrip(def.kind, value);
      }),
      RUNS,
    );
  }
  t.pass();
});

test('property: valid messages round-trip, keeping option order (relay info last)', (t) => {
  fc.assert(
    fc.property(validMessage, (msg) => {
      const bytes = assertRoundTrip(messageCodec, msg);
      const order = msg.options.codes().filter((c) => c !== Opt.RelayAgentInfo.code);
      if (msg.options.has(Opt.RelayAgentInfo.code)) order.push(Opt.RelayAgentInfo.code);
      assert.deepStrictEqual(Dhcp4Message.decode(bytes).options.codes(), order);
    }),
    RUNS,
  );
  t.pass();
});
