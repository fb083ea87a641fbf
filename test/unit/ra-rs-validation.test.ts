// RFC 4861 §6.1.1: which Router Solicitations a router acts on.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { validateRouterSolicit, type RsVerdict } from '../../server/ra/rs-validation.ts';

const LINUX_RS = readFileSync(new URL('../fixtures/ra/linux-rs.bin', import.meta.url));
const LINK_LOCAL = 'fe80::11:22ff:fe33:4455';
const rs = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const NO_OPTIONS = rs('85000000 00000000');
const WITH_SLLA = rs('85000000 00000000 0101 021122334455');

const reason = (verdict: RsVerdict) => (verdict.valid ? 'valid' : verdict.reason);

test("the kernel's RS from its link-local address is valid and carries its MAC", (t) => {
  const verdict = validateRouterSolicit({ data: LINUX_RS, source: LINK_LOCAL, hopLimit: 255 });
  t.deepEqual(verdict, { valid: true, solicit: { options: [{ kind: 'source-link-layer-address', address: '02:11:22:33:44:55' }] } });
});

test('an RS from the unspecified address is valid without a link-layer address', (t) => {
  t.is(reason(validateRouterSolicit({ data: NO_OPTIONS, source: '::' })), 'valid');
});

test('a link-layer address from the unspecified address is dropped, however "::" is spelled', (t) => {
  t.is(reason(validateRouterSolicit({ data: WITH_SLLA, source: '::' })), 'slla-from-unspecified');
  t.is(reason(validateRouterSolicit({ data: WITH_SLLA, source: '0:0:0::0' })), 'slla-from-unspecified');
  t.is(reason(validateRouterSolicit({ data: WITH_SLLA, source: LINK_LOCAL })), 'valid');
});

test('a hop limit other than 255 is dropped when the transport knows it', (t) => {
  t.is(reason(validateRouterSolicit({ data: NO_OPTIONS, source: LINK_LOCAL, hopLimit: 254 })), 'hop-limit');
  t.is(reason(validateRouterSolicit({ data: NO_OPTIONS, source: LINK_LOCAL, hopLimit: 1 })), 'hop-limit');
  t.is(reason(validateRouterSolicit({ data: NO_OPTIONS, source: LINK_LOCAL, hopLimit: 255 })), 'valid');
  t.is(reason(validateRouterSolicit({ data: NO_OPTIONS, source: LINK_LOCAL })), 'valid');
});

test('a non-zero code, a short message or another type is dropped', (t) => {
  t.is(reason(validateRouterSolicit({ data: rs('85010000 00000000'), source: LINK_LOCAL })), 'code');
  t.is(reason(validateRouterSolicit({ data: rs('85000000 000000'), source: LINK_LOCAL })), 'too-short');
  t.is(reason(validateRouterSolicit({ data: rs('86000000 00000000'), source: LINK_LOCAL })), 'not-solicitation');
});

test('an option of Length 0 or one running past the end is dropped (RFC 4861 §4.6)', (t) => {
  const zero = validateRouterSolicit({ data: rs('85000000 00000000 0100 021122334455'), source: LINK_LOCAL });
  t.is(reason(zero), 'bad-option');
  t.regex(zero.valid ? '' : zero.detail, /Length is 0/);
  t.is(reason(validateRouterSolicit({ data: rs('85000000 00000000 0102 021122334455'), source: LINK_LOCAL })), 'bad-option');
});

test('options the router does not know are ignored (RFC 4861 §4.1)', (t) => {
  const verdict = validateRouterSolicit({ data: rs('85000000 00000000 fe01 000000000000 0101 021122334455'), source: LINK_LOCAL });
  t.true(verdict.valid);
});
