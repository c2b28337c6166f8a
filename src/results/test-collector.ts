// Gathers results for one log: a test reported twice (a re-run, a retry, a duplicate JUnit
// case) ends as one entry, `flaky` when it failed and later passed.

import { NAME_SEPARATOR, type TestCaseResult, type TestOutcome } from './model.js';

const FAILING: ReadonlySet<TestOutcome> = new Set(['fail', 'error']);

export class TestCollector {
  private readonly byId = new Map<string, TestCaseResult>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): TestCaseResult | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  delete(id: string): void {
    this.byId.delete(id);
  }

  /**
   * Records one attempt of a test. A later attempt replaces an earlier one; if the earlier
   * failed and the later passed, the test is flaky and keeps the earlier failure's message.
   * An attempt number that is not above the stored one counts as the next attempt, since
   * formats such as JUnit XML repeat a re-run test case without numbering it.
   */
  add(result: TestCaseResult): void {
    const before = this.byId.get(result.id);
    if (!before) {
      this.byId.set(result.id, result);
      return;
    }
    const attempt = result.attempt > before.attempt ? result.attempt : before.attempt + 1;
    const next: TestCaseResult = { ...result, attempt };
    const failedBefore = FAILING.has(before.outcome) || before.outcome === 'flaky';
    if (failedBefore && (result.outcome === 'pass' || result.outcome === 'flaky')) {
      next.outcome = 'flaky';
      if (next.message === undefined && before.message !== undefined) next.message = before.message;
      if (next.details === undefined && before.details !== undefined) next.details = before.details;
    }
    this.byId.set(result.id, next);
  }

  /** Replaces a stored result as it is, without the attempt logic (for late corrections). */
  set(result: TestCaseResult): void {
    this.byId.set(result.id, result);
  }

  results(): TestCaseResult[] {
    return [...this.byId.values()];
  }
}

/** Builds a result with the optional fields left out when absent, so JSON stays tidy. */
export function makeResult(
  file: string,
  name: string,
  id: string,
  outcome: TestOutcome,
  opts: { durationMs?: number | null; message?: string | undefined; details?: string | undefined; attempt?: number } = {},
): TestCaseResult {
  const r: TestCaseResult = { id, file, name, outcome, durationMs: opts.durationMs ?? null, attempt: opts.attempt ?? 1 };
  if (opts.message !== undefined && opts.message !== '') r.message = opts.message;
  if (opts.details !== undefined && opts.details !== '') r.details = opts.details;
  return r;
}

/** The id of a test named by a path of names: `file > a > b`, or `a > b` when the file is unknown. */
export function joinedId(file: string, names: readonly string[]): string {
  const parts = file === '' ? names : [file, ...names];
  return parts.join(NAME_SEPARATOR);
}
