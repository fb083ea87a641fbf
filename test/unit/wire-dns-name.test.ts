import test from 'ava';
import { ByteWriter } from '../../lib/wire/byte-writer.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';
import { DnsNameCompressor, dnsLabelsLength, parseDnsName, readDnsName, writeDnsLabels } from '../../lib/wire/dns-name.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function read(buf: Buffer, start = 0, compression = true) {
  return readDnsName(buf, start, buf.length, compression, 'name');
}

test('reads a fully qualified name and reports where it ends', (t) => {
  const buf = hex('03 656e67 05 6170706c65 03 636f6d 00 ff');
  t.deepEqual(read(buf), { name: 'eng.apple.com', qualified: true, next: 15 });
});

test('the root name alone is ""', (t) => {
  t.deepEqual(read(hex('00')), { name: '', qualified: true, next: 1 });
});

test('a name that reaches the end of the data without a root label is partial', (t) => {
  t.deepEqual(read(hex('04686f7374')), { name: 'host', qualified: false, next: 5 });
  t.deepEqual(read(Buffer.alloc(0)), { name: '', qualified: false, next: 0 });
});

test('follows a backward pointer (RFC 1035 §4.1.4 example)', (t) => {
  // F.ISI.ARPA at 0, FOO.F.ISI.ARPA at 12, ARPA at 18 (offsets from the example, shifted to 0).
  const buf = hex('01 46 03 495349 04 41525041 00' + '03 464f4f c000' + 'c006');
  t.deepEqual(read(buf, 0), { name: 'F.ISI.ARPA', qualified: true, next: 12 });
  t.deepEqual(read(buf, 12), { name: 'FOO.F.ISI.ARPA', qualified: true, next: 18 });
  t.deepEqual(read(buf, 18), { name: 'ARPA', qualified: true, next: 20 });
});

test('rejects pointers that do not point strictly backwards, so nothing loops', (t) => {
  const cases: Record<string, Buffer> = {
    'pointer to itself': hex('c000'),
    'forward pointer': hex('c002 00'),
    'label then pointer back to the same name start': hex('0161 c000'),
    'ping-pong between two pointers': hex('00 c003 c001'),
  };
  for (const [what, buf] of Object.entries(cases)) {
    const start = what === 'ping-pong between two pointers' ? 3 : 0;
    const err = t.throws(() => read(buf, start), { instanceOf: DecodeError }, what);
    t.regex(err?.message ?? '', /pointer/, what);
  }
});

test('a chain of pointers into an earlier pointer is fine when each goes further back', (t) => {
  // "x.y" at 0, "b" + ptr→2 ("y") at 5, "c" + ptr→5 ("b.y") at 9.
  const buf = hex('0178 0179 00' + '0162 c002' + '0163 c005');
  t.is(read(buf, 9).name, 'c.b.y');
  t.is(read(buf, 9).next, 13);
});

test('rejects compression when it is not allowed, truncated pointers and labels, and reserved label types', (t) => {
  t.throws(() => read(hex('0161 00 c000'), 3, false), { instanceOf: DecodeError, message: /not allowed/ });
  t.throws(() => read(hex('0161 00 c0'), 3), { instanceOf: DecodeError, message: /truncated/ });
  t.throws(() => read(hex('05616263')), { instanceOf: DecodeError, message: /runs past/ });
  t.throws(() => read(hex('4161 00')), { instanceOf: DecodeError, message: /label type 0x40/ });
  t.throws(() => read(hex('8161 00')), { instanceOf: DecodeError, message: /label type 0x80/ });
});

test('rejects names longer than 255 bytes, even when built from pointers', (t) => {
  const label = Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]);
  t.throws(() => read(Buffer.concat([label, label, label, label, Buffer.from([0])])), {
    instanceOf: DecodeError,
    message: /longer than 255/,
  });
  const base = Buffer.concat([label, label, label, Buffer.from([0])]);
  t.throws(() => read(Buffer.concat([base, label, hex('c000')]), base.length), {
    instanceOf: DecodeError,
    message: /longer than 255/,
  });
  // 3 × 64 + 62 + root = 255: the maximum.
  const last = Buffer.concat([Buffer.from([61]), Buffer.alloc(61, 0x62)]);
  t.true(read(Buffer.concat([label, label, label, last, Buffer.from([0])])).qualified);
});

test('escapes dots, backslashes and unprintable bytes in labels', (t) => {
  const buf = hex('03 612e62 02 5c5c 03 200009 02 7eff 00');
  t.is(read(buf).name, 'a\\.b.\\\\\\\\.\\032\\000\\009.~\\255');
});

test('parseDnsName turns text into labels, honouring escapes and a trailing dot', (t) => {
  const p = parseDnsName('a\\.b.\\\\.\\032x.', 'n');
  t.deepEqual(p.labels, [Buffer.from('a.b'), Buffer.from('\\'), Buffer.from(' x')]);
  t.true(p.qualified);
  t.false(parseDnsName('host', 'n').qualified);
  t.deepEqual(parseDnsName('', 'n'), { labels: [], qualified: false });
  t.deepEqual(parseDnsName('.', 'n'), { labels: [], qualified: true });
});

test('parseDnsName rejects empty labels, long labels, long names and wide characters', (t) => {
  for (const bad of ['a..b', '.a', 'a.b..', 'x'.repeat(64), `${'a'.repeat(63)}.`.repeat(4), 'é\u0100', 'tail\\']) {
    t.throws(() => parseDnsName(bad, 'n'), { instanceOf: EncodeError }, bad);
  }
  t.notThrows(() => parseDnsName('x'.repeat(63), 'n'));
});

test('writes uncompressed labels with or without the root label', (t) => {
  const { labels } = parseDnsName('a.bc', 'n');
  const w = new ByteWriter();
  writeDnsLabels(w, labels, false);
  t.is(w.finish().toString('hex'), '0161' + '026263');
  t.is(dnsLabelsLength(labels, true), 6);
});

test('the compressor points at the longest suffix already written (RFC 1035 §4.1.4)', (t) => {
  const w = new ByteWriter();
  w.u8(0xaa); // bytes before the scope do not count in offsets
  const c = new DnsNameCompressor(1);
  for (const name of ['F.ISI.ARPA', 'FOO.F.ISI.ARPA', 'ARPA', 'ISI.ARPA', 'f.isi.arpa']) c.write(w, parseDnsName(name, 'n').labels);
  const out = w.finish().subarray(1);
  t.is(
    out.toString('hex'),
    '0146034953490441525041 00'.replace(/ /g, '') + '03464f4fc000' + 'c006' + 'c002' + '016603697369046172706100',
  );
  t.is(read(out, 12).name, 'FOO.F.ISI.ARPA');
  t.is(read(out, 22).name, 'f.isi.arpa', 'matching is exact, so case survives');
});
