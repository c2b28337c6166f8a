// The config schema of change sources: the git poller's defaults, functions and mistakes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sourceConfigSchema } from '../../../src/master/changes/source-config-schema.js';

const problems = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (result.error?.issues ?? []).map((i) => `${i.path.map(String).join('.')}: ${i.message}`);

test('a git poller source: defaults, functions, and its mistakes', () => {
  assert.deepEqual(sourceConfigSchema.parse({ type: 'gitPoller', repo: 'https://github.com/python/cpython', branches: ['main'] }),
    { type: 'gitPoller', repo: 'https://github.com/python/cpython', branches: ['main'], interval: 60 });
  assert.equal(sourceConfigSchema.safeParse({ type: 'gitPoller', repo: '.', branches: (b: string) => b.startsWith('3.') }).success, true);
  assert.deepEqual(problems(sourceConfigSchema.safeParse({ type: 'gitPoller', repo: '', interval: 0, branches: [], extra: 1 })), [
    'repo: Too small: expected string to have >=1 characters', 'branches: Too small: expected array to have >=1 items', 'interval: Too small: expected number to be >0', ': Unrecognized key: "extra"',
  ]);
});
