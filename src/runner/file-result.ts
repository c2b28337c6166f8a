// What one run of one test file came to, as the runner reports it.
import type { TestOutcome } from '../results/model.js';

/** The state of a test file after one run, in regrtest's words. */
export type FileState =
  | 'passed'
  | 'failed'
  | 'env changed'
  | 'skipped'
  | 'resource denied'
  | 'no tests ran'
  | 'timed out'
  | 'crashed'
  | 'worker bug'
  | 'leaked'
  | 'interrupted';

/** States that count as a failure of the file and make it a candidate for a re-run. */
export const FAILING_STATES: ReadonlySet<FileState> = new Set(['failed', 'timed out', 'crashed', 'worker bug', 'leaked']);

export interface TestRecord {
  /** Name parts from the outermost suite to the test itself. */
  names: string[];
  outcome: TestOutcome | 'todo';
  durationMs: number;
  message?: string;
  stack?: string;
  reason?: string;
  /** The file the test belongs to, when one process ran several (keel bisect). */
  file?: string;
}

/** What a test process held after one run of its tests (-R): run -1 is before the first run. */
export interface HuntSample {
  run: number;
  /** V8 heap in use, in bytes, after a forced garbage collection. */
  heapUsed: number;
  /** Active handles and requests by type (process.getActiveResourcesInfo()). */
  resources: Record<string, number>;
  /** Open file descriptors, where /proc/self/fd exists. */
  fds: number | null;
  /** Test results (suites included) the process had reported when the sample was taken. */
  tests: number;
}

export interface FileRun {
  /** The test's name: its path under the test directory, without extension. */
  name: string;
  path: string;
  state: FileState;
  /** 1 for the first pass, 2 for the re-run. */
  attempt: number;
  durationMs: number;
  tests: TestRecord[];
  envChanges: string[];
  /** Why the file failed as a whole (crash, timeout, worker bug), in one line. */
  error?: string;
  /** Stack dump of a timed-out process, or the last output of a crashed one. */
  dump?: string;
  /** stdout and stderr of the process, interleaved as they arrived (bounded). */
  output: string;
  exitCode: number | null;
  signal: string | null;
  /** Tests that had started and not ended when the file stopped. */
  running: string[];
  /** Name paths (joined with NAME_SEPARATOR) of the describe() suites the file reported. */
  suites: string[];
  /** Leak hunting (-R): one sample before the first run and one after each run. */
  samples?: HuntSample[];
  /** Leak hunting: the leaks found, one line each (`leaked [3, 3, 3] handles (Timeout), sum=9`). */
  leaks?: string[];
}

export function failedTests(run: FileRun): TestRecord[] {
  return run.tests.filter((t) => t.outcome === 'fail' || t.outcome === 'error');
}
