import test from 'ava';
import { ByteReader } from '../../lib/wire/byte-reader.ts';
import { ByteWriter } from '../../lib/wire/byte-writer.ts';
import { DecodeError } from '../../lib/wire/decode-error.ts';
import { EncodeError } from '../../lib/wire/encode-error.ts';

test('DecodeError carries code, field, offset and a message naming them', (t) => {
  const err = new DecodeError('hlen', 2, 'too big');
  t.is(err.code, 'E_DECODE');
  t.is(err.field, 'hlen');
  t.is(err.offset, 2);
  t.is(err.detail, 'too big');
  t.is(err.message, 'hlen at offset 2: too big');
  t.true(err instanceof Error);
});

test('EncodeError carries code and field', (t) => {
  const err = new EncodeError('xid', 'out of range');
  t.is(err.code, 'E_ENCODE');
  t.is(err.message, 'xid: out of range');
});

test('ByteReader reads big-endian values and tracks offset and remaining', (t) => {
  const r = new ByteReader(Buffer.from('01020304050607c612c80109', 'hex'));
  t.is(r.u8('a'), 1);
  t.is(r.u16('b'), 0x0203);
  t.is(r.u32('c'), 0x04050607);
  t.is(r.offset, 7);
  t.is(r.remaining, 5);
  t.is(r.ipv4('d'), '198.18.200.1');
  t.deepEqual(r.bytes(1, 'e'), Buffer.from([9]));
  t.is(r.remaining, 0);
});

test('ByteReader throws DecodeError naming the field and offset on a short read', (t) => {
  const r = new ByteReader(Buffer.from([1, 2, 3]));
  r.u8('first');
  const err = t.throws(() => r.u32('xid'), { instanceOf: DecodeError });
  t.is(err?.field, 'xid');
  t.is(err?.offset, 1);
  t.is(r.offset, 1, 'a failed read does not move the cursor');
  t.throws(() => r.bytes(3, 'blob'), { instanceOf: DecodeError, message: /blob at offset 1/ });
});

test('ByteReader honours start and end bounds', (t) => {
  const r = new ByteReader(Buffer.from([1, 2, 3, 4, 5]), 1, 3);
  t.is(r.remaining, 2);
  t.is(r.u16('x'), 0x0203);
  t.throws(() => r.u8('y'), { instanceOf: DecodeError });
});

test('ByteReader.bytes returns a view, not a copy', (t) => {
  const buf = Buffer.from([1, 2, 3]);
  const view = new ByteReader(buf).bytes(2, 'v');
  buf[0] = 9;
  t.is(view[0], 9);
});

test('ByteWriter writes every type and grows past its initial capacity', (t) => {
  const w = new ByteWriter(1);
  w.u8(1).u16(0x0203).u32(0x04050607).ipv4('198.18.200.1').bytes(Buffer.from([9])).zeros(2);
  t.is(w.offset, 14);
  t.is(w.finish().toString('hex'), '01020304050607c612c80109' + '0000');
});

test('ByteWriter.zeros writes zeros even after growing', (t) => {
  const w = new ByteWriter(2);
  w.u16(0xffff).zeros(50).u8(1);
  const out = w.finish();
  t.is(out.length, 53);
  t.true(out.subarray(2, 52).every((b) => b === 0));
});

test('ByteWriter.ipv4 rejects a bad address without writing', (t) => {
  const w = new ByteWriter();
  t.throws(() => w.ipv4('1.2.3'), { instanceOf: EncodeError });
  t.is(w.offset, 0);
});
