/**
 * Strict base64 (RFC 4648 §4): the standard alphabet, padded, no
 * whitespace. Node's decoder skips anything it does not understand, so text
 * from a file or a peer is checked with this first.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True for non-empty, padded, standard base64. */
export function isBase64(text: string): boolean {
  return text !== '' && BASE64.test(text);
}
