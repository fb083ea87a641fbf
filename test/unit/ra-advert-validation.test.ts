// RFC 4861 §6.1.2: which Router Advertisements of other routers are looked at.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { validateRouterAdvert, type RaVerdict } from '../../server/ra/ra-validation.ts';

const RADVD_RA = readFileSync(new URL('../fixtures/ra/radvd-lab-ra.bin', import.meta.url));
const ROUTER = 'fe80::ff:fe00:1';
const reason = (verdict: RaVerdict) => (verdict.valid ? 'valid' : verdict.reason);
const check = (data: Buffer, source = ROUTER, hopLimit = 255) => validateRouterAdvert({ data, source, hopLimit });
const ra = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

test("radvd's RA from its link-local address with hop limit 255 is valid and decoded", (t) => {
  const verdict = check(RADVD_RA);
  t.true(verdict.valid);
  t.like(verdict.valid ? verdict.advert : {}, { curHopLimit: 64, routerLifetime: 1800 });
});

test('a hop limit other than 255, or one the socket could not tell, is dropped', (t) => {
  t.is(reason(check(RADVD_RA, ROUTER, 254)), 'hop-limit');
  t.is(reason(check(RADVD_RA, ROUTER, 64)), 'hop-limit');
  t.is(reason(check(RADVD_RA, ROUTER, -1)), 'hop-limit');
});

test('a source that is not link-local is dropped, however it is spelled', (t) => {
  t.is(reason(check(RADVD_RA, 'fd00:198:18::1')), 'source-not-link-local');
  t.is(reason(check(RADVD_RA, '::')), 'source-not-link-local');
  t.is(reason(check(RADVD_RA, 'FE80:0:0::1')), 'valid');
  t.is(reason(check(RADVD_RA, 'febf::1')), 'valid', 'fe80::/10 reaches febf');
  t.is(reason(check(RADVD_RA, 'fec0::1')), 'source-not-link-local', 'site-local is not link-local');
});

test('a short message, another type, a non-zero code or a broken option is dropped', (t) => {
  t.is(reason(check(ra('86000000 40000708 00000000 000000'))), 'too-short');
  t.is(reason(check(ra('85000000 40000708 00000000 00000000'))), 'not-advertisement');
  t.is(reason(check(ra('86010000 40000708 00000000 00000000'))), 'code');
  t.is(reason(check(ra('86000000 40000708 00000000 00000000 0500 000000000578'))), 'bad-option');
  t.is(reason(check(ra('86000000 40000708 00000000 00000000 0501 000000000578'))), 'valid');
});
