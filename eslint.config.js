// Lint config. The import zones below turn DESIGN.md's dependency direction into a rule:
// a worker never reaches the database, the test runner stands alone, nothing imports the CLI.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';

const zone = (target, from, message) => ({ target, from, message });

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'test/fixtures/**', 'examples/**/node_modules/**', '.keel/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'import-x/no-restricted-paths': ['error', {
        zones: [
          zone('./src/runner', ['./src/cli', './src/master', './src/worker', './src/storage', './src/web', './src/notify', './src/insight', './src/protocol'],
            'the test runner stands alone: it shares only the result model (src/results/model.ts)'),
          zone('./src/worker', ['./src/storage', './src/master', './src/web', './src/notify', './src/insight', './src/cli'],
            'a worker must not need the database or the master: talk through src/protocol'),
          zone('./src/protocol', ['./src/storage', './src/master', './src/worker', './src/web', './src/notify', './src/insight', './src/cli', './src/runner'],
            'the protocol is the contract both sides share; it depends on nothing of theirs'),
          zone('./src/results', ['./src/storage', './src/master', './src/worker', './src/web', './src/notify', './src/insight', './src/cli', './src/runner'],
            'parsers are pure: they depend on nothing but the result model'),
          zone('./src/storage', ['./src/master', './src/worker', './src/web', './src/notify', './src/insight', './src/cli', './src/runner'],
            'storage is below everything that uses it'),
          zone(['./src/master', './src/web', './src/notify', './src/insight'], ['./src/cli', './src/worker', './src/runner/child'],
            'server parts never import the CLI or the worker'),
        ],
      }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', setInterval: 'readonly', clearTimeout: 'readonly', URL: 'readonly' } },
  },
);
