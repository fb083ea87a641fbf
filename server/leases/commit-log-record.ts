import { crc32 } from 'node:zlib';

/**
 * The framing of one commit-log record: a fixed header, then the payload.
 *
 *   offset  size  field
 *        0     4  magic 'LHJ1' (u32 LE 0x314a484c)
 *        4     4  payload length in bytes (u32 LE)
 *        8     8  sequence number (u32 LE low word, then u32 LE high word)
 *       16     4  CRC-32 (zlib) of bytes 4..16 and of the payload
 *       20     n  payload
 *
 * Records are written back to back from offset 0 with consecutive sequence
 * numbers. A crash can leave the last one half-written (a torn tail): its CRC
 * or its length then fails, and so does anything after it. Old bytes left
 * from an earlier pass over the file can carry a valid CRC, but never the
 * next sequence number, because sequence numbers only grow.
 */
export const RECORD_MAGIC = 0x314a484c;
export const RECORD_HEADER_BYTES = 20;
/** A payload larger than this is taken as garbage, not as a length to trust. */
export const MAX_RECORD_PAYLOAD = 64 << 20;

export interface CommitLogRecord {
  seq: number;
  payload: Buffer;
  /** Where the record starts in the scanned buffer. */
  offset: number;
  /** Where the next record would start. */
  end: number;
}

/** `payload` as bytes, or as a string written as UTF-8 straight into the record (one buffer, no copy). */
export function encodeRecord(seq: number, payload: Buffer | string): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`record sequence must be a positive integer, got ${seq}`);
  const length = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
  if (length > MAX_RECORD_PAYLOAD) throw new RangeError(`record payload of ${length} bytes exceeds ${MAX_RECORD_PAYLOAD}`);
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length);
  record.writeUInt32LE(RECORD_MAGIC, 0);
  record.writeUInt32LE(length, 4);
  record.writeUInt32LE(seq % 0x1_0000_0000, 8);
  record.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 12);
  if (typeof payload === 'string') record.write(payload, RECORD_HEADER_BYTES, 'utf8');
  else payload.copy(record, RECORD_HEADER_BYTES);
  record.writeUInt32LE(checksum(record, length), 16);
  return record;
}

function checksum(record: Buffer, payloadLength: number): number {
  return crc32(record.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + payloadLength), crc32(record.subarray(4, 16)));
}

/** Why a scan stopped where it did. */
export type ScanEnd =
  | 'end-of-buffer'
  /** Zero bytes, or bytes that are not a record header: nothing more was written there. */
  | 'no-record'
  /** A header whose record does not fit in the buffer: written partly. */
  | 'truncated'
  | 'bad-checksum'
  /** A valid record that does not continue the sequence: left from an earlier pass. */
  | 'stale';

export interface ScanResult {
  records: CommitLogRecord[];
  /** Offset just past the last valid record: where writing continues. */
  end: number;
  stoppedBy: ScanEnd;
}

/**
 * Reads records from `buf[0]` on while each is whole, checksummed and
 * continues the sequence (the first may have any sequence number); stops at
 * the first that is not.
 */
export function scanRecords(buf: Buffer): ScanResult {
  const records: CommitLogRecord[] = [];
  let offset = 0;
  let expected: number | undefined;
  for (;;) {
    if (offset + RECORD_HEADER_BYTES > buf.length) return { records, end: offset, stoppedBy: offset === buf.length ? 'end-of-buffer' : 'truncated' };
    if (buf.readUInt32LE(offset) !== RECORD_MAGIC) return { records, end: offset, stoppedBy: 'no-record' };
    const length = buf.readUInt32LE(offset + 4);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (length > MAX_RECORD_PAYLOAD || end > buf.length) return { records, end: offset, stoppedBy: 'truncated' };
    const record = buf.subarray(offset, end);
    if (checksum(record, length) !== buf.readUInt32LE(offset + 16)) return { records, end: offset, stoppedBy: 'bad-checksum' };
    const seq = buf.readUInt32LE(offset + 8) + buf.readUInt32LE(offset + 12) * 0x1_0000_0000;
    if (expected !== undefined && seq !== expected) return { records, end: offset, stoppedBy: 'stale' };
    records.push({ seq, payload: record.subarray(RECORD_HEADER_BYTES), offset, end });
    expected = seq + 1;
    offset = end;
  }
}
