// docs/cli.md is generated from the commands' definitions; it must not drift from them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cliReference } from '../../src/cli/program.js';
import { repoRoot } from '../helpers/keel-cli.js';

test('docs/cli.md matches the commands (regenerate with npm run docs:cli)', async () => {
  const committed = readFileSync(path.join(repoRoot, 'docs/cli.md'), 'utf8');
  assert.equal(committed, await cliReference());
});
