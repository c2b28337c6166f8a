// The generated build history both flaky-ranking benches read: in memory (flaky-rank.ts) and
// stored in SQLite (flaky-rank-sqlite.ts), so their figures compare.
import type { TestOutcome } from '../../src/results/model.js';
import type { TestOutcomeRecord } from '../../src/insight/test-history.js';

/**
 * A CPython-like history: 20 builders on main, each building the same revisions in turn, 2,000
 * tests a build (so 1,000,000 outcomes are 500 builds). 3 % of the tests flake (each run fails
 * then passes with 2–15 % odds), 1 % are skipped on some builders, 0.5 % are broken on one builder
 * from some build on, a few fail without a re-run. Deterministic, so runs compare.
 */
export function generateHistory(outcomes: number): TestOutcomeRecord[] {
  const testsPerBuild = 2000;
  const builders = 20;
  const builds = Math.ceil(outcomes / testsPerBuild);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const tests = Array.from({ length: testsPerBuild }, (_, i) => {
    const r = rand();
    return {
      id: `test_module_${Math.floor(i / 20)}.Tests.test_case_${i % 20}`,
      flakeOdds: r < 0.03 ? 0.02 + rand() * 0.13 : 0,
      skippedOn: r >= 0.03 && r < 0.04 ? Math.floor(rand() * builders) : -1,
      brokenOn: r >= 0.04 && r < 0.045 ? Math.floor(rand() * builders) : -1,
      brokenFrom: Math.floor(rand() * builds),
    };
  });
  const records: TestOutcomeRecord[] = [];
  const start = Date.UTC(2026, 9, 1);
  for (let b = 0; b < builds && records.length < outcomes; b++) {
    const builderIndex = b % builders;
    const builder = `builder-${builderIndex}`;
    const revision = `rev${Math.floor(b / builders).toString(16).padStart(7, '0')}`;
    const startedAt = start + b * 60_000;
    for (const t of tests) {
      if (records.length >= outcomes) break;
      let outcome: TestOutcome = 'pass';
      if (t.skippedOn === builderIndex) outcome = 'skip';
      else if (t.brokenOn === builderIndex && b >= t.brokenFrom) outcome = 'fail';
      else if (t.flakeOdds > 0 && rand() < t.flakeOdds) outcome = 'flaky';
      else if (rand() < 0.0005) outcome = 'fail';
      records.push({
        testId: t.id, buildId: b + 1, builder, revision, branch: 'main', worker: `${builder}-w`, outcome,
        attempt: outcome === 'flaky' ? 2 : 1, startedAt, fingerprint: outcome === 'pass' || outcome === 'skip' ? undefined : `fp-${t.id.length % 7}`,
      });
    }
  }
  return records;
}
