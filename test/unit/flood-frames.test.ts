import test from 'ava';
import { Dhcp4Message } from '../../lib/dhcp4/message.ts';
import { Dhcp4MessageType as T, Opt } from '../../lib/dhcp4/option-defs.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { ipToInt } from '../../lib/wire/ipv4.ts';
import { ALWAYS_MALFORMED, FLOOD_KINDS, floodFrames, type FloodKind } from '../fixtures/flood/flood-frames.ts';

// The flood fixture is what the integration test and the benchmark count
// on: its "always malformed" kinds must really be refused by the decoder,
// its valid kinds must be what they claim, and it must stay in its range.
const plan = {
  mix: Object.fromEntries(FLOOD_KINDS.map((k) => [k, 1])) as Record<FloodKind, number>,
  serverId: '198.18.30.1',
  addresses: { first: ipToInt('198.18.30.200'), last: ipToInt('198.18.30.250') },
  seed: 7,
};

const EXPECTED_TYPE: Partial<Record<FloodKind, T>> = {
  discover: T.Discover, noisy: T.Discover, select: T.Request, renew: T.Request, inform: T.Inform, release: T.Release, decline: T.Decline,
};

test('every frame is an Ethernet broadcast of UDP 68→67 from a locally administered unicast MAC', (t) => {
  for (const { frame } of floodFrames(plan, 500)) {
    t.true(frame.subarray(0, 6).equals(Buffer.alloc(6, 0xff)));
    t.is(frame[6] & 0x03, 0x02);
    t.is(frame.readUInt16BE(12), 0x0800);
    t.is(frame.readUInt16BE(14 + 20), 68);
    t.is(frame.readUInt16BE(14 + 22), 67);
    t.is(frame.readUInt16BE(14 + 2), frame.length - 14, 'IPv4 total length');
  }
});

test('always-malformed kinds are refused by the decoder; valid kinds decode as their type with addresses from the range', (t) => {
  const seen = new Set<FloodKind>();
  for (const { kind, frame } of floodFrames(plan, 2000)) {
    seen.add(kind);
    const payload = frame.subarray(14 + 20 + 8);
    if (ALWAYS_MALFORMED.has(kind)) {
      t.throws(() => Dhcp4Message.decode(payload), { instanceOf: DecodeError }, kind);
      continue;
    }
    const type = EXPECTED_TYPE[kind];
    if (type === undefined) continue; // may or may not decode
    const m = Dhcp4Message.decode(payload);
    t.is(m.options.get(Opt.MessageType), type, kind);
    for (const ip of [m.options.get(Opt.RequestedIp), m.ciaddr === '0.0.0.0' ? undefined : m.ciaddr]) {
      if (ip !== undefined) t.true(ipToInt(ip) >= plan.addresses.first && ipToInt(ip) <= plan.addresses.last, `${kind} ${ip}`);
    }
  }
  t.deepEqual([...seen].sort(), [...FLOOD_KINDS].sort(), 'every kind of the mix was drawn');
});

test('the same seed gives the same flood', (t) => {
  const a = [...floodFrames(plan, 50)].map((f) => f.frame.toString('hex'));
  const b = [...floodFrames(plan, 50)].map((f) => f.frame.toString('hex'));
  t.deepEqual(a, b);
});
