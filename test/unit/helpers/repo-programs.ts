import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProgramRow } from '../../harness/program-table.ts';
import {
  definedFunctions,
  describeFunctions,
  makefileRecipes,
  scanShell,
  type ProgramUse,
  type ShellFunction,
  type Side,
} from './shell-programs.ts';
import { scanTypeScript, type TsFile } from './ts-programs.ts';

/**
 * Every program the repository's code runs: the TypeScript under lib/,
 * server/, agent/, lab/, test/, the shell scripts (by extension or
 * shebang) under lab/, agent/, test/, bin/, .ci/, and the Makefile's
 * recipes. What lab/images/<name>/ holds runs inside that image (container side).
 */

const TS_ROOTS = ['lib', 'server', 'agent', 'lab', 'test'];
const SHELL_ROOTS = ['lab', 'agent', 'test', 'bin', '.ci'];
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'build', 'run', '.git']);
/** An image's own files (lab/images/<name>/): they run inside it. */
const IN_IMAGE = /^lab\/images\/[^/]+\//;

export interface SourceFile {
  file: string;
  text: string;
}

function walk(root: string, dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return SKIPPED_DIRS.has(e.name) ? [] : walk(root, path);
    return e.isFile() ? [path] : [];
  });
}

const isShell = (file: string, text: string) => file.endsWith('.sh') || /^#!\s*(\/usr\/bin\/env\s+)?(\/\S*\/)?(ba)?sh\b/.test(text);

/** The files the scan reads, as they are on disk. */
export function repositorySources(root: string): { ts: SourceFile[]; shell: SourceFile[]; makefile: SourceFile | undefined } {
  const read = (file: string) => ({ file, text: readFileSync(join(root, file), 'utf8') });
  const ts = TS_ROOTS.flatMap((d) => walk(root, d)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map(read);
  const shell = SHELL_ROOTS.flatMap((d) => walk(root, d))
    .filter((f) => !f.endsWith('.ts') && !f.endsWith('.md'))
    .map(read)
    .filter((s) => isShell(s.file, s.text));
  let makefile: SourceFile | undefined;
  try {
    makefile = read('Makefile');
  } catch {
    makefile = undefined;
  }
  return { ts, shell, makefile };
}

/** Every program use in these sources. */
export function scanSources(sources: { ts: readonly TsFile[]; shell: readonly SourceFile[]; makefile?: SourceFile }): ProgramUse[] {
  const scripts: { file: string; text: string; side: Side; firstLine: number }[] = [
    ...sources.shell.map((s) => ({ ...s, side: (IN_IMAGE.test(s.file) ? 'container' : 'host') as Side, firstLine: 1 })),
    ...(sources.makefile ? [{ file: sources.makefile.file, text: makefileRecipes(sources.makefile.text), side: 'host' as Side, firstLine: 1 }] : []),
  ];
  const ts = scanTypeScript(sources.ts);
  // `bash -c '…'` in the TypeScript: a script like the others, at its call's line.
  scripts.push(...ts.shellScripts.map((s) => ({ file: s.file, text: s.text, side: s.side, firstLine: s.line })));

  // A script calls its own functions and those of the scripts it sources
  // (lab/roles.sh, record-event.sh): the names of all of them are known, and
  // a file's own definition wins over another file's of the same name.
  const names = new Map<string, ShellFunction>();
  for (const s of scripts) for (const name of definedFunctions(s.text)) names.set(name, { wrapper: false, skip: 0 });
  const described = scripts.map((s) => describeFunctions(s.text, names));
  const shared = new Map(names);
  for (const d of described) for (const [name, fn] of d) if (fn.wrapper || !shared.get(name)?.wrapper) shared.set(name, fn);

  const uses = [...ts.uses];
  scripts.forEach((s, k) => {
    const functions = new Map([...shared, ...described[k]]);
    uses.push(...scanShell(s.file, s.text, functions, s.side, s.firstLine));
  });
  return uses;
}

/** Host programs the code runs that have no row, one message each (first use named). */
export function unlistedPrograms(uses: readonly ProgramUse[], rows: readonly ProgramRow[]): string[] {
  const listed = new Set(rows.map((r) => r.program));
  const first = new Map<string, ProgramUse>();
  for (const u of uses) if (u.side === 'host' && !listed.has(u.program) && !first.has(u.program)) first.set(u.program, u);
  return [...first.values()].map(
    (u) => `${u.file}:${u.line} runs "${u.program}", which lab/programs.txt does not list: add "${u.program} <Debian package> <lab|test> <who runs it>" (dpkg -S "$(command -v ${u.program})")`,
  );
}

/** Rows nothing in the code runs (a row for a program that another program runs says "(run by …)"). */
export function unusedRows(uses: readonly ProgramUse[], rows: readonly ProgramRow[]): string[] {
  const used = new Set(uses.filter((u) => u.side === 'host').map((u) => u.program));
  return rows
    .filter((r) => !used.has(r.program) && !r.who.startsWith('(run by '))
    .map((r) => `lab/programs.txt:${r.line}: nothing runs "${r.program}" any more: remove the row, or say "(run by …)" if another program runs it`);
}
