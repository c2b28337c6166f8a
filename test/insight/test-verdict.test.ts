// The quarantine rule: quarantined tests still run and are recorded, but their failures do not
// turn a build red; flaky tests warn; anything else that failed is a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestCaseResult } from '../../src/results/model.js';
import { testVerdict } from '../../src/insight/test-verdict.js';

type Outcome = Pick<TestCaseResult, 'id' | 'outcome'>;
const build = (spec: Record<string, TestCaseResult['outcome']>): Outcome[] => Object.entries(spec).map(([id, outcome]) => ({ id, outcome }));

test('all green, skips and expected failures included, is success', () => {
  assert.deepEqual(testVerdict(build({ test_os: 'pass', test_gdb: 'skip', test_x: 'xfail' }), []), { result: 'success', failed: [], flaky: [], quarantined: [] });
  assert.equal(testVerdict([], []).result, 'success');
});

test('a failure or an error of a test that is not quarantined is a failure', () => {
  const v = testVerdict(build({ test_ssl: 'fail', test_os: 'error', test_asyncio: 'flaky', test_tempfile: 'fail' }), new Set(['test_tempfile']));
  assert.deepEqual(v, { result: 'failure', failed: ['test_os', 'test_ssl'], flaky: ['test_asyncio'], quarantined: ['test_tempfile'] });
});

test('quarantined failures warn and do not turn the build red', () => {
  const v = testVerdict(build({ test_ssl: 'fail', test_os: 'pass', test_asyncio: 'error' }), ['test_ssl', 'test_asyncio', 'test_never_ran']);
  assert.deepEqual(v, { result: 'warnings', failed: [], flaky: [], quarantined: ['test_asyncio', 'test_ssl'] });
});

test('failed then passed warns, quarantined or not', () => {
  assert.deepEqual(testVerdict(build({ test_asyncio: 'flaky', test_os: 'pass' }), []), { result: 'warnings', failed: [], flaky: ['test_asyncio'], quarantined: [] });
  assert.deepEqual(testVerdict(build({ test_asyncio: 'flaky' }), ['test_asyncio']), { result: 'warnings', failed: [], flaky: [], quarantined: ['test_asyncio'] });
});

test('quarantine matches whole test ids only', () => {
  assert.equal(testVerdict(build({ 'test_ssl.ThreadedTests.test_echo': 'fail' }), ['test_ssl']).result, 'failure');
});
