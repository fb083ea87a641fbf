// Flat config: the recommended JS and TypeScript rules, plus the layering of
// docs/ARCHITECTURE.md as import restrictions (test/unit/module-boundaries
// checks the same on the whole graph, cycles included).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// node-postgres (and its parts) only under server/leases/pg/: the engine,
// DDNS and the tests stay free of it (exact names: a pattern "pg" would
// also match our own ../leases/pg/ directory).
const NO_PG = {
  paths: ['pg', 'pg-pool', 'pg-protocol', 'pg-connection-string', 'pg-types', 'pg-cursor'].map((name) => ({
    name,
    message: 'node-postgres is used only under server/leases/pg/ (pg-connection.ts): go through PgDatabase.',
  })),
};

const restrict = (files, groups, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { ...NO_PG, patterns: [{ group: groups, message }] }] },
});

// One config object per server module, carrying every pattern that applies
// to it: when several objects match a file, the last one's options for a
// rule replace the others' (they are not merged), so a module-specific
// object must repeat the server-wide one.
const NO_AGENT = { group: ['**/agent/**'], message: 'The server builds on lib/, never on the agent.' };
const serverModule = (name) => [`../${name}/**`, `../../server/${name}/**`];
const SERVER_LAYERS = [
  // [module, modules it must never import, why]
  ['leases', ['dhcp4', 'ddns', 'ra', 'ops', 'config', 'net', 'app', 'cli'], 'The lease store is the bottom layer: the ports it needs are declared on its side.'],
  ['dhcp4', ['ddns', 'ra', 'ops', 'config', 'net', 'app', 'cli'], 'The DHCP engine never imports DDNS, RA, the config assembly, the I/O edges or the appliance: the ports it needs are declared on its side.'],
  ['ddns', ['ra', 'ops', 'config', 'net', 'app', 'cli'], 'DDNS builds on the lease store and the DHCP engine only; the config assembly and the I/O edges sit above it.'],
  ['ra', ['leases', 'dhcp4', 'ddns', 'ops', 'config', 'net', 'app', 'cli'], 'RA stands alone; the config assembly and the I/O edges sit above it.'],
  ['ops', ['ddns', 'ra', 'config', 'net', 'app', 'cli'], 'The operations core (control protocol, arguments, metric names) is pure and reads leases and dhcp4 only; the endpoint (net) and the commands (app) sit above it.'],
  ['net', ['config', 'app', 'cli'], 'The I/O edges implement the capabilities\' ports; the assembly and the appliance sit above them.'],
  ['config', ['net', 'app', 'cli'], 'The config assembly reads each capability\'s section with its reader; it starts nothing.'],
  ['app', ['cli'], 'The appliance is below the CLI.'],
];
const serverLayer = ([name, forbidden, message], withPg = false) => ({
  files: [withPg ? `server/${name}/pg/**/*.ts` : `server/${name}/**/*.ts`],
  rules: { 'no-restricted-imports': ['error', { ...(withPg ? {} : NO_PG), patterns: [NO_AGENT, { group: forbidden.flatMap(serverModule), message }] }] },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'lab/run/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  restrict(['lib/**/*.ts'], ['**/server/**', '**/agent/**', '**/lab/**'], 'lib/ is the protocol library: it imports nothing of the server, the agent or the lab.'),
  restrict(['agent/**/*.ts'], ['**/server/**'], 'The agent builds on lib/, never on the server.'),
  { files: ['server/**/*.ts'], rules: { 'no-restricted-imports': ['error', { ...NO_PG, patterns: [NO_AGENT] }] } },
  { files: ['test/**/*.ts'], rules: { 'no-restricted-imports': ['error', NO_PG] } },
  restrict(['lab/**/*.ts'], ['**/server/**', '**/agent/**'], 'Lab tooling builds on lib/ only.'),
  ...SERVER_LAYERS.map((layer) => serverLayer(layer)),
  // The one place node-postgres may be imported: the lease store's PostgreSQL edge (last, so it wins).
  serverLayer(SERVER_LAYERS.find(([name]) => name === 'leases'), true),
);
