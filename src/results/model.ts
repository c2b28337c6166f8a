// The one model of a test outcome that the runner, the parsers and the master share.
// Everything that reads a log or a report ends in these shapes; nothing else crosses modules.

/**
 * Outcome of one test case, once all its attempts are known.
 * `flaky` means it failed and then passed on a later attempt of the same revision;
 * `xfail` is an expected failure (a test marked as known-broken that did fail).
 */
export type TestOutcome = 'pass' | 'fail' | 'error' | 'skip' | 'xfail' | 'flaky';

export const TEST_OUTCOMES: readonly TestOutcome[] = ['pass', 'fail', 'error', 'skip', 'xfail', 'flaky'];

export interface TestCaseResult {
  /** Stable id across builds: `file` and `name` joined, e.g. `core/parser > parses numbers`. */
  id: string;
  /** The file, module or suite the test lives in, as its tool names it. */
  file: string;
  /** The test's name inside its file; nested names joined with ` > `. */
  name: string;
  outcome: TestOutcome;
  durationMs: number | null;
  /** First line of the failure, or the reason for a skip. */
  message?: string;
  /** Traceback or stack of the failure. */
  details?: string;
  /** 1 for the first run; 2 and up for re-runs. A flaky test carries the attempt that passed. */
  attempt: number;
}

export interface OutcomeCounts {
  total: number;
  pass: number;
  fail: number;
  error: number;
  skip: number;
  xfail: number;
  flaky: number;
}

export function countOutcomes(tests: Iterable<Pick<TestCaseResult, 'outcome'>>): OutcomeCounts {
  const counts: OutcomeCounts = { total: 0, pass: 0, fail: 0, error: 0, skip: 0, xfail: 0, flaky: 0 };
  for (const t of tests) {
    counts.total++;
    counts[t.outcome]++;
  }
  return counts;
}

/** Separator between the names of nested tests (describe > it), as Vitest and Jest print them. */
export const NAME_SEPARATOR = ' > ';

export function testId(file: string, nameParts: readonly string[]): string {
  return [file, ...nameParts].join(NAME_SEPARATOR);
}
