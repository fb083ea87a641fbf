import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layering ARCHITECTURE.md draws, checked on the sources: `lib/` (the
 * protocol library) imports nothing of ours outside it; `server/` and
 * `agent/` build on it and never on each other; inside the server, the
 * modules form a DAG in which the DHCP engine and the lease store never
 * reach DDNS; and no file imports itself through others (an import cycle).
 * ESLint's no-restricted-imports says the same at edit time
 * (eslint.config.js); this test is the one that sees cycles.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_ROOTS = ['lib', 'server', 'agent', 'lab'];

/** What each top-level part may import from (besides itself). */
const ALLOWED_PARTS: Record<string, readonly string[]> = {
  lib: [],
  server: ['lib'],
  agent: ['lib'],
  lab: ['lib'],
};

/**
 * Inside the server, the layering ARCHITECTURE.md draws: leases < dhcp4 <
 * ddns (the ports the lower ones need are declared on their side); ra on
 * its own; net (the I/O edges) above the capabilities whose ports it
 * implements; ops (the control protocol and metric names) above leases
 * and dhcp4, beside ddns and ra; config (the assembly of every
 * capability's reader) above dhcp4, ddns, ra and ops; app above all of them; cli on top. A pair here is a
 * module and one it must never import.
 */
const CAPABILITIES = ['server/leases', 'server/dhcp4', 'server/ddns', 'server/ra', 'server/ops'];
const FORBIDDEN_SERVER_EDGES: ReadonlyArray<[string, string]> = [
  ['server/dhcp4', 'server/ddns'],
  ['server/leases', 'server/ddns'],
  ['server/leases', 'server/dhcp4'],
  ...['server/leases', 'server/dhcp4', 'server/ddns'].map((m): [string, string] => [m, 'server/ra']),
  ...['server/leases', 'server/dhcp4', 'server/ddns'].map((m): [string, string] => ['server/ra', m]),
  // ops (the control protocol and metric names) reads the lease store's and the engine's types; nothing below reads it.
  ...['server/leases', 'server/dhcp4', 'server/ddns', 'server/ra'].map((m): [string, string] => [m, 'server/ops']),
  ['server/ops', 'server/ddns'],
  ['server/ops', 'server/ra'],
  // Capabilities read their own sections; the assembly, the edges and the app sit above them.
  ...CAPABILITIES.flatMap((m) => ['server/config', 'server/net', 'server/app', 'server/cli'].map((up): [string, string] => [m, up])),
  ['server/net', 'server/config'],
  ['server/net', 'server/app'],
  ['server/net', 'server/cli'],
  ['server/config', 'server/net'],
  ['server/config', 'server/app'],
  ['server/config', 'server/cli'],
  ['server/app', 'server/cli'],
];

/** Known violations still being taken apart; each entry must still be true, so the list only shrinks. */
const KNOWN_MODULE_CYCLES: ReadonlyArray<string> = [];
const KNOWN_FILE_CYCLES: ReadonlyArray<string> = [];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'build' || entry.name === 'run') continue;
      out.push(...sourceFiles(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** file → the files it imports (relative imports only: packages and node: are not ours). */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      targets.push(relative(ROOT, resolve(ROOT, dirname(file), spec)));
    }
    graph.set(file, targets);
  }
  return graph;
}

/** `server/dhcp4/x.ts` → `server/dhcp4`; `lib/wire/x.ts` → `lib/wire`; `lab/x.ts` → `lab`. */
function moduleOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Strongly connected components with more than one node (or a self-loop): Tarjan. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

const files = SOURCE_ROOTS.flatMap(sourceFiles);
const graph = importGraph(files);
const moduleGraph = new Map<string, string[]>();
for (const [file, targets] of graph) {
  const from = moduleOf(file);
  const edges = moduleGraph.get(from) ?? [];
  for (const t of targets) if (moduleOf(t) !== from && !edges.includes(moduleOf(t))) edges.push(moduleOf(t));
  moduleGraph.set(from, edges);
}

test('the checker sees imports, and finds a cycle when there is one', (t) => {
  t.true(graph.get('server/dhcp4/dhcp4-engine.ts')!.includes('lib/dhcp4/message.ts'));
  t.deepEqual(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
  t.deepEqual(cycles(new Map([['a', ['b']], ['b', []]])), []);
});

test('every relative import names a file that exists', (t) => {
  const known = new Set(files);
  const missing = [...graph].flatMap(([file, targets]) =>
    targets.filter((target) => SOURCE_ROOTS.includes(target.split('/')[0]) && !known.has(target) && !target.endsWith('.node') && !target.endsWith('.json')).map((target) => `${file} → ${target}`),
  );
  t.deepEqual(missing, []);
});

test('lib imports nothing outside lib; server and agent import lib, never each other', (t) => {
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    const part = file.split('/')[0];
    for (const target of targets) {
      const to = target.split('/')[0];
      if (to !== part && SOURCE_ROOTS.includes(to) && !ALLOWED_PARTS[part].includes(to)) wrong.push(`${file} → ${target}`);
    }
  }
  t.deepEqual(wrong, []);
});

test('server modules never import the ones above them (dhcp4 and leases never reach ddns)', (t) => {
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    for (const target of targets) {
      for (const [from, to] of FORBIDDEN_SERVER_EDGES) {
        if (moduleOf(file) === from && moduleOf(target) === to) wrong.push(`${file} → ${target}`);
      }
    }
  }
  t.deepEqual(wrong, []);
});

/** node-postgres and its parts, by package name: imported only by the lease store's PostgreSQL edge. */
const PG_PACKAGES = ['pg', 'pg-pool', 'pg-protocol', 'pg-connection-string', 'pg-types', 'pg-cursor'];
const PG_ALLOWED = 'server/leases/pg/';
const PACKAGE_IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^./'"][^'"]*)['"]|\bimport\(\s*['"]([^./'"][^'"]*)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^./'"][^'"]*)['"]/g;

/** The files that import a node-postgres package, with the package. */
function pgImports(sources: ReadonlyArray<{ file: string; text: string }>): string[] {
  return sources.flatMap(({ file, text }) =>
    [...text.matchAll(PACKAGE_IMPORT)]
      .map((m) => m[1] ?? m[2] ?? m[3])
      .filter((spec) => PG_PACKAGES.includes(spec.split('/')[0]))
      .map((spec) => `${file} → ${spec}`),
  );
}

const q = (spec: string) => `'${spec}'`;

test('node-postgres is imported only under server/leases/pg/ (the tests included)', (t) => {
  const all = [...files, ...sourceFiles('test')].map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }));
  const found = pgImports(all);
  t.true(found.some((f) => f.startsWith(`${PG_ALLOWED}pg-connection.ts → pg`)), 'the checker sees the one import there is');
  t.deepEqual(found.filter((f) => !f.startsWith(PG_ALLOWED)), []);
  // And it would see one elsewhere, static or dynamic.
  t.deepEqual(
    pgImports([
      // Quoted by the template, so this file's own text holds no such import.
      { file: 'server/dhcp4/x.ts', text: `import pg from ${q('pg')};\nconst p = await import(${q('pg-pool')});\nimport { y } from ${q('../leases/pg/pg-lease-store.ts')};` },
    ]),
    ['server/dhcp4/x.ts → pg', 'server/dhcp4/x.ts → pg-pool'],
  );
});

test('modules form a DAG: no two modules import each other, directly or round about', (t) => {
  const found = cycles(moduleGraph).map((c) => c.join(' ↔ '));
  t.deepEqual(found.filter((c) => !KNOWN_MODULE_CYCLES.includes(c)), []);
  for (const known of KNOWN_MODULE_CYCLES) t.true(found.includes(known), `no longer a cycle, drop it from the list: ${known}`);
});

test('no import cycles between files', (t) => {
  const found = cycles(graph).map((c) => c.join(' ↔ '));
  t.deepEqual(found.filter((c) => !KNOWN_FILE_CYCLES.includes(c)), []);
  for (const known of KNOWN_FILE_CYCLES) t.true(found.includes(known), `no longer a cycle, drop it from the list: ${known}`);
});
