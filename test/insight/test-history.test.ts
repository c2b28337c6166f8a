// Reading stored outcomes as runs: one run per build in build-time order, attempts folded,
// lanes per builder and branch without skips, failure streaks classified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestOutcome } from '../../src/results/model.js';
import { DEFAULT_REGRESSION_RULES, failureStreaks } from '../../src/insight/regressions.js';
import { foldRuns, groupRunsByTest, runsByLane } from '../../src/insight/test-history.js';
import type { TestOutcomeRecord } from '../../src/insight/test-history.js';

function rec(buildId: number, outcome: TestOutcome, extra: Partial<TestOutcomeRecord> = {}): TestOutcomeRecord {
  return { testId: 't', buildId, builder: 'b', branch: 'main', revision: `r${buildId}`, worker: 'w', outcome, attempt: 1, startedAt: buildId * 1000, ...extra };
}

test('attempts stored as separate records fold into one run per build', () => {
  const runs = foldRuns([rec(2, 'pass', { attempt: 2 }), rec(1, 'pass'), rec(2, 'fail', { fingerprint: 'fp' }), rec(3, 'skip'), rec(3, 'error'), rec(4, 'fail'), rec(4, 'fail', { attempt: 2 })]);
  assert.deepEqual(runs.map((r) => [r.build.buildId, r.kind, r.fingerprint]), [[1, 'green', undefined], [2, 'flaky', 'fp'], [3, 'red', undefined], [4, 'red', undefined]]);
});

test('runs are grouped by test and ordered by build time, then build id', () => {
  const byTest = groupRunsByTest([rec(5, 'pass', { startedAt: 10 }), rec(4, 'fail', { startedAt: 10 }), rec(1, 'pass', { testId: 'u', startedAt: 99 }), rec(3, 'pass', { startedAt: 5 })]);
  assert.deepEqual([...byTest.keys()], ['t', 'u']);
  assert.deepEqual(byTest.get('t')!.map((r) => r.build.buildId), [3, 4, 5]);
});

test('lanes keep builders and branches apart and leave skips out', () => {
  const runs = foldRuns([rec(1, 'pass'), rec(2, 'skip'), rec(3, 'fail', { branch: '3.13' }), rec(4, 'pass', { builder: 'c' })]);
  const lanes = runsByLane(runs);
  assert.deepEqual([...lanes.values()].map((l) => l.map((r) => r.build.buildId)), [[1], [3], [4]]);
});

test('failure streaks: regression, broken, pending and isolated', () => {
  const streaks = (kinds: string) => {
    const runs = foldRuns([...kinds].map((k, i) => rec(i + 1, ({ P: 'pass', F: 'fail', K: 'flaky' } as const)[k as 'P' | 'F' | 'K'])));
    return failureStreaks(runs, DEFAULT_REGRESSION_RULES).map((s) => `${s.start}-${s.end}:${s.kind}`);
  };
  assert.deepEqual(streaks('PPPFF'), ['3-5:regression']);
  assert.deepEqual(streaks('PPPFFP'), ['3-5:regression']);
  assert.deepEqual(streaks('PPPF'), ['3-4:pending']);
  assert.deepEqual(streaks('PPFF'), ['2-4:pending']);
  assert.deepEqual(streaks('PPFFP'), ['2-4:isolated']);
  assert.deepEqual(streaks('FFF'), ['0-3:broken']);
  assert.deepEqual(streaks('PKPPFF'), ['4-6:pending']);
  assert.deepEqual(streaks('PKPPFFF'), ['4-7:regression']);
  assert.deepEqual(streaks('PFPFP'), ['1-2:isolated', '3-4:isolated']);
});
