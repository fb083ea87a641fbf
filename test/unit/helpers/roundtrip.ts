import assert from 'node:assert/strict';
import { Dhcp4Message } from '../../../lib/dhcp4/message.ts';
import type { OptionDef } from '../../../lib/dhcp4/option-defs.ts';

/** The three functions every wire type has (encodingLength where it applies). */
export interface Codec<T> {
  decode(bytes: Buffer): T;
  encode(value: T): Buffer;
  encodingLength?(value: T): number;
}

export const messageCodec: Codec<Dhcp4Message> = {
  decode: (bytes) => Dhcp4Message.decode(bytes),
  encode: (msg) => msg.encode(),
  encodingLength: (msg) => msg.encodingLength(),
};

/**
 * Symmetry check used for every codec: encode → decode gives back an equal
 * value, re-encoding that gives the same bytes, and encodingLength agrees
 * with both. Throws an AssertionError (so it works inside fast-check
 * properties as well as ava tests); returns the encoding.
 */
export function assertRoundTrip<T>(codec: Codec<T>, value: T, expectedHex?: string): Buffer {
  const bytes = codec.encode(value);
  if (expectedHex !== undefined) assert.equal(bytes.toString('hex'), expectedHex.replace(/\s+/g, ''), 'encoding');
  if (codec.encodingLength) assert.equal(codec.encodingLength(value), bytes.length, 'encodingLength of the value');
  const decoded = codec.decode(bytes);
  assert.deepStrictEqual(decoded, value, 'decode(encode(value))');
  const again = codec.encode(decoded);
  assert.equal(again.toString('hex'), bytes.toString('hex'), 're-encoding');
  if (codec.encodingLength) assert.equal(codec.encodingLength(decoded), again.length, 'encodingLength after decode');
  return bytes;
}

/**
 * Round-trips an option value through its kind and then through a whole
 * message (set → encode → decode → get), which also exercises RFC 3396
 * splitting for long values. Returns the option data.
 */
export function assertOptionRoundTrip<T>(def: OptionDef<T>, value: T, expectedHex?: string): Buffer {
  const data = assertRoundTrip(def.kind, value, expectedHex);
  const msg = new Dhcp4Message();
  msg.options.set(def, value);
  const decoded = messageCodec.decode(assertRoundTrip(messageCodec, msg));
  assert.deepStrictEqual(decoded.options.get(def), value, `${def.name} through a message`);
  return data;
}
