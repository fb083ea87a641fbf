import { ByteWriter } from './byte-writer.ts';
import { DecodeError } from './decode-error.ts';
import { EncodeError } from './encode-error.ts';

/**
 * DNS names in RFC 1035 §3.1 wire format and their text form.
 *
 * Text form: labels joined by ".", without the trailing dot of the root;
 * bytes that would be ambiguous or unprintable are escaped as in zone files
 * (RFC 1035 §5.1): "\." and "\\" for a literal dot or backslash inside a
 * label, "\DDD" (decimal) for bytes outside 0x21–0x7e. The root name alone
 * is "". Decoding always produces this canonical form, so any wire name
 * survives decode → encode unchanged.
 */

/**
 * RFC 1035 §2.3.4: a label is at most 63 octets, a name at most 255
 * (length bytes and the root label included).
 */
const MAX_LABEL = 63;
const MAX_NAME = 255;
/** RFC 1035 §4.1.4: a pointer is two bytes whose top two bits are 11. */
const POINTER_MASK = 0xc0;
const MAX_POINTER = 0x3fff;

const BACKSLASH = 0x5c;
const DOT = 0x2e;

export interface DecodedDnsName {
  /** Text form, without a trailing dot. */
  name: string;
  /** True when the name ended with the root label (directly or via a pointer). */
  qualified: boolean;
  /** Offset just after the name's last byte at its original position. */
  next: number;
}

export interface ParsedDnsName {
  labels: Buffer[];
  /** The text ended with "." (or was "."): the name is fully qualified. */
  qualified: boolean;
}

function isPlain(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== DOT && c !== BACKSLASH;
}

function labelText(buf: Buffer, start: number, end: number): string {
  let plain = true;
  for (let i = start; i < end; i++) {
    if (!isPlain(buf[i])) {
      plain = false;
      break;
    }
  }
  if (plain) return buf.toString('latin1', start, end);
  let out = '';
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (isPlain(c)) out += String.fromCharCode(c);
    else if (c === DOT || c === BACKSLASH) out += '\\' + String.fromCharCode(c);
    else out += '\\' + String(c).padStart(3, '0');
  }
  return out;
}

/**
 * Reads one name starting at `start`, never past `end`. Pointers are offsets
 * from the start of `buf`, so `buf` must begin where the compression scope
 * begins.
 *
 * With `compression`, pointers are followed, but each must point strictly
 * before the start of the run of labels that led to it. Every jump therefore
 * moves to a smaller offset than any visited before, so no input can loop.
 * Encoders only ever point back at names they finished earlier, so this
 * accepts everything they produce.
 *
 * Without `compression` a pointer is an error (RFC 4702 §2.3.1 forbids them
 * in option 81). Running into `end` between labels ends the name unqualified;
 * the caller decides whether that is allowed.
 */
export function readDnsName(
  buf: Buffer,
  start: number,
  end: number,
  compression: boolean,
  field: string,
): DecodedDnsName {
  let name = '';
  let pos = start;
  let limit = start;
  let next = -1;
  let wireLength = 0;
  while (true) {
    if (pos >= end) {
      // Partial name (RFC 4702 §2.3.1): labels up to the end of the data.
      return { name, qualified: false, next: next < 0 ? pos : next };
    }
    const len = buf[pos];
    if (len === 0) {
      return { name, qualified: true, next: next < 0 ? pos + 1 : next };
    }
    const kind = len & POINTER_MASK;
    if (kind === POINTER_MASK) {
      if (!compression) throw new DecodeError(field, pos, 'compression pointer not allowed here');
      if (pos + 1 >= end) throw new DecodeError(field, pos, 'truncated compression pointer');
      const target = ((len & ~POINTER_MASK) << 8) | buf[pos + 1];
      if (target >= limit) {
        throw new DecodeError(field, pos, `compression pointer to ${target} does not point backwards`);
      }
      if (next < 0) next = pos + 2;
      pos = target;
      limit = target;
      continue;
    }
    if (kind !== 0) throw new DecodeError(field, pos, `unsupported label type 0x${kind.toString(16)}`);
    if (pos + 1 + len > end) throw new DecodeError(field, pos, `label of ${len} bytes runs past the end`);
    wireLength += 1 + len;
    // The limit counts the root label even for a partial name, which will
    // be completed with a domain before it is used.
    if (wireLength + 1 > MAX_NAME) {
      throw new DecodeError(field, pos, `name longer than ${MAX_NAME} bytes`);
    }
    const text = labelText(buf, pos + 1, pos + 1 + len);
    name = name === '' ? text : `${name}.${text}`;
    pos += 1 + len;
  }
}

function endLabel(labels: Buffer[], bytes: number[], text: string, field: string): void {
  if (bytes.length === 0) throw new EncodeError(field, `empty label in ${JSON.stringify(text)}`);
  if (bytes.length > MAX_LABEL) {
    throw new EncodeError(field, `label longer than ${MAX_LABEL} bytes in ${JSON.stringify(text)}`);
  }
  labels.push(Buffer.from(bytes));
  bytes.length = 0;
}

/** Text form to labels; throws EncodeError on an invalid name. */
export function parseDnsName(text: string, field: string): ParsedDnsName {
  if (text === '' || text === '.') return { labels: [], qualified: text === '.' };
  const labels: Buffer[] = [];
  const bytes: number[] = [];
  let qualified = false;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c === DOT) {
      endLabel(labels, bytes, text, field);
      if (i === text.length - 1) qualified = true;
      continue;
    }
    if (c === BACKSLASH) {
      const d = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        c = Number(d);
        i += 3;
      } else if (i + 1 < text.length) {
        c = text.charCodeAt(++i);
      } else {
        throw new EncodeError(field, `dangling backslash in ${JSON.stringify(text)}`);
      }
    }
    if (c > 0xff) {
      throw new EncodeError(field, `${JSON.stringify(text)} has a character above 0xff (non-ASCII names need their punycode form)`);
    }
    bytes.push(c);
  }
  if (!qualified) endLabel(labels, bytes, text, field);
  if (dnsLabelsLength(labels, true) > MAX_NAME) {
    throw new EncodeError(field, `${JSON.stringify(text)} is longer than ${MAX_NAME} bytes`);
  }
  return { labels, qualified };
}

/** Bytes `labels` take on the wire, plus the root label when `terminate`. */
export function dnsLabelsLength(labels: readonly Buffer[], terminate: boolean): number {
  let n = terminate ? 1 : 0;
  for (const l of labels) n += 1 + l.length;
  return n;
}

/**
 * Remembers where names were written so later ones can point at them
 * (RFC 1035 §4.1.4). Offsets are relative to `base`, the writer offset at
 * which the compression scope starts (the option data for RFC 3397, the
 * message for DNS). Matching is exact, byte for byte, so that decoding gives
 * back exactly the names that were written.
 */
export class DnsNameCompressor {
  private readonly seen = new Map<string, number>();

  constructor(private readonly base: number) {}

  /** Writes a fully qualified name, pointing at the longest known suffix. */
  write(w: ByteWriter, labels: readonly Buffer[]): void {
    const keys = new Array<string>(labels.length);
    let key = '';
    for (let i = labels.length - 1; i >= 0; i--) {
      key = String.fromCharCode(labels[i].length) + labels[i].toString('latin1') + key;
      keys[i] = key;
    }
    for (let i = 0; i < labels.length; i++) {
      const target = this.seen.get(keys[i]);
      if (target !== undefined) {
        w.u16((POINTER_MASK << 8) | target);
        return;
      }
      const here = w.offset - this.base;
      if (here <= MAX_POINTER) this.seen.set(keys[i], here);
      w.u8(labels[i].length).bytes(labels[i]);
    }
    w.u8(0);
  }
}

/** Writes labels without compression; `terminate` adds the root label. */
export function writeDnsLabels(w: ByteWriter, labels: readonly Buffer[], terminate: boolean): void {
  for (const l of labels) w.u8(l.length).bytes(l);
  if (terminate) w.u8(0);
}
