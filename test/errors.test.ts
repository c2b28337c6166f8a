// Every error code in the registry is documented in docs/errors.md, and nothing documented is
// missing from the registry.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/errors.js';
import { repoRoot } from './helpers/keel-cli.js';

test('docs/errors.md documents exactly the registered codes', () => {
  const doc = readFileSync(path.join(repoRoot, 'docs/errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^## (KEEL_ERR_[A-Z0-9_]+)$/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, Object.keys(ERROR_CODES).sort());
});
