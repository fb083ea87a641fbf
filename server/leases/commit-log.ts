import { closeSync, constants, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { encodeRecord, scanRecords, type CommitLogRecord, type ScanEnd } from './commit-log-record.ts';

/** 32 MiB: about 100,000 one-lease groups, so the log wraps (one SQLite sync) rarely. */
export const DEFAULT_COMMIT_LOG_BYTES = 32 << 20;
const ZERO_CHUNK = 1 << 20;

/**
 * An append-only file of records (see commit-log-record.ts), made durable by
 * one fdatasync per append. The file is preallocated and its blocks written
 * once with zeros, so an append never changes its size or block map and
 * fdatasync flushes the data alone, without a metadata journal commit.
 *
 * The log does not know what its records mean: the owner replays
 * `recover().records` it has not applied yet, and calls `restart` once
 * everything in the file is durable elsewhere, to write from offset 0 again.
 */
export class CommitLog {
  readonly #fd: number;
  readonly #size: number;
  #position = 0;

  /** Opens or creates `path`, growing it with written zeros to `size` bytes. */
  constructor(
    readonly path: string,
    size = DEFAULT_COMMIT_LOG_BYTES,
  ) {
    if (!Number.isInteger(size) || size < 4096) throw new RangeError(`commit log size must be an integer of at least 4096 bytes, got ${size}`);
    this.#fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      const have = fstatSync(this.#fd).size;
      this.#size = Math.max(size, have);
      if (have < size) {
        const zeros = Buffer.alloc(ZERO_CHUNK);
        for (let at = have; at < size; at += ZERO_CHUNK) writeSync(this.#fd, zeros, 0, Math.min(ZERO_CHUNK, size - at), at);
        // This one flush writes metadata too (the new size and block map); later appends do not change them.
        fdatasyncSync(this.#fd);
      }
    } catch (err) {
      closeSync(this.#fd);
      throw err;
    }
  }

  get size(): number {
    return this.#size;
  }

  /** Where the next append goes. */
  get position(): number {
    return this.#position;
  }

  /** The records from offset 0 that are whole and in sequence, and why the scan stopped. */
  recover(): { records: CommitLogRecord[]; stoppedBy: ScanEnd; end: number } {
    const buf = Buffer.allocUnsafe(this.#size);
    let read = 0;
    while (read < this.#size) {
      const n = readSync(this.#fd, buf, read, this.#size - read, read);
      if (n === 0) break;
      read += n;
    }
    return scanRecords(buf.subarray(0, read));
  }

  /** Whether a record of `bytes` fits after the current position. */
  fits(bytes: number): boolean {
    return this.#position + bytes <= this.#size;
  }

  /**
   * Writes from offset 0 again. Only once every record in the file is
   * durable elsewhere: they are overwritten from here on.
   */
  restart(): void {
    this.#position = 0;
  }

  /** Encodes the record; `append` writes it. Separate so the caller can decide on `restart` first. */
  static encode(seq: number, payload: Buffer | string): Buffer {
    return encodeRecord(seq, payload);
  }

  /** Writes an encoded record at the current position and waits until it is on disk. */
  append(record: Buffer): void {
    if (!this.fits(record.length)) throw new RangeError(`a record of ${record.length} bytes does not fit in the commit log (${this.#size - this.#position} of ${this.#size} bytes left)`);
    let written = 0;
    while (written < record.length) written += writeSync(this.#fd, record, written, record.length - written, this.#position + written);
    fdatasyncSync(this.#fd);
    this.#position += record.length;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
