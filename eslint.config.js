// Flat config: the recommended JS and TypeScript rules, plus the layering of
// docs/ARCHITECTURE.md as import restrictions (test/unit/module-boundaries
// checks the same on the whole graph, cycles included).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (files, groups, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ group: groups, message }] }] },
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
  restrict(['server/**/*.ts'], ['**/agent/**'], 'The server builds on lib/, never on the agent.'),
  restrict(['lab/**/*.ts'], ['**/server/**', '**/agent/**'], 'Lab tooling builds on lib/ only.'),
  restrict(['server/dhcp4/**/*.ts', 'server/leases/**/*.ts'], ['../ddns/**', '../../server/ddns/**', '../app/**'], 'The DHCP engine and the lease store never import DDNS or the appliance: the ports they need are declared on their side.'),
);
