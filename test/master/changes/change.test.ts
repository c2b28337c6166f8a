// The change model's validation: what a source must give, and problems named by field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChange, validateChange } from '../../../src/master/changes/change.js';
import { KeelError } from '../../../src/errors.js';

const good = { repository: 'https://github.com/python/cpython', branch: 'main', revision: 'abc123', time: 1_700_000_000_000, source: 'poller' };

test('a change needs repository, branch, revision, time and source; the rest has defaults', () => {
  assert.deepEqual(validateChange(good), { ok: true, change: { ...good, author: '', message: '', files: [] } });
});

test('every problem names its field', () => {
  const result = validateChange({ branch: '', revision: 'x', time: -1, source: 'svn', files: 'a.c', extra: 1 });
  assert.equal(result.ok, false);
  const problems = result.ok ? [] : result.problems;
  for (const field of ['repository', 'branch', 'time', 'source', 'files', 'extra']) {
    assert.ok(problems.some((p) => p.includes(field)), `${field} in ${problems.join(' | ')}`);
  }
});

test('parseChange throws KEEL_ERR_CHANGE_INVALID', () => {
  assert.throws(() => parseChange({ ...good, revision: undefined }), (err: unknown) => err instanceof KeelError && err.code === 'KEEL_ERR_CHANGE_INVALID' && /revision/.test(err.message));
});
