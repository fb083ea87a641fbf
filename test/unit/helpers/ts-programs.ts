import ts from 'typescript';
import type { ProgramUse, Side } from './shell-programs.ts';

/**
 * The external programs the TypeScript code starts, found in its syntax
 * (no type checker): argv literals handed to child_process (`execFile`,
 * `spawn`, …) and to the project's own helpers that hand them on (`run`,
 * `execIn`, `spawnIn`, `runCommand`, `new TrackedProcess`, …). Those helpers
 * are not listed here: a function or method whose parameter reaches a
 * spawning call's argv becomes a spawner itself, found over every file to
 * a fixed point, so a new helper is followed like the old ones. A program
 * named through `packagedProgram('x')` (found in its package's directory,
 * not on PATH) counts as x. Argvs built
 * in variables, in `cond ? [...] : []` spreads and by local functions that
 * return an array are evaluated; wrappers (`ip netns exec NS`, `nsenter`,
 * `taskset`, `timeout`, `setsid`, `setpriv`, `busybox APPLET`) are looked through.
 * Commands that run inside a container (dockerode's `Cmd`, a container
 * spec's `command`, `exec` on a container handle) are reported as such.
 * `bash -c`/`sh -c` scripts are handed to `shellScript`.
 */

/** One argument of an argv: its text, and whether that is all of it (a template with `${…}` is not). */
interface Arg {
  text: string;
  exact: boolean;
  /** Came from parameter `param` of the function being analysed: spread (`...argv`) or whole. */
  param?: number;
}
type Argv = Arg[];

/** How a spawner takes its command. */
type Signature =
  | { form: 'argv'; index: number; side: Side }
  | { form: 'program'; index: number; argsIndex: number; side: Side };

const UNKNOWN: Arg = { text: '', exact: false };
const MAX_ALTERNATIVES = 32;

/** child_process and the like: the base cases. */
const BASE: ReadonlyMap<string, Signature[]> = new Map<string, Signature[]>([
  // A look-up on PATH (the benchmarks' preflight): the program is needed all the same.
  ['which', [{ form: 'program', index: 0, argsIndex: -1, side: 'host' }]],
  ['execFile', [{ form: 'program', index: 0, argsIndex: 1, side: 'host' }]],
  ['execFileSync', [{ form: 'program', index: 0, argsIndex: 1, side: 'host' }]],
  ['spawn', [{ form: 'program', index: 0, argsIndex: 1, side: 'host' }]],
  ['spawnSync', [{ form: 'program', index: 0, argsIndex: 1, side: 'host' }]],
]);

const WRAPPER_OPTION_ARGS: Record<string, ReadonlySet<string>> = {
  nsenter: new Set(['-t', '--target']),
  timeout: new Set(['-s', '-k']),
};
const WRAPPER_POSITIONALS: Record<string, number> = { taskset: 1, timeout: 1 };
const PLAIN_WRAPPERS = new Set(['nsenter', 'taskset', 'timeout', 'setsid', 'setpriv', 'env', 'nice']);
/** `packagedProgram('initdb')` is initdb, wherever its package keeps it. */
const PROGRAM_RESOLVER = 'packagedProgram';
const PROGRAM_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const SYSTEM_DIR = /^\/(usr\/)?s?bin\/([^/]+)$/;

export interface TsFile {
  file: string;
  text: string;
}

export interface TsScanResult {
  uses: ProgramUse[];
  /** `bash -c` / `sh -c` scripts, for the shell scanner. */
  shellScripts: { file: string; line: number; text: string; side: Side }[];
}

type FunctionLike = ts.FunctionDeclaration | ts.FunctionExpression | ts.ArrowFunction | ts.MethodDeclaration | ts.ConstructorDeclaration;

interface Declared {
  name: string;
  fn: FunctionLike;
  source: ts.SourceFile;
  /** A method or an object's property: called as `x.name(…)`. */
  method: boolean;
  /** A function callable from other files (exported). A file's own function shadows others of its name there only. */
  shared: boolean;
}

export function scanTypeScript(files: readonly TsFile[]): TsScanResult {
  const sources = files.map((f) => ({ file: f.file, source: ts.createSourceFile(f.file, f.text, ts.ScriptTarget.ES2022, true) }));
  const declared: Declared[] = sources.flatMap(({ source }) => declarations(source));
  const aliases = sources.flatMap(({ source }) => aliasesIn(source));

  // Fixed point: a function becomes a spawner when its parameter reaches one.
  // Functions are called by name (a file's own first), methods through an
  // object (`segment.exec(…)`, `c.exec(…)`), whatever their file.
  const functions = new Map<string, Signature[]>(BASE);
  const methods = new Map<string, Signature[]>();
  const local = new Map<ts.SourceFile, Map<string, Signature[]>>();
  const add = (table: Map<string, Signature[]>, name: string, sig: Signature): boolean => {
    const list = table.get(name) ?? [];
    if (list.some((s) => JSON.stringify(s) === JSON.stringify(sig))) return false;
    table.set(name, [...list, sig]);
    return true;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const d of [...aliases, ...declared]) {
      const sigs = 'target' in d ? lookupFunction(d.target, d.source) : signaturesOf(d);
      for (const sig of sigs) {
        if (d.method) {
          changed = add(methods, d.name, sig) || changed;
        } else {
          changed = add(localTable(d.source), d.name, sig) || changed;
          if (d.shared) changed = add(functions, d.name, sig) || changed;
        }
      }
    }
  }

  function localTable(source: ts.SourceFile): Map<string, Signature[]> {
    let table = local.get(source);
    if (!table) local.set(source, (table = new Map()));
    return table;
  }

  /** A function's signatures: the file's own definition first (a local `run` is not the harness's). */
  function lookupFunction(name: string, source: ts.SourceFile): Signature[] {
    return local.get(source)?.get(name) ?? functions.get(name) ?? [];
  }

  function lookup(callee: ts.Expression, source: ts.SourceFile): Signature[] {
    if (ts.isIdentifier(callee)) return lookupFunction(callee.text, source);
    // `child_process.spawn(…)` as well as methods.
    if (ts.isPropertyAccessExpression(callee)) return methods.get(callee.name.text) ?? BASE.get(callee.name.text) ?? [];
    return [];
  }

  /** What calls inside `d`'s body do with its parameters. */
  function signaturesOf(d: Declared): Signature[] {
    const params = d.fn.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : ''));
    const found: Signature[] = [];
    const visit = (node: ts.Node): void => {
      for (const call of spawningCalls(node, d.source, params)) {
        const program = call.argv.length > 0 ? unwrap(call.argv).at(-1) : undefined;
        if (program?.kind === 'param') found.push({ form: 'argv', index: program.param, side: call.side });
        if (call.programParam !== undefined) {
          found.push({ form: 'program', index: call.programParam, argsIndex: call.argsParam ?? -1, side: call.side });
        }
      }
      ts.forEachChild(node, visit);
    };
    if (d.fn.body) visit(d.fn.body);
    return found;
  }

  interface SpawnCall {
    argv: Argv;
    side: Side;
    line: number;
    /** Program-form call whose program is parameter N of the enclosing function. */
    programParam?: number;
    argsParam?: number;
  }

  /** The spawning calls at `node` itself (not its children), one per argv alternative. */
  function spawningCalls(node: ts.Node, source: ts.SourceFile, params: readonly string[]): SpawnCall[] {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    const calls: SpawnCall[] = [];
    // dockerode's Cmd and a container spec's command run in the container.
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && (node.name.text === 'Cmd' || node.name.text === 'command')) {
      for (const argv of evaluate(node.initializer, source, params)) {
        if (argv[0]?.exact || argv[0]?.param !== undefined) calls.push({ argv, side: 'container', line });
      }
      return calls;
    }
    if (!ts.isCallExpression(node) && !ts.isNewExpression(node)) return calls;
    const args = node.arguments ?? ts.factory.createNodeArray();
    for (const sig of lookup(node.expression, source)) {
      const arg = args[sig.index];
      if (!arg) continue;
      if (sig.form === 'argv') {
        if (ts.isStringLiteralLike(arg) || ts.isTemplateExpression(arg)) continue;
        for (const argv of evaluate(arg, source, params)) calls.push({ argv, side: sig.side, line });
        continue;
      }
      // Program form: (program, args). `f(argv[0], argv.slice(1))` hands on a whole argv.
      const whole = elementZeroOf(arg);
      if (whole) {
        for (const argv of evaluate(whole, source, params)) calls.push({ argv, side: sig.side, line });
        continue;
      }
      if (ts.isIdentifier(arg) && params.includes(arg.text)) {
        const rest = args[sig.argsIndex];
        calls.push({
          argv: [],
          side: sig.side,
          line,
          programParam: params.indexOf(arg.text),
          argsParam: rest && ts.isIdentifier(rest) ? params.indexOf(rest.text) : undefined,
        });
        continue;
      }
      const program = evaluateArg(arg, source, params);
      if (!program.exact && program.param === undefined) continue;
      const rest = args[sig.argsIndex];
      const tails = rest ? evaluate(rest, source, params) : [[]];
      for (const tail of tails) calls.push({ argv: [program, ...tail], side: sig.side, line });
    }
    return calls;
  }

  const uses: ProgramUse[] = [];
  const shellScripts: TsScanResult['shellScripts'] = [];
  for (const { file, source } of sources) {
    const visit = (node: ts.Node): void => {
      for (const call of spawningCalls(node, source, [])) {
        for (const step of unwrap(call.argv)) {
          if (step.kind === 'program') uses.push({ program: step.program, applet: step.applet, side: call.side, file, line: call.line });
          if (step.kind === 'program' && step.script !== undefined) shellScripts.push({ file, line: call.line, text: step.script, side: call.side });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { uses, shellScripts };
}

type Step =
  | { kind: 'program'; program: string; applet?: string; script?: string }
  | { kind: 'param'; param: number }
  | { kind: 'unknown' };

/** The programs an argv starts, wrappers first; the last step is what they run (or a parameter, or unknown). */
function unwrap(argv: Argv): Step[] {
  const steps: Step[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i];
    if (a.param !== undefined) {
      steps.push({ kind: 'param', param: a.param });
      return steps;
    }
    const name = a.exact ? programName(a.text) : undefined;
    if (!name) {
      steps.push({ kind: 'unknown' });
      return steps;
    }
    const step: Step = { kind: 'program', program: name };
    steps.push(step);
    i++;
    if (name === 'busybox') {
      if (argv[i]?.exact) step.applet = argv[i].text;
      return steps;
    }
    if ((name === 'bash' || name === 'sh') && argv[i]?.text === '-c' && argv[i + 1]) {
      step.script = argv[i + 1].text;
      return steps;
    }
    if (name === 'ip') {
      if (argv[i]?.text === 'netns' && argv[i + 1]?.text === 'exec') {
        i += 3;
        continue;
      }
      return steps;
    }
    if (!PLAIN_WRAPPERS.has(name)) return steps;
    const withArgs = WRAPPER_OPTION_ARGS[name] ?? new Set<string>();
    while (i < argv.length && argv[i].param === undefined && argv[i].text.startsWith('-')) i += withArgs.has(argv[i].text) ? 2 : 1;
    i += WRAPPER_POSITIONALS[name] ?? 0;
  }
  return steps;
}

function programName(text: string): string | undefined {
  if (PROGRAM_NAME.test(text)) return text;
  const m = SYSTEM_DIR.exec(text);
  return m ? m[2] : undefined;
}

/** `argv[0]` → `argv`. */
function elementZeroOf(expr: ts.Expression): ts.Expression | undefined {
  if (ts.isElementAccessExpression(expr) && ts.isNumericLiteral(expr.argumentExpression) && expr.argumentExpression.text === '0') {
    return expr.expression;
  }
  return undefined;
}

function calleeName(expr: ts.Expression): string | undefined {
  if (ts.isIdentifier(expr)) return expr.text;
  if (ts.isPropertyAccessExpression(expr)) return expr.name.text;
  return undefined;
}

function evaluateArg(expr: ts.Expression, source: ts.SourceFile, params: readonly string[]): Arg {
  if (ts.isStringLiteralLike(expr)) return { text: expr.text, exact: true };
  if (ts.isTemplateExpression(expr)) return { text: expr.head.text, exact: false };
  if (ts.isPropertyAccessExpression(expr) && expr.getText(source) === 'process.execPath') return { text: 'node', exact: true };
  if (ts.isParenthesizedExpression(expr)) return evaluateArg(expr.expression, source, params);
  // A program outside PATH, found in its package's directory (program-table.ts).
  if (ts.isCallExpression(expr) && calleeName(expr.expression) === PROGRAM_RESOLVER && expr.arguments[0] && ts.isStringLiteralLike(expr.arguments[0])) {
    return { text: expr.arguments[0].text, exact: true };
  }
  if (ts.isIdentifier(expr)) {
    if (params.includes(expr.text)) return { text: '', exact: false, param: params.indexOf(expr.text) };
    const init = initializerOf(expr);
    if (init && (ts.isStringLiteralLike(init) || ts.isPropertyAccessExpression(init))) return evaluateArg(init, source, params);
  }
  return UNKNOWN;
}

/** The argv alternatives an expression may hold. */
function evaluate(expr: ts.Expression, source: ts.SourceFile, params: readonly string[], depth = 0): Argv[] {
  if (depth > 8) return [[UNKNOWN]];
  const again = (e: ts.Expression) => evaluate(e, source, params, depth + 1);
  if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr) || ts.isNonNullExpression(expr)) return again(expr.expression);
  if (ts.isConditionalExpression(expr)) return [...again(expr.whenTrue), ...again(expr.whenFalse)].slice(0, MAX_ALTERNATIVES);
  if (ts.isBinaryExpression(expr) && (expr.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken || expr.operatorToken.kind === ts.SyntaxKind.BarBarToken)) {
    return [...again(expr.left), ...again(expr.right)].slice(0, MAX_ALTERNATIVES);
  }
  if (ts.isArrayLiteralExpression(expr)) {
    let alternatives: Argv[] = [[]];
    for (const element of expr.elements) {
      const parts: Argv[] = ts.isSpreadElement(element) ? again(element.expression) : [[evaluateArg(element, source, params)]];
      alternatives = alternatives.flatMap((a) => parts.map((p) => [...a, ...p])).slice(0, MAX_ALTERNATIVES);
    }
    return alternatives;
  }
  if (ts.isIdentifier(expr)) {
    if (params.includes(expr.text)) return [[{ text: '', exact: false, param: params.indexOf(expr.text) }]];
    const init = initializerOf(expr);
    return init ? again(init) : [[UNKNOWN]];
  }
  if (ts.isCallExpression(expr)) {
    // A local function that returns an array literal (`ip(ns, ...args)`, `udhcpcArgv(a, …)`).
    const name = calleeName(expr.expression);
    const fn = name && ts.isIdentifier(expr.expression) ? localFunction(name, source) : undefined;
    const returned = fn ? returnedExpression(fn) : undefined;
    if (returned) return evaluate(returned, source, [], depth + 1);
  }
  return [[UNKNOWN]];
}

/** The initializer of the variable an identifier names, looked up from the innermost scope out. */
function initializerOf(id: ts.Identifier): ts.Expression | undefined {
  for (let scope: ts.Node | undefined = id.parent; scope; scope = scope.parent) {
    if (!ts.isBlock(scope) && !ts.isSourceFile(scope) && !ts.isModuleBlock(scope)) continue;
    for (const statement of scope.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      for (const d of statement.declarationList.declarations) {
        if (ts.isIdentifier(d.name) && d.name.text === id.text && d.initializer) return d.initializer;
      }
    }
  }
  return undefined;
}

function localFunction(name: string, source: ts.SourceFile): FunctionLike | undefined {
  return declarations(source).find((d) => d.name === name)?.fn;
}

/** An arrow's expression body, or a function's single `return [...]`. */
function returnedExpression(fn: FunctionLike): ts.Expression | undefined {
  if (!fn.body) return undefined;
  if (!ts.isBlock(fn.body)) return fn.body;
  const returns = fn.body.statements.filter(ts.isReturnStatement);
  return returns.length === 1 ? returns[0].expression : undefined;
}

/** Named functions and methods of a file: declarations, `const f = () =>`, class methods and constructors, `exec: (argv) =>`. */
function declarations(source: ts.SourceFile): Declared[] {
  const out: Declared[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionDeclaration(node) && node.name) out.push({ name: node.name.text, fn: node, source, method: false, shared: isExported(node) });
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))) {
      out.push({ name: node.name.text, fn: node.initializer, source, method: false, shared: isExported(node.parent.parent) });
    }
    if (ts.isMethodDeclaration(node) && (ts.isIdentifier(node.name) || ts.isPrivateIdentifier(node.name))) {
      out.push({ name: node.name.text, fn: node, source, method: true, shared: false });
    }
    if (ts.isConstructorDeclaration(node) && ts.isClassDeclaration(node.parent) && node.parent.name) {
      out.push({ name: node.parent.name.text, fn: node, source, method: false, shared: isExported(node.parent) });
    }
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && (ts.isArrowFunction(node.initializer) || ts.isFunctionExpression(node.initializer))) {
      out.push({ name: node.name.text, fn: node.initializer, source, method: true, shared: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function isExported(node: ts.Node): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

interface Alias {
  name: string;
  target: string;
  source: ts.SourceFile;
  method: boolean;
  shared: boolean;
}

/** `const run = promisify(execFile)`, `readonly exec = execIn`: a second name for a spawner. */
function aliasesIn(source: ts.SourceFile): Alias[] {
  const out: Alias[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isVariableDeclaration(node) || ts.isPropertyDeclaration(node)) && ts.isIdentifier(node.name) && node.initializer) {
      let init = node.initializer;
      if (ts.isCallExpression(init) && calleeName(init.expression) === 'promisify' && init.arguments[0]) init = init.arguments[0];
      const method = ts.isPropertyDeclaration(node);
      const shared = !method && isExported(node.parent.parent);
      if (ts.isIdentifier(init)) out.push({ name: node.name.text, target: init.text, source, method, shared });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}
