import { EncodeError } from './encode-error.ts';

/**
 * Text to bytes, one byte per character. DHCP text options are byte strings
 * on the wire, and latin1 is the only mapping that round-trips every byte;
 * characters that do not fit a byte are refused rather than mangled.
 */
export function latin1Bytes(text: string, field: string): Buffer {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) {
      throw new EncodeError(field, `${JSON.stringify(text)} has a character above 0xff`);
    }
  }
  return Buffer.from(text, 'latin1');
}
