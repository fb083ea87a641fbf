/**
 * The external programs a shell script runs, found by reading it: a small
 * lexer for the sh/bash this project writes (quotes, `$(…)`, backticks,
 * `${…}`, here-documents, redirections, comments, line continuations) and a
 * walk over its simple commands that takes each command word, steps over
 * assignments, builtins, reserved words, `case` patterns and the script's
 * own functions, and looks through wrappers (`ip netns exec NS cmd`,
 * `nsenter … cmd`, `setsid`, `timeout`, `busybox APPLET`, a function of the
 * script that runs "$@"…) to the program they start. `docker exec`'s
 * command runs in a container and is reported as such. A heuristic, not a
 * shell: test/unit/external-programs.test.ts holds it to the ways this
 * repository starts programs.
 */

export type Side = 'host' | 'container';

export interface ProgramUse {
  program: string;
  /** `busybox APPLET`: the applet. */
  applet?: string;
  side: Side;
  file: string;
  line: number;
}

interface Word {
  kind: 'word';
  raw: string;
  /** The word's value when it holds no expansion, else undefined. */
  value: string | undefined;
  /** What the word starts with before its first expansion. */
  head: string;
  line: number;
}
interface Op {
  kind: 'op';
  op: string;
  line: number;
}
type Token = Word | Op;

/** A shell function: a wrapper runs "$@" as a command after skipping its first `skip` arguments (or up to `--`). */
export interface ShellFunction {
  wrapper: boolean;
  skip: number | '--';
}

const BUILTINS = new Set([
  '.', ':', '[', 'alias', 'bg', 'bind', 'break', 'builtin', 'caller', 'cd', 'compgen', 'complete', 'continue', 'declare',
  'dirs', 'disown', 'echo', 'enable', 'eval', 'exit', 'export', 'false', 'fc', 'fg', 'getopts', 'hash', 'help',
  'history', 'jobs', 'kill', 'let', 'local', 'logout', 'mapfile', 'popd', 'printf', 'pushd', 'pwd', 'read', 'readarray',
  'readonly', 'return', 'set', 'shift', 'shopt', 'source', 'suspend', 'test', 'times', 'trap', 'true', 'type', 'typeset',
  'ulimit', 'umask', 'unalias', 'unset', 'wait',
]);
/** Reserved words that may stand before a command on the same line. */
const LEADING_RESERVED = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', 'time', '{', '}', 'fi', 'done', 'esac']);
const SEPARATORS = new Set([';', '\n', '&', '&&', '||', '|', '|&', '(', ')', ';;', ';&', ';;&']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;
const PROGRAM_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const SYSTEM_DIR = /^\/(usr\/)?s?bin\/([^/]+)$/;

// ---------------------------------------------------------------------------
// Lexer

class Lexer {
  readonly tokens: Token[] = [];
  /** Scripts inside `$(…)`, backticks and `<(…)`: scanned as scripts of their own. */
  readonly nested: { text: string; line: number }[] = [];
  #i = 0;
  #line: number;
  #heredocs: { delimiter: string; strip: boolean }[] = [];

  constructor(readonly text: string, firstLine = 1) {
    this.#line = firstLine;
    this.#run();
  }

  #run(): void {
    const s = this.text;
    while (this.#i < s.length) {
      const c = s[this.#i];
      if (c === '\\' && s[this.#i + 1] === '\n') {
        this.#i += 2;
        this.#line++;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        this.#i++;
      } else if (c === '\n') {
        this.#op('\n', 1);
        this.#line++;
        this.#skipHeredocs();
      } else if (c === '#') {
        while (this.#i < s.length && s[this.#i] !== '\n') this.#i++;
      } else if (c === ';') {
        const op = s.startsWith(';;&', this.#i) ? ';;&' : s.startsWith(';;', this.#i) ? ';;' : s.startsWith(';&', this.#i) ? ';&' : ';';
        this.#op(op, op.length);
      } else if (c === '&') {
        if (s[this.#i + 1] === '>') this.#redirect();
        else this.#op(s[this.#i + 1] === '&' ? '&&' : '&', s[this.#i + 1] === '&' ? 2 : 1);
      } else if (c === '|') {
        const op = s[this.#i + 1] === '|' ? '||' : s[this.#i + 1] === '&' ? '|&' : '|';
        this.#op(op, op.length);
      } else if (c === '(' && s[this.#i + 1] === '(') {
        // `(( … ))`: arithmetic, no command in it.
        this.#i += 2;
        this.#balanced('(', ')');
        this.#i++;
      } else if (c === '(' || c === ')') {
        this.#op(c, 1);
      } else if ((c === '<' || c === '>') && s[this.#i + 1] === '(') {
        // Process substitution: a script of its own, standing as one word.
        const start = this.#i;
        this.#i += 2;
        this.nested.push({ text: this.#balanced('(', ')'), line: this.#line });
        this.#word(s.slice(start, this.#i), undefined, '');
      } else if (c === '<' || c === '>') {
        this.#redirect();
      } else {
        this.#readWord();
      }
    }
  }

  #op(op: string, length: number): void {
    this.tokens.push({ kind: 'op', op, line: this.#line });
    this.#i += length;
  }

  #word(raw: string, value: string | undefined, head: string): void {
    this.tokens.push({ kind: 'word', raw, value, head, line: this.#line });
  }

  #redirect(): void {
    const s = this.text;
    const m = /^(<<<|<<-|<<|<&|<>|<|>>|>&|>\||>|&>>|&>)/.exec(s.slice(this.#i, this.#i + 3));
    const op = m ? m[1] : s[this.#i];
    this.#i += op.length;
    // `2>&1`: the digits before the operator were the descriptor, not a word.
    const last = this.tokens.at(-1);
    if (last?.kind === 'word' && /^\d+$/.test(last.raw) && this.text[this.#i - op.length - 1] !== ' ') this.tokens.pop();
    this.tokens.push({ kind: 'op', op: 'redirect', line: this.#line });
    if (op === '<<' || op === '<<-') {
      while (s[this.#i] === ' ' || s[this.#i] === '\t') this.#i++;
      const before = this.tokens.length;
      this.#readWord();
      const delimiter = this.tokens.length > before ? (this.tokens.at(-1) as Word) : undefined;
      if (delimiter) this.#heredocs.push({ delimiter: delimiter.raw.replace(/['"\\]/g, ''), strip: op === '<<-' });
    }
  }

  #skipHeredocs(): void {
    const s = this.text;
    for (const doc of this.#heredocs) {
      while (this.#i < s.length) {
        const end = s.indexOf('\n', this.#i);
        const line = s.slice(this.#i, end === -1 ? s.length : end);
        this.#i = end === -1 ? s.length : end + 1;
        this.#line++;
        if ((doc.strip ? line.replace(/^\t+/, '') : line) === doc.delimiter) break;
      }
    }
    this.#heredocs = [];
  }

  /** From just after an opening bracket to just after its match, quotes respected; returns the inside. */
  #balanced(open: string, close: string): string {
    const s = this.text;
    const start = this.#i;
    let depth = 1;
    while (this.#i < s.length) {
      const c = s[this.#i];
      if (c === '\\') {
        this.#i += 2;
        continue;
      }
      if (c === '\n') this.#line++;
      if (c === "'") {
        const end = s.indexOf("'", this.#i + 1);
        this.#countLines(this.#i, end);
        this.#i = end === -1 ? s.length : end + 1;
        continue;
      }
      if (c === '"') {
        this.#i++;
        this.#readDouble(() => undefined);
        continue;
      }
      if (c === open) depth++;
      else if (c === close && --depth === 0) {
        this.#i++;
        return s.slice(start, this.#i - 1);
      }
      this.#i++;
    }
    return s.slice(start);
  }

  #countLines(from: number, to: number): void {
    for (let k = from; k < (to === -1 ? this.text.length : to); k++) if (this.text[k] === '\n') this.#line++;
  }

  /** `$…` at the cursor: returns the expansion's text (the cursor moves past it). */
  #readDollar(): string {
    const s = this.text;
    const start = this.#i;
    const line = this.#line;
    if (s.startsWith('$((', this.#i)) {
      this.#i += 3;
      this.#balanced('(', ')');
      this.#i++;
    } else if (s.startsWith('$(', this.#i)) {
      this.#i += 2;
      this.nested.push({ text: this.#balanced('(', ')'), line });
    } else if (s.startsWith('${', this.#i)) {
      this.#i += 2;
      this.#balanced('{', '}');
    } else if (s.startsWith("$'", this.#i)) {
      const end = s.indexOf("'", this.#i + 2);
      this.#i = end === -1 ? s.length : end + 1;
    } else {
      this.#i++;
      const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(s.slice(this.#i, this.#i + 64));
      if (m) this.#i += m[1].length;
    }
    return s.slice(start, this.#i);
  }

  #readBacktick(): void {
    const s = this.text;
    const line = this.#line;
    const end = s.indexOf('`', this.#i + 1);
    const inner = s.slice(this.#i + 1, end === -1 ? s.length : end);
    this.#countLines(this.#i, end);
    this.#i = end === -1 ? s.length : end + 1;
    this.nested.push({ text: inner, line });
  }

  /** A `$…` or backtick expansion at the cursor, read past; false when there is none. */
  #readExpansion(): boolean {
    const s = this.text;
    if (s[this.#i] === '$' && /[A-Za-z_0-9@*#?$!({'-]/.test(s[this.#i + 1] ?? '')) {
      this.#readDollar();
      return true;
    }
    if (s[this.#i] === '`') {
      this.#readBacktick();
      return true;
    }
    return false;
  }

  /** Inside "…" from just after the opening quote; `literal` gets the plain characters. */
  #readDouble(literal: (text: string) => void): boolean {
    const s = this.text;
    let plain = true;
    while (this.#i < s.length && s[this.#i] !== '"') {
      const c = s[this.#i];
      if (c === '\\') {
        literal(s[this.#i + 1] ?? '');
        this.#i += 2;
      } else if (this.#readExpansion()) {
        plain = false;
      } else {
        if (c === '\n') this.#line++;
        literal(c);
        this.#i++;
      }
    }
    this.#i++;
    return plain;
  }

  #readWord(): void {
    const s = this.text;
    const start = this.#i;
    const line = this.#line;
    let value = '';
    let head = '';
    let plain = true;
    const add = (text: string) => {
      value += text;
      if (plain) head += text;
    };
    while (this.#i < s.length) {
      const c = s[this.#i];
      if (c === '(' && /^[A-Za-z_][A-Za-z0-9_]*\+?=$/.test(s.slice(start, this.#i))) {
        // `name=(…)`: an array assignment, one word.
        this.#i++;
        this.#balanced('(', ')');
        plain = false;
        continue;
      }
      if (' \t\r\n;&|()<>'.includes(c)) break;
      if (c === '\\') {
        if (s[this.#i + 1] === '\n') {
          this.#i += 2;
          this.#line++;
          break;
        }
        add(s[this.#i + 1] ?? '');
        this.#i += 2;
      } else if (c === "'") {
        const end = s.indexOf("'", this.#i + 1);
        add(s.slice(this.#i + 1, end === -1 ? s.length : end));
        this.#countLines(this.#i, end);
        this.#i = end === -1 ? s.length : end + 1;
      } else if (c === '"') {
        this.#i++;
        if (!this.#readDouble(add)) plain = false;
      } else if (this.#readExpansion()) {
        plain = false;
      } else {
        add(c);
        this.#i++;
      }
    }
    const raw = s.slice(start, this.#i);
    this.tokens.push({ kind: 'word', raw, value: plain ? value : undefined, head, line });
  }
}

// ---------------------------------------------------------------------------
// Commands

interface SimpleCommand {
  words: Word[];
  line: number;
}

/** The simple commands of a token stream, redirections and their targets left out. */
function simpleCommands(tokens: readonly Token[]): { commands: SimpleCommand[]; endsWith: (string | undefined)[] } {
  const commands: SimpleCommand[] = [];
  const endsWith: (string | undefined)[] = [];
  let words: Word[] = [];
  let skipNext = false;
  for (const token of tokens) {
    if (token.kind === 'op' && token.op === 'redirect') {
      skipNext = true;
      continue;
    }
    if (token.kind === 'word') {
      if (skipNext) skipNext = false;
      else words.push(token);
      continue;
    }
    skipNext = false;
    if (SEPARATORS.has(token.op)) {
      commands.push({ words, line: words[0]?.line ?? token.line });
      endsWith.push(token.op);
      words = [];
    }
  }
  commands.push({ words, line: words[0]?.line ?? 0 });
  endsWith.push(undefined);
  return { commands, endsWith };
}

const isDollarAt = (w: Word) => /^"?\$(\{@\}|@)"?$/.test(w.raw);
/** `${var:+…}`: expands to nothing when var is empty, so it may not be the command. */
const isOptionalPrefix = (w: Word) => /^\$\{[A-Za-z_][A-Za-z0-9_]*:\+/.test(w.raw);

/** Options of a wrapper that take a value (the next word). */
const OPTION_ARGS: Record<string, ReadonlySet<string>> = {
  timeout: new Set(['-s', '--signal', '-k', '--kill-after']),
  nsenter: new Set(['-t', '--target', '-S', '--setuid', '-G', '--setgid']),
  'systemd-run': new Set(['-p', '--property', '-u', '--unit', '-E', '--setenv', '-M', '--machine', '--uid', '--gid', '--slice']),
  xargs: new Set(['-n', '-I', '-d', '-P', '-L', '-s', '-a', '-E']),
  env: new Set(['-u', '--unset', '-C', '--chdir']),
  nice: new Set(['-n']),
  docker: new Set(['-e', '--env', '-u', '--user', '-w', '--workdir']),
};
/** Wrappers with a positional argument before the command (timeout's duration, taskset's CPU list). */
const POSITIONAL_BEFORE_COMMAND: Record<string, number> = { timeout: 1, taskset: 1 };
const PLAIN_WRAPPERS = new Set(['setsid', 'nohup', 'nice', 'sudo', 'env', 'xargs', 'timeout', 'taskset', 'nsenter', 'systemd-run', 'exec', 'stdbuf']);

export interface CommandWalk {
  /** Programs reached, in order (wrappers included). */
  programs: { program: string; applet?: string; side: Side; line: number }[];
  /** The walk reached "$@" where a command stands. */
  runsArguments: boolean;
}

/**
 * The programs one simple command starts. `functions` are the shell
 * functions the script can call (its own and those of scripts it sources).
 */
export function walkCommand(
  words: readonly Word[],
  functions: ReadonlyMap<string, ShellFunction>,
  side: Side = 'host',
  startsExeced = false,
): CommandWalk {
  const out: CommandWalk = { programs: [], runsArguments: false };
  let i = 0;
  while (i < words.length && ASSIGNMENT.test(words[i].value ?? words[i].head)) i++;
  // Past a program that execs its argument (setsid, timeout, xargs…), a
  // name is a program: builtins and the script's functions are the shell's.
  let execed = startsExeced;
  while (i < words.length) {
    const w = words[i];
    if (isOptionalPrefix(w)) {
      i++;
      continue;
    }
    if (isDollarAt(w)) {
      out.runsArguments = true;
      return out;
    }
    const name = commandName(w);
    if (name === undefined) return out;
    if (name === 'command' || name === 'exec' || name === 'builtin') {
      // `command -v X` looks X up on PATH: the script needs it all the same.
      i++;
      while (i < words.length && words[i].value?.startsWith('-')) i++;
      if (name === 'builtin') return out;
      if (name === 'exec') execed = true;
      continue;
    }
    if (BUILTINS.has(name) && !execed) return out;
    const fn = execed ? undefined : functions.get(name);
    if (fn) {
      if (!fn.wrapper) return out;
      if (fn.skip === '--') {
        const sep = words.findIndex((x, k) => k > i && x.value === '--');
        if (sep === -1) return out;
        i = sep + 1;
      } else {
        i += 1 + fn.skip;
      }
      continue;
    }
    out.programs.push({ program: name, side, line: w.line });
    i++;
    if (name === 'busybox') {
      const applet = words[i] ? commandName(words[i]) : undefined;
      if (applet) out.programs[out.programs.length - 1].applet = applet;
      return out;
    }
    if (name === 'ip') {
      if (words[i]?.value === 'netns' && words[i + 1]?.value === 'exec') {
        i += 3;
        execed = true;
        continue;
      }
      return out;
    }
    if (name === 'docker' && words[i]?.value === 'exec') {
      i++;
      while (i < words.length && words[i].value?.startsWith('-')) i += OPTION_ARGS.docker.has(words[i].value!) ? 2 : 1;
      i++; // the container
      const inner = walkCommand(words.slice(i), new Map(), 'container', true);
      out.programs.push(...inner.programs);
      return out;
    }
    if (!PLAIN_WRAPPERS.has(name)) return out;
    const withArgs = OPTION_ARGS[name] ?? new Set<string>();
    while (i < words.length) {
      const v = words[i].value ?? (words[i].head.startsWith('-') ? words[i].head : undefined);
      if (v !== undefined && v.startsWith('-') && v !== '-') {
        i += withArgs.has(v) ? 2 : 1;
      } else if (v !== undefined && ASSIGNMENT.test(v) && (name === 'env' || name === 'sudo')) {
        i++;
      } else if (isOptionalPrefix(words[i]) || /^"?\$\{[A-Za-z_]\w*\[@\]\}"?$/.test(words[i].raw)) {
        // `"${props[@]}"`: more options, built by the script.
        i++;
      } else {
        break;
      }
    }
    i += POSITIONAL_BEFORE_COMMAND[name] ?? 0;
    execed = true;
  }
  return out;
}

/** A command word's program name: a literal name, or the base name of a literal path in a system directory. */
function commandName(w: Word): string | undefined {
  if (w.value === undefined) return undefined;
  if (PROGRAM_NAME.test(w.value)) return w.value;
  const m = SYSTEM_DIR.exec(w.value);
  return m ? m[2] : undefined;
}

// ---------------------------------------------------------------------------
// Scripts

interface ParsedScript {
  commands: SimpleCommand[];
  /** Functions defined here, with the commands of each body. */
  definitions: Map<string, SimpleCommand[]>;
  nested: { text: string; line: number }[];
}

function parse(text: string, firstLine: number): ParsedScript {
  const lexer = new Lexer(text, firstLine);
  const { commands: raw, endsWith } = simpleCommands(lexer.tokens);
  const commands: SimpleCommand[] = [];
  const definitions = new Map<string, SimpleCommand[]>();
  // Open function bodies: name and the brace depth at which it closes.
  const open: { name: string; depth: number }[] = [];
  let depth = 0;
  let pendingFunction: string | undefined;
  // `case` patterns: until `)` the words are patterns, not commands.
  const cases: ('pattern' | 'body')[] = [];
  let inDoubleBracket = false;

  for (let k = 0; k < raw.length; k++) {
    let words = raw[k].words;
    const end = endsWith[k];
    if (cases.at(-1) === 'pattern') {
      if (words[0]?.value === 'esac') {
        cases.pop();
        words = words.slice(1);
      } else {
        if (end === ')') cases[cases.length - 1] = 'body';
        continue;
      }
    }
    if (inDoubleBracket) {
      if (words.some((w) => w.value === ']]')) inDoubleBracket = false;
      continue;
    }
    // `name() {`: a word, then `(` and `)`.
    if (words.length === 1 && end === '(' && raw[k + 1]?.words.length === 0 && endsWith[k + 1] === ')' && words[0].value && /^[\w.:-]+$/.test(words[0].value)) {
      pendingFunction = words[0].value;
      k++;
      continue;
    }
    if (words[0]?.value === 'function' && words[1]?.value) {
      pendingFunction = words[1].value.replace(/\(\)$/, '');
      words = words.slice(2);
    }
    // Reserved words before the command, braces opening and closing bodies.
    while (words.length > 0 && words[0].value !== undefined && LEADING_RESERVED.has(words[0].value)) {
      const r = words[0].value;
      if (r === '{') {
        depth++;
        if (pendingFunction) {
          open.push({ name: pendingFunction, depth });
          definitions.set(pendingFunction, []);
          pendingFunction = undefined;
        }
      } else if (r === '}') {
        if (open.at(-1)?.depth === depth) open.pop();
        depth--;
      } else if (r === 'esac') {
        cases.pop();
      }
      words = words.slice(1);
    }
    if (words[0]?.value === 'case') {
      cases.push('pattern');
      continue;
    }
    if (words[0]?.value === 'for' || words[0]?.value === 'select') continue;
    if (words[0]?.value === '[[') {
      if (!words.some((w) => w.value === ']]')) inDoubleBracket = true;
      continue;
    }
    if (end === ';;' || end === ';&' || end === ';;&') {
      if (cases.length > 0) cases[cases.length - 1] = 'pattern';
    }
    if (words.length === 0) continue;
    // A trailing `}` closes a one-line body: `f() { …; }` ends its last command with `;`.
    const command = { words, line: raw[k].line };
    commands.push(command);
    for (const f of open) definitions.get(f.name)!.push(command);
  }
  return { commands, definitions, nested: lexer.nested };
}

/** Names of the functions a script defines (a first, cheap pass). */
export function definedFunctions(text: string): string[] {
  return [...parse(text, 1).definitions.keys()];
}

/**
 * What each function of a script is: a wrapper when a command in its body
 * reaches "$@" (after wrappers such as setsid or `ip netns exec`), with the
 * arguments it shifts off first, or everything up to `--` when it looks
 * for one.
 */
export function describeFunctions(text: string, known: ReadonlyMap<string, ShellFunction>): Map<string, ShellFunction> {
  const parsed = parse(text, 1);
  const result = new Map<string, ShellFunction>();
  for (const [name, body] of parsed.definitions) {
    let shifted = 0;
    let wrapper: ShellFunction = { wrapper: false, skip: 0 };
    for (const command of body) {
      const first = command.words[0]?.value;
      if (first === 'shift') shifted += Number(command.words[1]?.value ?? 1) || 1;
      if (walkCommand(command.words, known).runsArguments && !wrapper.wrapper) wrapper = { wrapper: true, skip: shifted };
    }
    if (wrapper.wrapper && body.some((c) => (c.words[0]?.value === '[' || c.words[0]?.value === 'test') && c.words.some((w) => w.value === '--'))) {
      wrapper = { wrapper: true, skip: '--' };
    }
    result.set(name, wrapper);
  }
  return result;
}

/** Every program a script runs, nested command substitutions included. */
export function scanShell(file: string, text: string, functions: ReadonlyMap<string, ShellFunction>, side: Side = 'host', firstLine = 1): ProgramUse[] {
  const parsed = parse(text, firstLine);
  const uses: ProgramUse[] = [];
  for (const command of parsed.commands) {
    for (const p of walkCommand(command.words, functions, side).programs) uses.push({ ...p, file });
  }
  for (const inner of parsed.nested) uses.push(...scanShell(file, inner.text, functions, side, inner.line));
  return uses;
}

/**
 * A Makefile's recipes as shell text: the tab-indented lines, with their
 * continuations, `@`/`-`/`+` prefixes dropped, make's own `$(VAR)` turned
 * into a shell variable and `$$` into `$`. Blank lines keep line numbers.
 */
export function makefileRecipes(text: string): string {
  return text
    .split('\n')
    .map((line, k, lines) => {
      const inRecipe = line.startsWith('\t') || (k > 0 && lines[k - 1].startsWith('\t') && lines[k - 1].endsWith('\\'));
      if (!inRecipe) return '';
      return line
        .replace(/^\t[@+-]*/, '')
        .replace(/(?<!\$)\$[({][^)}]*[)}]/g, '$MAKEVAR')
        .replace(/\$\$/g, '$');
    })
    .join('\n');
}
