import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { REPO_ROOT } from './run-command.ts';

/**
 * lab/programs.txt: every external program the project runs and the Debian
 * package it comes from, the list lab/install-deps.sh installs from.
 */

export const PROGRAM_TABLE = 'lab/programs.txt';
export const SCOPES = ['lab', 'test', 'given'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ProgramRow {
  program: string;
  /**
   * Where it is when not on SYSTEM_PATH: a directory whose one `*` is the
   * package's version (`/usr/lib/postgresql/*\/bin`), the highest installed
   * version winning, or a fixed one (`/usr/lib/cni`, the CNI plugins'). The
   * table's first column is then `DIR/program`.
   */
  directory?: string;
  package: string;
  scope: Scope;
  /** Who runs it; `(run by X)` first when only another program does. */
  who: string;
  line: number;
}

/** The rows, or an error naming the line that is not `program package scope who…`. */
export function parseProgramTable(text: string): ProgramRow[] {
  const rows: ProgramRow[] = [];
  text.split('\n').forEach((raw, k) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [first, pkg, scope, ...who] = line.split(/\s+/);
    const directory = first.includes('/') ? dirname(first) : undefined;
    const program = basename(first);
    if (!(SCOPES as readonly string[]).includes(scope) || who.length === 0) {
      throw new Error(`${PROGRAM_TABLE}:${k + 1}: want "program package scope who-runs-it" with scope ${SCOPES.join(', ')}, got "${line}"`);
    }
    if (directory !== undefined && !/^\/[^*]*\*?[^*]*$/.test(directory)) {
      throw new Error(`${PROGRAM_TABLE}:${k + 1}: ${first}: a directory is absolute, with at most one * for the version`);
    }
    if (rows.some((r) => r.program === program)) throw new Error(`${PROGRAM_TABLE}:${k + 1}: ${program} is listed twice`);
    rows.push({ program, ...(directory && { directory }), package: pkg, scope: scope as Scope, who: who.join(' '), line: k + 1 });
  });
  return rows;
}

export function readProgramTable(root = REPO_ROOT): ProgramRow[] {
  return parseProgramTable(readFileSync(join(root, PROGRAM_TABLE), 'utf8'));
}

/** The Debian package a program comes from, for "X not found (Debian package Y)" messages. */
export function debianPackageOf(program: string): string {
  const row = readProgramTable().find((r) => r.program === program);
  if (!row) throw new Error(`${program} is not in ${PROGRAM_TABLE}`);
  return row.package;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Numeric-aware order of version directories: 9.6 < 15 < 16. */
function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Where a row with a `directory` finds its program: the highest version
 * directory that holds it, executable. Undefined when none does (the
 * package is not installed) or the row has no directory (SYSTEM_PATH).
 */
export function resolveProgram(row: ProgramRow): string | undefined {
  if (row.directory === undefined) return undefined;
  const star = row.directory.indexOf('*');
  if (star < 0) return isExecutable(join(row.directory, row.program)) ? join(row.directory, row.program) : undefined;
  const parent = row.directory.slice(0, row.directory.lastIndexOf('/', star) + 1);
  const before = row.directory.slice(parent.length, star);
  const after = row.directory.slice(star + 1);
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return undefined;
  }
  const candidates = entries
    .filter((e) => e.startsWith(before) && e.length > before.length)
    .map((e) => ({ version: e.slice(before.length), path: join(parent, e + after, row.program) }))
    .filter(({ path }) => isExecutable(path))
    .sort((a, b) => compareVersions(b.version, a.version));
  return candidates[0]?.path;
}

/**
 * The program to spawn: its path in its package's directory for a row
 * with one (PostgreSQL's server programs live in /usr/lib/postgresql/<v>/bin,
 * not on PATH; the ones in /usr/local/bin here are hand-made links), else
 * its name, found on SYSTEM_PATH. The code scan (external-programs.test.ts)
 * reads `packagedProgram('x')` as running x.
 */
export function packagedProgram(program: string): string {
  const row = readProgramTable().find((r) => r.program === program);
  if (!row) throw new Error(`${program} is not in ${PROGRAM_TABLE}`);
  if (row.directory === undefined) return program;
  const path = resolveProgram(row);
  if (!path) throw new Error(`${program} not found in ${row.directory} (Debian package ${row.package}: lab/install-deps.sh installs it)`);
  return path;
}
