import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    const [program, pkg, scope, ...who] = line.split(/\s+/);
    if (!(SCOPES as readonly string[]).includes(scope) || who.length === 0) {
      throw new Error(`${PROGRAM_TABLE}:${k + 1}: want "program package scope who-runs-it" with scope ${SCOPES.join(', ')}, got "${line}"`);
    }
    if (rows.some((r) => r.program === program)) throw new Error(`${PROGRAM_TABLE}:${k + 1}: ${program} is listed twice`);
    rows.push({ program, package: pkg, scope: scope as Scope, who: who.join(' '), line: k + 1 });
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
