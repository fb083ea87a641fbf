import test from 'ava';
import { parseTsigKeyFile, TsigKeyFileError } from '../../lib/dns/tsig-key-file.ts';

// What `tsig-keygen -a hmac-sha256 leasehold-key` (BIND 9.18) prints.
const KEYGEN_OUTPUT = `key "leasehold-key" {
\talgorithm hmac-sha256;
\tsecret "b3EFo8+7ZqneKWHOFKQPFcWq0vK2tytRP45lxeDfjDU=";
};
`;

test('reads tsig-keygen output', (t) => {
  t.deepEqual(parseTsigKeyFile(KEYGEN_OUTPUT), [{
    name: 'leasehold-key',
    algorithm: 'hmac-sha256',
    secret: Buffer.from('b3EFo8+7ZqneKWHOFKQPFcWq0vK2tytRP45lxeDfjDU=', 'base64'),
  }]);
});

test('reads several keys, comments, unquoted names, any case of algorithm, a trailing dot', (t) => {
  const text = `# generated for the lab
// two keys
key ddns-1. { secret "AAEC"; algorithm HMAC-SHA512; };
/* the second
   one */ key "ddns-2" { algorithm hmac-sha1; secret "AAAA"; };`;
  t.deepEqual(parseTsigKeyFile(text), [
    { name: 'ddns-1', algorithm: 'hmac-sha512', secret: Buffer.from([0, 1, 2]) },
    { name: 'ddns-2', algorithm: 'hmac-sha1', secret: Buffer.from([0, 0, 0]) },
  ]);
  t.deepEqual(parseTsigKeyFile(''), []);
});

test('errors name the source and the line', (t) => {
  const cases: Array<[string, string, number, RegExp]> = [
    ['hmac-md5', 'key "k" {\n algorithm hmac-md5;\n secret "AAAA";\n};', 2, /hmac-md5 is not supported/],
    ['bad base64', 'key "k" {\n algorithm hmac-sha256;\n secret "not base64!";\n};', 3, /not base64/],
    ['no secret', 'key "k" {\n algorithm hmac-sha256;\n};', 1, /needs both algorithm and secret/],
    ['twice', 'key "k" { algorithm hmac-sha256;\n algorithm hmac-sha1; secret "AAAA"; };', 2, /given twice/],
    ['unknown option', 'key "k" {\n\n foo bar; };', 3, /unknown key option "foo"/],
    ['not a key', 'options { };', 1, /expected a key statement/],
    ['missing semicolon', 'key "k" { algorithm hmac-sha256 secret "AAAA"; };', 1, /expected ";"/],
    ['cut short', 'key "k" { algorithm hmac-sha256;', 1, /file ends/],
    ['stray character', 'key "k" { algorithm hmac-sha256; secret "AAAA"; };\n"unterminated', 2, /unexpected/],
  ];
  for (const [what, text, line, message] of cases) {
    const err = t.throws(() => parseTsigKeyFile(text, '/etc/leasehold/ddns.key'), { instanceOf: TsigKeyFileError, message }, what);
    t.like(err, { code: 'E_TSIG_KEY_FILE', source: '/etc/leasehold/ddns.key', line }, what);
    t.true(err?.message.startsWith(`/etc/leasehold/ddns.key:${line}: `), what);
  }
});
