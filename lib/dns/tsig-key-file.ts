import { LeaseholdError } from '../core/errors.ts';
import { isBase64 } from '../wire/base64.ts';
import { isTsigAlgorithm, type TsigKey } from './tsig.ts';

/** A key file Leasehold cannot use: syntax, an unsupported algorithm, a bad secret. */
export class TsigKeyFileError extends LeaseholdError {
  readonly code = 'E_TSIG_KEY_FILE';

  constructor(
    readonly source: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${source}:${line}: ${detail}`);
  }
}

interface Token {
  text: string;
  quoted: boolean;
  line: number;
}

/** named.conf tokens: words, quoted strings, braces and semicolons; #, // and /* *\/ comments. */
function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s+|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};"#]+)|(.)/gy;
  let line = 1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[1] !== undefined) tokens.push({ text: m[1].replace(/\\(.)/g, '$1'), quoted: true, line });
    else if (m[2] !== undefined || m[3] !== undefined) tokens.push({ text: m[2] ?? m[3], quoted: false, line });
    else if (m[4] !== undefined) throw new TsigKeyFileError(source, line, `unexpected ${JSON.stringify(m[4])}`);
    line += (m[0].match(/\n/g) ?? []).length;
  }
  return tokens;
}

/**
 * The `key` statements of a BIND key file, as `tsig-keygen` writes them:
 *
 *     key "name" {
 *         algorithm hmac-sha256;
 *         secret "base64";
 *     };
 *
 * Every statement must be a `key`; each needs exactly one algorithm (one of
 * TsigAlgorithm) and one secret. Throws TsigKeyFileError naming the line.
 */
export function parseTsigKeyFile(text: string, source = 'key file'): TsigKey[] {
  const tokens = tokenize(text, source);
  let pos = 0;
  const lastLine = () => tokens.at(-1)?.line ?? 1;
  const next = (what: string): Token => {
    const token = tokens[pos++];
    if (!token) throw new TsigKeyFileError(source, lastLine(), `file ends where ${what} was expected`);
    return token;
  };
  const expect = (text: string) => {
    const token = next(JSON.stringify(text));
    if (token.quoted || token.text !== text) throw new TsigKeyFileError(source, token.line, `expected "${text}", found ${JSON.stringify(token.text)}`);
  };
  const keys: TsigKey[] = [];
  while (pos < tokens.length) {
    const start = next('key');
    if (start.quoted || start.text !== 'key') throw new TsigKeyFileError(source, start.line, `expected a key statement, found ${JSON.stringify(start.text)}`);
    const name = next('a key name').text.replace(/\.$/, '');
    expect('{');
    const fields = new Map<string, Token>();
    for (let field = next('algorithm, secret or "}"'); field.quoted || field.text !== '}'; field = next('algorithm, secret or "}"')) {
      if (field.text !== 'algorithm' && field.text !== 'secret') {
        throw new TsigKeyFileError(source, field.line, `unknown key option ${JSON.stringify(field.text)}`);
      }
      if (fields.has(field.text)) throw new TsigKeyFileError(source, field.line, `${field.text} given twice for key "${name}"`);
      fields.set(field.text, next(`a value for ${field.text}`));
      expect(';');
    }
    expect(';');
    const algorithm = fields.get('algorithm');
    const secret = fields.get('secret');
    if (!algorithm || !secret) throw new TsigKeyFileError(source, start.line, `key "${name}" needs both algorithm and secret`);
    const algorithmName = algorithm.text.toLowerCase();
    if (!isTsigAlgorithm(algorithmName)) {
      throw new TsigKeyFileError(source, algorithm.line, `algorithm ${algorithm.text} is not supported (use hmac-sha256, hmac-sha512 or hmac-sha1)`);
    }
    if (!isBase64(secret.text)) throw new TsigKeyFileError(source, secret.line, `the secret of key "${name}" is not base64`);
    keys.push({ name, algorithm: algorithmName, secret: Buffer.from(secret.text, 'base64') });
  }
  return keys;
}
