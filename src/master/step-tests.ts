// The test outcomes of one build step: its output lines fed to a results parser as they stream
// (a `test` step always, a shell step once its log looks like a test run), then the outcomes
// stored with their failure fingerprints and turned into the step's verdict and summary.
import { failureFingerprint } from '../insight/failure-fingerprint.js';
import { testVerdict } from '../insight/test-verdict.js';
import type { TestVerdict } from '../insight/test-verdict.js';
import { createParser, DetectingParser, parseText } from '../results/create-parser.js';
import type { TestCaseResult } from '../results/model.js';
import type { LineParser, ParseResult, ResultFormat } from '../results/result-parser.js';
import type { LogStream, NewTestOutcome } from '../storage/storage.js';
import type { BuildResult } from './results.js';
import type { ReceivedReport } from './worker-registry.js';

/**
 * Lines a shell step may print before its log is judged not to be a test run, after which it is
 * no longer parsed: a compile log of a million lines must not pay for format detection.
 */
export const DETECT_WITHIN_LINES = 5_000;

/** Test ids a step summary names before it says "and N more". */
const SUMMARY_NAMES = 10;

/**
 * Lifecycle: `feedLine` for each whole line of the step's log as the log writer forms it, then
 * `finish` once the command has ended. Never throws on any input (the parsers do not).
 */
export class StepTestObserver {
  private parser: LineParser | undefined;
  /** A shell step's parser until a line tells the format (it detects it; nothing else does). */
  private detecting: DetectingParser | undefined;
  private lines = 0;

  /** `format` for a test step (`auto` detects it); undefined for a shell step, parsed only if it looks like tests. */
  constructor(format: ResultFormat | 'auto' | undefined) {
    if (format === undefined) this.parser = this.detecting = new DetectingParser();
    else this.parser = createParser(format);
  }

  /** True once no further line can change the result: a shell step's log that is no test run. */
  get done(): boolean {
    return this.parser === undefined;
  }

  feedLine(stream: LogStream, text: string): void {
    if (this.parser === undefined || stream === 'h') return;
    this.parser.feedLine(text, stream === 'o' ? 'stdout' : 'stderr');
    if (this.detecting === undefined) return;
    if (this.detecting.detected) this.detecting = undefined;
    else if (++this.lines >= DETECT_WITHIN_LINES) {
      this.parser = undefined;
      this.detecting = undefined;
    }
  }

  /** What was understood; no tests when the log was not a test run. */
  finish(): ParseResult {
    const parser = this.parser;
    this.parser = undefined;
    return parser === undefined ? { format: 'unknown', tests: [] } : parser.finish();
  }
}

/**
 * The tests of a step from its report files and its log. Reports, when they name any test, are
 * the more exact account and win (a run that prints regrtest lines and writes JUnit XML would
 * otherwise count every test twice); a test in several reports keeps its last outcome. The
 * notes say, for the step's log, what each report gave.
 */
export function testsOfStep(logTests: readonly TestCaseResult[], reports: readonly ReceivedReport[], format: ResultFormat | 'auto'): { tests: TestCaseResult[]; notes: string[] } {
  const notes: string[] = [];
  const byId = new Map<string, TestCaseResult>();
  for (const report of reports) {
    if (!('data' in report)) {
      notes.push(`report ${report.path} not sent: ${report.skipped}`);
      continue;
    }
    const parsed = parseText(report.data.toString('utf8'), format);
    notes.push(`report ${report.path}: ${parsed.tests.length} test${parsed.tests.length === 1 ? '' : 's'} (${parsed.format})`);
    for (const t of parsed.tests) byId.set(t.id, t);
  }
  return { tests: byId.size > 0 ? [...byId.values()] : [...logTests], notes };
}

/** Where a step's outcomes were recorded, for their rows. */
export type OutcomeContext = Pick<NewTestOutcome, 'buildId' | 'builder' | 'branch' | 'revision' | 'worker' | 'step' | 'startedAt'>;

/** The rows to store; failures (fail, error, flaky) get their fingerprint computed once, here. */
export function outcomeRows(tests: readonly TestCaseResult[], ctx: OutcomeContext): NewTestOutcome[] {
  return tests.map((t) => {
    const failed = t.outcome === 'fail' || t.outcome === 'error' || t.outcome === 'flaky';
    return {
      ...ctx, testId: t.id, file: t.file, name: t.name, outcome: t.outcome, attempt: t.attempt, durationMs: t.durationMs,
      message: t.message ?? null, details: t.details ?? null,
      fingerprint: failed ? (failureFingerprint({ message: t.message, details: t.details }) ?? null) : null,
    };
  });
}

function names(ids: readonly string[]): string {
  const shown = ids.slice(0, SUMMARY_NAMES).join(', ');
  return ids.length > SUMMARY_NAMES ? `${shown} and ${ids.length - SUMMARY_NAMES} more` : shown;
}

/** `3 failed: test_os, test_ssl, test_asyncio.test_tasks; 1 flaky: test_x`, or null when all passed. */
function testSummary(verdict: TestVerdict): string | null {
  const parts: string[] = [];
  if (verdict.failed.length > 0) parts.push(`${verdict.failed.length} failed: ${names(verdict.failed)}`);
  if (verdict.flaky.length > 0) parts.push(`${verdict.flaky.length} flaky: ${names(verdict.flaky)}`);
  if (verdict.quarantined.length > 0) parts.push(`${verdict.quarantined.length} quarantined: ${names(verdict.quarantined)}`);
  return parts.length > 0 ? parts.join('; ') : null;
}

export interface CommandVerdict {
  result: BuildResult;
  reason: string | null;
  /** Whether the command ran to an exit of its own (not killed, timed out or lost). */
  exited: boolean;
}

/**
 * The step's result once its tests are known. Failing tests turn a passing command red. A
 * command that exited non-zero only because of quarantined or flaky tests (the runner does not
 * know the quarantine) becomes WARNINGS; a timeout, a kill or an exception is never excused.
 * The reason names the tests, and keeps the command's own reason after them.
 */
export function stepResultWithTests(command: CommandVerdict, tests: readonly TestCaseResult[], quarantined: ReadonlySet<string>): { result: BuildResult; reason: string | null; verdict: TestVerdict } {
  const verdict = testVerdict(tests, quarantined);
  const summary = testSummary(verdict);
  const reason = summary === null ? command.reason : command.reason === null || command.result === 'success' ? summary : `${summary} (${command.reason})`;
  let result = command.result;
  if (verdict.result === 'failure') {
    if (result === 'success' || result === 'warnings') result = 'failure';
  } else if (verdict.result === 'warnings') {
    if (result === 'success' || (result === 'failure' && command.exited)) result = 'warnings';
  }
  return { result, reason, verdict };
}
