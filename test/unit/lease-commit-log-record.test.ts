import test from 'ava';
import { encodeRecord, RECORD_HEADER_BYTES, RECORD_MAGIC, scanRecords } from '../../server/leases/commit-log-record.ts';

// The commit log's framing: a record is trusted only when whole, checksummed
// and next in sequence, so a torn tail or old bytes are cut, never replayed.

const payload = (text: string) => Buffer.from(text, 'utf8');
const joined = (...parts: Buffer[]) => Buffer.concat(parts);

test('records round-trip back to back, and the scan ends where writing continues', (t) => {
  const a = encodeRecord(7, payload('[{"put":[]}]'));
  const b = encodeRecord(8, payload(''));
  const c = encodeRecord(9, payload('é'.repeat(300)));
  const scan = scanRecords(joined(a, b, c));
  t.deepEqual(scan.records.map((r) => [r.seq, r.payload.toString('utf8'), r.offset, r.end]), [
    [7, '[{"put":[]}]', 0, a.length],
    [8, '', a.length, a.length + b.length],
    [9, 'é'.repeat(300), a.length + b.length, a.length + b.length + c.length],
  ]);
  t.is(scan.end, a.length + b.length + c.length);
  t.is(scan.stoppedBy, 'end-of-buffer');
  t.is(a.readUInt32LE(0), RECORD_MAGIC);
  t.is(a.readUInt32LE(4), 12);
});

test('a string payload is framed as its UTF-8 bytes, exactly like the same Buffer', (t) => {
  const text = '[{"put":[{"hostname":"café"}]}]';
  t.deepEqual(encodeRecord(3, text), encodeRecord(3, payload(text)));
});

test('sequence numbers beyond 32 bits survive', (t) => {
  const seq = 2 ** 40 + 5;
  t.deepEqual(scanRecords(joined(encodeRecord(seq, payload('x')), encodeRecord(seq + 1, payload('y')))).records.map((r) => r.seq), [seq, seq + 1]);
});

test('preallocated zeros after the last record end the scan', (t) => {
  const a = encodeRecord(1, payload('one'));
  const scan = scanRecords(joined(a, Buffer.alloc(4096)));
  t.is(scan.records.length, 1);
  t.is(scan.stoppedBy, 'no-record');
  t.is(scan.end, a.length);
});

test('a torn tail is cut at every length it can be torn at', (t) => {
  const a = encodeRecord(1, payload('kept'));
  const b = encodeRecord(2, payload('torn by the crash'));
  for (let cut = 1; cut < b.length; cut += 1) {
    // What the disk may hold: part of the record, then whatever was there (zeros).
    const disk = joined(a, b.subarray(0, cut), Buffer.alloc(b.length - cut));
    const scan = scanRecords(disk);
    t.deepEqual(scan.records.map((r) => r.seq), [1], `cut at ${cut}`);
    t.is(scan.end, a.length);
    t.true(['no-record', 'truncated', 'bad-checksum'].includes(scan.stoppedBy), scan.stoppedBy);
  }
  t.is(scanRecords(joined(a, b.subarray(0, RECORD_HEADER_BYTES + 3))).stoppedBy, 'truncated');
});

test('a flipped bit anywhere in a record is a bad checksum', (t) => {
  const a = encodeRecord(1, payload('kept'));
  const b = encodeRecord(2, payload('flipped'));
  for (let byte = 4; byte < b.length; byte += 1) {
    if (byte >= 16 && byte < 20) continue; // the checksum itself: also caught, checked below
    const bad = Buffer.from(b);
    bad[byte] ^= 0x10;
    const scan = scanRecords(joined(a, bad));
    t.deepEqual(scan.records.map((r) => r.seq), [1], `byte ${byte}`);
  }
  const badCrc = Buffer.from(b);
  badCrc[17] ^= 1;
  t.is(scanRecords(joined(a, badCrc)).stoppedBy, 'bad-checksum');
});

test('a valid record out of sequence (left from an earlier pass over the file) ends the scan', (t) => {
  const fresh = [encodeRecord(101, payload('new')), encodeRecord(102, payload('new'))];
  const old = encodeRecord(57, payload('old, already in the database'));
  const scan = scanRecords(joined(...fresh, old, encodeRecord(58, payload('old'))));
  t.deepEqual(scan.records.map((r) => r.seq), [101, 102]);
  t.is(scan.stoppedBy, 'stale');
  // A repeated sequence number is stale too (a record written again after a failure).
  t.is(scanRecords(joined(fresh[0], fresh[0])).records.length, 1);
});

test('a length that is absurd is not trusted', (t) => {
  const header = Buffer.alloc(RECORD_HEADER_BYTES);
  header.writeUInt32LE(RECORD_MAGIC, 0);
  header.writeUInt32LE(0xffff_fff0, 4);
  t.is(scanRecords(joined(encodeRecord(1, payload('a')), header)).stoppedBy, 'truncated');
});

test('encode refuses what cannot be framed', (t) => {
  t.throws(() => encodeRecord(0, payload('x')), { instanceOf: RangeError });
  t.throws(() => encodeRecord(1.5, payload('x')), { instanceOf: RangeError });
});
