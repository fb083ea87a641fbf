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
/** As received on the link: hop limit 255 unless said otherwise. */
const check = (data: Buffer, source = LINK_LOCAL, hopLimit = 255) => validateRouterSolicit({ data, source, hopLimit });

test("the kernel's RS from its link-local address is valid and carries its MAC", (t) => {
  t.deepEqual(check(LINUX_RS), { valid: true, solicit: { options: [{ kind: 'source-link-layer-address', address: '02:11:22:33:44:55' }] } });
});

test('an RS from the unspecified address is valid without a link-layer address', (t) => {
  t.is(reason(check(NO_OPTIONS, '::')), 'valid');
});

test('a link-layer address from the unspecified address is dropped, however "::" is spelled', (t) => {
  t.is(reason(check(WITH_SLLA, '::')), 'slla-from-unspecified');
  t.is(reason(check(WITH_SLLA, '0:0:0::0')), 'slla-from-unspecified');
  t.is(reason(check(WITH_SLLA)), 'valid');
});

test('only hop limit 255 passes: anything lower crossed a router (RFC 4861 §6.1.1)', (t) => {
  for (const hopLimit of [254, 64, 1, 0]) {
    const verdict = check(NO_OPTIONS, LINK_LOCAL, hopLimit);
    t.is(reason(verdict), 'hop-limit', `hop limit ${hopLimit}`);
    t.regex(verdict.valid ? '' : verdict.detail, new RegExp(`hop limit ${hopLimit}, not 255`));
  }
  t.is(reason(check(NO_OPTIONS, LINK_LOCAL, 255)), 'valid');
  t.is(reason(check(LINUX_RS, '::', 254)), 'hop-limit', 'checked before anything else');
});

test('a hop limit the socket could not tell is dropped, not trusted', (t) => {
  const verdict = check(NO_OPTIONS, LINK_LOCAL, -1);
  t.is(reason(verdict), 'hop-limit');
  t.regex(verdict.valid ? '' : verdict.detail, /unknown/);
});

test('a non-zero code, a short message or another type is dropped', (t) => {
  t.is(reason(check(rs('85010000 00000000'))), 'code');
  t.is(reason(check(rs('85000000 000000'))), 'too-short');
  t.is(reason(check(rs('86000000 00000000'))), 'not-solicitation');
});

test('an option of Length 0 or one running past the end is dropped (RFC 4861 §4.6)', (t) => {
  const zero = check(rs('85000000 00000000 0100 021122334455'));
  t.is(reason(zero), 'bad-option');
  t.regex(zero.valid ? '' : zero.detail, /Length is 0/);
  t.is(reason(check(rs('85000000 00000000 0102 021122334455'))), 'bad-option');
});

test('options the router does not know are ignored (RFC 4861 §4.1)', (t) => {
  t.true(check(rs('85000000 00000000 fe01 000000000000 0101 021122334455')).valid);
});
