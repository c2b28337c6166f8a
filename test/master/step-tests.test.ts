// The test-step rules without a worker: which logs are parsed, and how test outcomes and the
// command's own result make the step's result and reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestCaseResult } from '../../src/results/model.js';
import { DETECT_WITHIN_LINES, outcomeRows, stepResultWithTests, StepTestObserver } from '../../src/master/step-tests.js';

const t = (id: string, outcome: TestCaseResult['outcome'], extra: Partial<TestCaseResult> = {}): TestCaseResult =>
  ({ id, file: id.split('.')[0]!, name: id, outcome, durationMs: 1, attempt: outcome === 'flaky' ? 2 : 1, ...extra });
const none = new Set<string>();

test('a shell step that prints no test line within the first lines is no longer parsed', () => {
  const observer = new StepTestObserver(undefined);
  for (let i = 0; i <= DETECT_WITHIN_LINES; i++) observer.feedLine('o', `gcc -c file${i}.c`);
  assert.equal(observer.done, true);
  observer.feedLine('o', '0:00:00 load avg: 0.5 [1/1] test_os');
  observer.feedLine('o', 'test_os failed');
  assert.deepEqual(observer.finish().tests, []);
});

test('a shell step whose log turns into a regrtest run is parsed; header lines are not test output', () => {
  const observer = new StepTestObserver(undefined);
  observer.feedLine('h', '0:00:00 load avg: 0.5 [1/1] test_fake');
  observer.feedLine('o', 'make: Entering directory');
  observer.feedLine('o', '0:00:00 load avg: 0.5 [1/2] test_os');
  observer.feedLine('o', '0:00:01 load avg: 0.5 [2/2] test_ssl failed');
  observer.feedLine('o', '== Tests result: FAILURE ==');
  const result = observer.finish();
  assert.equal(result.format, 'regrtest');
  assert.ok(result.tests.some((x) => x.id === 'test_ssl' && x.outcome === 'fail'));
  assert.ok(!result.tests.some((x) => x.id === 'test_fake'));
});

test('failing tests turn a passing command red and are named, ten at most', () => {
  const tests = Array.from({ length: 12 }, (_, i) => t(`test_${String(i).padStart(2, '0')}`, 'fail'));
  const r = stepResultWithTests({ result: 'success', reason: null, exited: true }, tests, none);
  assert.equal(r.result, 'failure');
  assert.equal(r.reason, '12 failed: test_00, test_01, test_02, test_03, test_04, test_05, test_06, test_07, test_08, test_09 and 2 more');
});

test('quarantined and flaky tests excuse an exit code, never a timeout or a kill', () => {
  const tests = [t('test_a', 'fail'), t('test_b', 'flaky'), t('test_c', 'pass')];
  const quarantined = new Set(['test_a']);
  const exited = stepResultWithTests({ result: 'failure', reason: 'exit code 2', exited: true }, tests, quarantined);
  assert.deepEqual([exited.result, exited.reason], ['warnings', '1 flaky: test_b; 1 quarantined: test_a (exit code 2)']);
  const timedOut = stepResultWithTests({ result: 'failure', reason: 'command timed out', exited: false }, tests, quarantined);
  assert.equal(timedOut.result, 'failure');
  const cancelled = stepResultWithTests({ result: 'cancelled', reason: 'stopped', exited: false }, [t('test_a', 'fail')], none);
  assert.equal(cancelled.result, 'cancelled');
  const green = stepResultWithTests({ result: 'success', reason: null, exited: true }, [t('test_c', 'pass')], none);
  assert.deepEqual([green.result, green.reason], ['success', null]);
});

test('failures get a fingerprint, passes none; the same failure elsewhere gets the same one', () => {
  const ctx = { buildId: 1, builder: 'b', branch: 'main', revision: 'r', worker: 'w', step: 'test', startedAt: 5 };
  const rows = outcomeRows([
    t('test_a', 'fail', { message: 'AssertionError: 1 != 2' }), t('test_b', 'pass'),
    t('test_c', 'fail', { message: 'AssertionError: 3 != 4' }), t('test_d', 'error'),
  ], ctx);
  assert.match(rows[0]!.fingerprint ?? '', /^[0-9a-f]{16}$/);
  assert.equal(rows[1]!.fingerprint, null);
  assert.equal(rows[0]!.fingerprint, rows[2]!.fingerprint);
  assert.equal(rows[3]!.fingerprint, null, 'a silent failure has no fingerprint');
  assert.deepEqual([rows[0]!.builder, rows[0]!.startedAt, rows[0]!.message, rows[1]!.details], ['b', 5, 'AssertionError: 1 != 2', null]);
});
