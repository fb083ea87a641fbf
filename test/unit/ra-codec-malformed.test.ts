// What RFC 4861 §4.6 and each option's RFC say makes a Router Advertisement
// or Solicitation malformed: every such input is a DecodeError that names
// the option and the offset, never a partial result.
import test, { type ExecutionContext } from 'ava';
import { routerAdvert } from '../../lib/ndp/router-advert.ts';
import { routerSolicit } from '../../lib/ndp/router-solicit.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';

/** An RA header (hop limit 64, router lifetime 1800) followed by `options` (hex, spaces ignored). */
const ra = (options: string) => Buffer.from(`86000000 40000708 00000000 00000000 ${options}`.replace(/\s+/g, ''), 'hex');
const rs = (options: string) => Buffer.from(`85000000 00000000 ${options}`.replace(/\s+/g, ''), 'hex');
const PREFIX = 'fd000198001800000000000000000000';

function rejects(t: ExecutionContext, bytes: Buffer, field: RegExp, detail: RegExp, decode: (b: Buffer) => unknown = routerAdvert.decode): void {
  const err = t.throws(() => decode(bytes), { instanceOf: DecodeError });
  t.regex(err?.field ?? '', field);
  t.regex(err?.detail ?? '', detail);
}

test('an option of Length 0 makes the message invalid (RFC 4861 §4.6)', (t) => {
  rejects(t, ra('0500 00000000 05dc'), /options\[0\] \(mtu\)/, /Length is 0/);
  rejects(t, rs('0100 020000000001'), /options\[0\]/, /Length is 0/, routerSolicit.decode);
  // Also for a type nobody knows: the length rule is the list's, not the option's.
  rejects(t, ra('0101 020000000001 fe00 000000000000'), /options\[1\] \(type 254\)/, /Length is 0/);
});

test('an option running past the end of the message is invalid', (t) => {
  rejects(t, ra('0502 0000000005dc'), /options\[0\] \(mtu\)/, /runs 8 byte\(s\) past the end/);
  rejects(t, rs('0102 021122334455'), /options\[0\]/, /past the end/, routerSolicit.decode);
  // A single stray byte cannot even hold Type and Length.
  rejects(t, ra('05'), /options\[0\]/, /needs 1 byte/);
});

test('a header shorter than RFC 4861 §4.1/§4.2 defines is invalid', (t) => {
  rejects(t, ra('').subarray(0, 15), /header/, /needs 4 byte/);
  rejects(t, rs('').subarray(0, 7), /header/, /needs 7 byte/, routerSolicit.decode);
});

test('another ICMPv6 type is not decoded as an RA or RS', (t) => {
  rejects(t, rs(''), /type/, /133 is not a Router Advertisement/);
  rejects(t, ra(''), /type/, /134 is not a Router Solicitation/, routerSolicit.decode);
});

test('Prefix Information must have Length 4 and a prefix length of at most 128 (RFC 4861 §4.6.2)', (t) => {
  rejects(t, ra(`0303 40c0 00015180 00003840 00000000 ${PREFIX.slice(0, 16)}`), /prefix-information/, /Length must be 4, got 3/);
  rejects(t, ra(`0304 81c0 00015180 00003840 00000000 ${PREFIX}`), /prefix-information/, /prefix length 129/);
});

test('MTU must have Length 1 (RFC 4861 §4.6.4)', (t) => {
  rejects(t, ra('0502 0000 000005dc 0000000000000000'), /mtu/, /Length must be 1, got 2/);
});

test('RDNSS needs an odd Length of at least 3 (RFC 8106 §5.1)', (t) => {
  rejects(t, ra('1901 0000 00000708'), /rdnss/, /odd and at least 3/);
  rejects(t, ra(`1904 0000 00000708 ${PREFIX} 0000000000000000`), /rdnss/, /got 4/);
});

test('DNSSL needs a whole, uncompressed name and zero padding (RFC 8106 §5.2)', (t) => {
  // Nothing but padding.
  rejects(t, ra('1f02 0000 00000708 0000000000000000'), /dnssl/, /lists no domain/);
  // "leasehold" with no terminating label before the option ends.
  rejects(t, ra('1f03 0000 00000708 096c65617365686f6c64 047465737404'), /dnssl/, /label of 4 bytes runs past the end/);
  rejects(t, ra('1f03 0000 00000708 096c65617365686f6c64 057465737473'), /dnssl/, /runs past the end of the option/);
  rejects(t, ra('1f02 0000 00000708 0474657374 00 0001'), /dnssl/, /padding .* not all zeros/);
  rejects(t, ra('1f02 0000 00000708 03616263 c000 0000'), /dnssl/, /compression pointer not allowed/);
});

test('Route Information must be long enough for its prefix (RFC 4191 §2.3)', (t) => {
  rejects(t, ra('1801 01 00 00000708'), /route-information/, /a \/1 needs Length 2 or more, got 1/);
  rejects(t, ra('1802 41 00 00000708 fd00019800180000'), /route-information/, /a \/65 needs Length 3 or more, got 2/);
  rejects(t, ra(`1804 30 00 00000708 ${PREFIX} 0000000000000000`), /route-information/, /Length must be 1, 2 or 3, got 4/);
  rejects(t, ra(`1803 81 00 00000708 ${PREFIX}`), /route-information/, /prefix length 129/);
});

test('the shortest Route Information forms RFC 4191 allows are accepted', (t) => {
  const decoded = routerAdvert.decode(ra('1801 00 18 00000258 1802 30 08 00000708 fd00019800190000'));
  t.deepEqual(decoded.options, [
    { kind: 'route-information', prefixLength: 0, preference: 'low', lifetime: 600, prefix: '::' },
    { kind: 'route-information', prefixLength: 48, preference: 'high', lifetime: 1800, prefix: 'fd00:198:19::' },
  ]);
});

test('unknown options are kept, and a known one need not come first', (t) => {
  const decoded = routerAdvert.decode(ra('fe01 aabbccddeeff 0501 0000 000005dc'));
  t.deepEqual(decoded.options, [
    { kind: 'unknown', type: 254, body: Buffer.from('aabbccddeeff', 'hex') },
    { kind: 'mtu', mtu: 1500 },
  ]);
});

test('values that cannot go on the wire are an EncodeError', (t) => {
  const base = routerAdvert.decode(ra(''));
  t.throws(() => routerAdvert.encode({ ...base, routerLifetime: 65536 }), { instanceOf: EncodeError, message: /routerLifetime/ });
  t.throws(() => routerAdvert.encode({ ...base, options: [{ kind: 'rdnss', lifetime: 1, servers: [] }] }), { instanceOf: EncodeError, message: /at least one/ });
  t.throws(() => routerAdvert.encode({ ...base, options: [{ kind: 'dnssl', lifetime: 1, domains: [''] }] }), { instanceOf: EncodeError, message: /root name/ });
  t.throws(() => routerAdvert.encode({ ...base, options: [{ kind: 'unknown', type: 200, body: Buffer.alloc(5) }] }), {
    instanceOf: EncodeError,
    message: /whole 8-octet units/,
  });
  t.throws(() => routerAdvert.encode({ ...base, options: [{ kind: 'source-link-layer-address', address: 'not-a-mac' }] }), {
    instanceOf: EncodeError,
  });
});
