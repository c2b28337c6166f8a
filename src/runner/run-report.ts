// The whole run as data: what the summary prints, and what --json and --junit-xml write.
import { testId, NAME_SEPARATOR, type TestCaseResult } from '../results/model.js';
import { FAILING_STATES, type FileRun, type FileState, type TestRecord } from './file-result.js';
import type { RunVerdict } from './run-state.js';

export interface AttemptFailure {
  attempt: number;
  message?: string;
  details?: string;
}

/** A test's final outcome, with the failures of earlier attempts (a flaky test's first failure). */
export interface RunTestResult extends TestCaseResult {
  earlierFailures?: AttemptFailure[];
  reason?: string;
}

export interface FileAttempt {
  attempt: number;
  state: FileState;
  durationMs: number;
  error?: string;
  envChanges: string[];
  exitCode: number | null;
  signal: string | null;
  output?: string;
  dump?: string;
  /** Leak hunting (-R): each leak found, in regrtest's words. */
  leaks?: string[];
}

export interface FileReport {
  name: string;
  path: string;
  /** The state after the re-run, if there was one. */
  state: FileState;
  attempts: FileAttempt[];
}

export interface RunReport {
  version: 1;
  startedAt: string;
  durationMs: number;
  seed: number | null;
  result: string;
  exitCode: number;
  iterations: number;
  filtered: boolean;
  files: FileReport[];
  omitted: string[];
  tests: RunTestResult[];
}

export interface ReportInput {
  startedAt: Date;
  durationMs: number;
  seed: number | null;
  verdict: RunVerdict;
  firstRuns: FileRun[];
  rerunRuns: FileRun[];
  omitted: string[];
  filtered: boolean;
  iterations: number;
}

function attemptOf(run: FileRun): FileAttempt {
  const a: FileAttempt = {
    attempt: run.attempt,
    state: run.state,
    durationMs: Math.round(run.durationMs),
    envChanges: run.envChanges,
    exitCode: run.exitCode,
    signal: run.signal,
  };
  if (run.error !== undefined) a.error = run.error;
  if (run.dump !== undefined) a.dump = run.dump;
  if (run.leaks !== undefined) a.leaks = run.leaks;
  if (FAILING_STATES.has(run.state) && run.output) a.output = run.output;
  return a;
}

function toResult(file: string, t: TestRecord, attempt: number): RunTestResult {
  const r: RunTestResult = {
    id: testId(file, t.names),
    file,
    name: t.names.join(NAME_SEPARATOR),
    outcome: t.outcome === 'todo' ? 'skip' : t.outcome,
    durationMs: Math.round(t.durationMs * 1000) / 1000,
    attempt,
  };
  const message = t.message ?? t.reason;
  if (message !== undefined) r.message = message;
  if (t.stack !== undefined) r.details = t.stack;
  if (t.reason !== undefined) r.reason = t.reason;
  return r;
}

const failing = (o: string) => o === 'fail' || o === 'error';

export function buildRunReport(input: ReportInput): RunReport {
  const rerunByName = new Map(input.rerunRuns.map((r) => [r.name, r]));
  const files: FileReport[] = [];
  const tests: RunTestResult[] = [];
  for (const first of input.firstRuns) {
    if (first.state === 'interrupted') continue;
    const rerun = rerunByName.get(first.name);
    files.push({
      name: first.name,
      path: first.path,
      state: rerun?.state ?? first.state,
      attempts: rerun ? [attemptOf(first), attemptOf(rerun)] : [attemptOf(first)],
    });
    const byId = new Map<string, RunTestResult>();
    for (const t of first.tests) byId.set(testId(first.name, t.names), toResult(first.name, t, 1));
    if (rerun && rerun.state !== 'interrupted') {
      for (const t of rerun.tests) {
        const id = testId(first.name, t.names);
        const before = byId.get(id);
        const after = toResult(first.name, t, 2);
        if (before && failing(before.outcome)) {
          after.earlierFailures = [{ attempt: 1, ...(before.message !== undefined ? { message: before.message } : {}), ...(before.details !== undefined ? { details: before.details } : {}) }];
          if (after.outcome === 'pass') after.outcome = 'flaky';
        }
        byId.set(id, after);
      }
      // A failure of the file as a whole (a crash outside any test) that the re-run did not
      // repeat is replaced by the re-run's own results.
      if (!rerun.tests.some((t) => t.names.length === 0)) byId.delete(testId(first.name, []));
    }
    tests.push(...byId.values());
  }
  return {
    version: 1,
    startedAt: input.startedAt.toISOString(),
    durationMs: Math.round(input.durationMs),
    seed: input.seed,
    result: input.verdict.text,
    exitCode: input.verdict.exitCode,
    iterations: input.iterations,
    filtered: input.filtered,
    files,
    omitted: input.omitted,
    tests,
  };
}

export interface TestTotals {
  run: number;
  passed: number;
  failed: number;
  skipped: number;
  flaky: number;
  /** Tests that failed on their first attempt, whatever came after. */
  failures: number;
}

export function testTotals(report: RunReport): TestTotals {
  const t: TestTotals = { run: 0, passed: 0, failed: 0, skipped: 0, flaky: 0, failures: 0 };
  for (const r of report.tests) {
    t.run++;
    if (r.outcome === 'pass' || r.outcome === 'flaky' || r.outcome === 'xfail') t.passed++;
    if (failing(r.outcome)) t.failed++;
    if (r.outcome === 'skip') t.skipped++;
    if (r.outcome === 'flaky') t.flaky++;
    if (failing(r.outcome) ? r.attempt === 1 || r.earlierFailures : r.earlierFailures) t.failures++;
  }
  return t;
}
