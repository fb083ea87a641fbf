import { createHash, timingSafeEqual } from 'node:crypto';
import { LeaseholdError } from '../../lib/core/errors.ts';

/**
 * Who may use the control API over HTTP: the holder of a bearer token
 * (RFC 6750 §2.1, `Authorization: Bearer <token>`), or one of the users of a
 * basic-auth file (RFC 7617, `user:password` lines, as Kea's control agent
 * takes them). The unix socket needs none: its mode (0600) is the check.
 */
export type ControlAuth = { kind: 'token'; token: string } | { kind: 'basic'; users: ReadonlyMap<string, string> };

/** An authentication file that cannot be used; the message names it. */
export class ControlAuthError extends LeaseholdError {
  readonly code = 'E_CONTROL_AUTH';
}

/** A token file: the token on its first line; at least 16 characters, so it cannot be guessed in a few tries. */
export function parseTokenFile(text: string, source: string): ControlAuth {
  const token = text.split('\n', 1)[0].trim();
  if (token.length < 16) throw new ControlAuthError(`control token file ${source}: the token (its first line) must be at least 16 characters`);
  return { kind: 'token', token };
}

/** A basic-auth file: `user:password` per line; blank lines and `#` comments skipped. */
export function parseBasicAuthFile(text: string, source: string): ControlAuth {
  const users = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0 || colon === line.length - 1) throw new ControlAuthError(`control basic-auth file ${source}:${i + 1}: want "user:password"`);
    users.set(line.slice(0, colon), line.slice(colon + 1));
  });
  if (users.size === 0) throw new ControlAuthError(`control basic-auth file ${source}: no "user:password" line`);
  return { kind: 'basic', users };
}

/** Whether an `Authorization` header value lets the request in. Compared in constant time. */
export function authorized(auth: ControlAuth, header: string | undefined): boolean {
  if (header === undefined) return false;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const credentials = header.slice(space + 1).trim();
  if (auth.kind === 'token') return scheme === 'bearer' && sameSecret(credentials, auth.token);
  if (scheme !== 'basic') return false;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const password = auth.users.get(decoded.slice(0, colon));
  // Compared even for an unknown user, so the time does not tell which users exist.
  return sameSecret(decoded.slice(colon + 1), password ?? '') && password !== undefined;
}

/** The scheme a 401 names in WWW-Authenticate (RFC 7235 §4.1). */
export function challenge(auth: ControlAuth): string {
  return auth.kind === 'token' ? 'Bearer realm="leasehold"' : 'Basic realm="leasehold", charset="UTF-8"';
}

function sameSecret(given: string, expected: string): boolean {
  // Hashes of equal length, so timingSafeEqual may compare secrets of any length.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
