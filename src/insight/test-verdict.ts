// The quarantine rule: what a build's test outcomes make of the build, when quarantined tests
// still run and are recorded but their failures no longer turn the build red.
import type { TestCaseResult } from '../results/model.js';

/**
 * The verdict, spelled as the build results are (`success` < `warnings` < `failure`):
 * `failure` when a test that is not quarantined failed or errored on every attempt;
 * `warnings` when the only trouble is flaky tests (failed then passed) or quarantined tests
 * that failed; `success` otherwise, including when no test ran (the step's exit code and the
 * runner's "NO TESTS RAN" say that, not this rule).
 */
export type TestVerdictResult = 'success' | 'warnings' | 'failure';

export interface TestVerdict {
  result: TestVerdictResult;
  /** Tests that make the build red: failed or errored, not quarantined. Sorted. */
  failed: string[];
  /** Tests that failed then passed, not quarantined. Sorted. */
  flaky: string[];
  /** Quarantined tests that failed, errored or flaked: recorded, shown, not counted. Sorted. */
  quarantined: string[];
}

export function testVerdict(
  outcomes: Iterable<Pick<TestCaseResult, 'id' | 'outcome'>>,
  quarantined: ReadonlySet<string> | readonly string[],
): TestVerdict {
  const isQuarantined = quarantined instanceof Set ? (id: string) => quarantined.has(id) : setOf(quarantined as readonly string[]);
  const failed = new Set<string>();
  const flaky = new Set<string>();
  const excused = new Set<string>();
  for (const { id, outcome } of outcomes) {
    const bad = outcome === 'fail' || outcome === 'error';
    if (!bad && outcome !== 'flaky') continue;
    if (isQuarantined(id)) excused.add(id);
    else (bad ? failed : flaky).add(id);
  }
  // A quarantined failure warns, like a flake: it is still there to be seen and fixed.
  const result: TestVerdictResult = failed.size > 0 ? 'failure' : flaky.size > 0 || excused.size > 0 ? 'warnings' : 'success';
  return { result, failed: [...failed].sort(), flaky: [...flaky].sort(), quarantined: [...excused].sort() };
}

function setOf(ids: readonly string[]): (id: string) => boolean {
  const set = new Set(ids);
  return (id) => set.has(id);
}
