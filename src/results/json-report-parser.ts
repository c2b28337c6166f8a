// Parses the JSON reports: Jest and Vitest `--json`, Mocha's json reporter, CTRF, and Keel's own `keel test --json`
// (docs/json-report.md). JSON is not line-based, so lines are buffered and parsed at finish().

import { TEST_OUTCOMES, type TestCaseResult, type TestOutcome } from './model.js';
import { cleanLine, joinDetails, type LogStream, type ParseResult, type ResultFormat, type ResultParser } from './result-parser.js';
import { TestCollector, joinedId, makeResult } from './test-collector.js';

type Json = Record<string, unknown>;
const MAX_JSON_CHARS = 512 * 1024 * 1024;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const firstLine = (s: string | undefined): string | undefined => s?.split('\n').map((l) => l.trim()).find((l) => l !== '');

/** The document in a buffered log: the whole text, or the object between the first `{` line and the last `}`. */
function extractJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const start = text.search(/^\{/m);
    const end = text.lastIndexOf('}');
    if (start === -1 || end <= start) return undefined;
    try {
      return JSON.parse(text.slice(start, end + 1));
    } catch {
      return undefined;
    }
  }
}

/** Which JSON report a document is, judged by its keys. */
function jsonKind(doc: unknown): 'jest' | 'vitest' | 'ctrf' | 'keel' | 'mocha' | undefined {
  if (!isObject(doc)) return undefined;
  if (isObject(doc['stats']) && Array.isArray(doc['passes']) && Array.isArray(doc['failures'])) return 'mocha';
  if (isObject(doc['results']) && Array.isArray((doc['results'] as Json)['tests'])) return 'ctrf';
  if (Array.isArray(doc['testResults'])) return 'numRuntimeErrorTestSuites' in doc || 'openHandles' in doc ? 'jest' : 'vitest';
  if (Array.isArray(doc['tests']) && (doc['version'] === 1 || 'startedAt' in doc)) return 'keel';
  return undefined;
}

export class JsonReportParser implements ResultParser {
  private readonly lines: string[] = [];
  private size = 0;

  /** `format` decides the label; the document's own shape decides how it is read. */
  /**
   * `format` is the label when the user named one; with `detect`, the document's shape names
   * it, and a document of no known shape is `unknown`.
   */
  constructor(
    readonly format: Extract<ResultFormat, 'jest' | 'vitest' | 'ctrf' | 'keel' | 'mocha'>,
    private readonly detect = false,
  ) {}

  feedLine(line: string, stream?: LogStream): void {
    // A report printed to stdout comes with progress on stderr (jest --json): keep stdout only.
    if (stream === 'stderr' || this.size > MAX_JSON_CHARS) return;
    // Reports copied out of a build log may carry its colours and CRs.
    const clean = cleanLine(line);
    this.lines.push(clean);
    this.size += clean.length + 1;
  }

  finish(): ParseResult {
    const tests = new TestCollector();
    let format: ResultFormat | 'unknown' = this.detect ? 'unknown' : this.format;
    try {
      const doc = extractJson(this.lines.join('\n'));
      const kind = jsonKind(doc);
      if (kind !== undefined && isObject(doc)) {
        if (kind === 'jest' || kind === 'vitest') {
          readJest(doc, tests);
          if (this.detect || (this.format !== 'jest' && this.format !== 'vitest')) format = kind;
        } else if (kind === 'mocha') {
          readMocha(doc, tests);
          format = 'mocha';
        } else if (kind === 'ctrf') {
          readCtrf(doc, tests);
          format = 'ctrf';
        } else {
          readKeel(doc, tests);
          format = 'keel';
        }
      }
    } catch {
      // a malformed document yields what was read before the fault
    }
    return { format, tests: tests.results() };
  }
}

function readJest(doc: Json, out: TestCollector): void {
  for (const fileResult of arr(doc['testResults'])) {
    if (!isObject(fileResult)) continue;
    const file = str(fileResult['name']) ?? str(fileResult['testFilePath']) ?? '';
    const assertions = arr(fileResult['assertionResults'] ?? fileResult['testResults']);
    for (const a of assertions) {
      if (!isObject(a)) continue;
      const title = str(a['title']) ?? str(a['fullName']) ?? '';
      const names = [...arr(a['ancestorTitles']).filter((x): x is string => typeof x === 'string'), title];
      const status = str(a['status']) ?? '';
      const failures = arr(a['failureMessages']).filter((x): x is string => typeof x === 'string');
      const invocations = num(a['invocations']);
      let outcome: TestOutcome;
      let attempt = invocations ?? 1;
      let message: string | undefined;
      if (status === 'passed') {
        // Jest counts invocations; Vitest keeps the messages of failed retries on a pass.
        if ((invocations ?? 1) > 1) outcome = 'flaky';
        else if (failures.length > 0) [outcome, attempt] = ['flaky', failures.length + 1];
        else outcome = 'pass';
      } else if (status === 'failed') {
        outcome = 'fail';
        if (invocations === null && failures.length > 1) attempt = failures.length;
      } else if (status === 'todo') [outcome, message] = ['skip', 'todo'];
      else if (status === 'pending' || status === 'skipped' || status === 'disabled') outcome = 'skip';
      else if (status === 'focused') outcome = 'pass';
      else continue;
      const details = failures.length > 0 ? joinDetails([failures[failures.length - 1]!]) : undefined;
      message ??= firstLine(failures[failures.length - 1]);
      out.add(makeResult(file, names.join(' > '), joinedId(file, names), outcome, { durationMs: num(a['duration']), message, details, attempt }));
    }
    // A file that failed before any test ran (a syntax error, a failing import).
    const status = str(fileResult['status']);
    const fileMessage = str(fileResult['message']) ?? str(fileResult['failureMessage']);
    if (assertions.length === 0 && status === 'failed' && fileMessage) {
      out.add(makeResult(file, '', file, 'error', { message: firstLine(fileMessage), details: joinDetails([fileMessage]) }));
    }
  }
}

function readCtrf(doc: Json, out: TestCollector): void {
  const results = doc['results'] as Json;
  for (const t of arr(results['tests'])) {
    if (!isObject(t)) continue;
    // Reporters put the full name in `name` and repeat the file in `suite`: the file path and
    // the name make the id; `suite` stands in for a missing path.
    const suite = t['suite'];
    const suiteText = Array.isArray(suite) ? suite.filter((x): x is string => typeof x === 'string').join(' > ') : str(suite);
    const file = str(t['filePath']) ?? suiteText ?? '';
    const names = [str(t['name']) ?? ''];
    const status = str(t['status']) ?? '';
    const retries = num(t['retries']) ?? 0;
    let outcome: TestOutcome;
    if (status === 'passed') outcome = t['flaky'] === true || retries > 0 ? 'flaky' : 'pass';
    else if (status === 'failed') outcome = 'fail';
    else if (status === 'skipped' || status === 'pending') outcome = 'skip';
    else if (/^(?:todo|skipped|pending|disabled)$/.test(str(t['rawStatus']) ?? '')) outcome = 'skip';
    else outcome = 'error';
    const message = firstLine(str(t['message']));
    const details = joinDetails([str(t['trace']) ?? str(t['message']) ?? '']);
    out.add(makeResult(file, names.join(' > '), joinedId(file, names), outcome, { durationMs: num(t['duration']), message, details, attempt: retries + 1 }));
  }
}

function readKeel(doc: Json, out: TestCollector): void {
  for (const t of arr(doc['tests'])) {
    if (!isObject(t)) continue;
    const outcome = str(t['outcome']);
    if (outcome === undefined || !(TEST_OUTCOMES as readonly string[]).includes(outcome)) continue;
    const file = str(t['file']) ?? '';
    const name = str(t['name']) ?? '';
    const id = str(t['id']) ?? joinedId(file, name === '' ? [] : [name]);
    const attempt = num(t['attempt']);
    // `keel test` keeps a flaky test's first failure in earlierFailures; it is the news.
    const earlier = arr(t['earlierFailures']).find(isObject);
    const r: TestCaseResult = makeResult(file, name, id, outcome as TestOutcome, {
      durationMs: num(t['durationMs']),
      message: str(t['message']) ?? (earlier && str(earlier['message'])),
      details: str(t['details']) ?? (earlier && str(earlier['details'])),
      attempt: attempt !== null && attempt >= 1 ? Math.floor(attempt) : 1,
    });
    out.set(r);
  }
}

/** Mocha's `--reporter json`: passes, failures (hooks included) and pending, with full titles. */
function readMocha(doc: Json, out: TestCollector): void {
  const lists: [string, TestOutcome][] = [['passes', 'pass'], ['pending', 'skip'], ['failures', 'fail']];
  for (const [key, base] of lists) {
    for (const t of arr(doc[key])) {
      if (!isObject(t)) continue;
      const file = str(t['file']) ?? '';
      const name = str(t['fullTitle']) ?? str(t['title']) ?? '';
      const retry = num(t['currentRetry']) ?? 0;
      const err = isObject(t['err']) ? t['err'] : {};
      let outcome = base;
      if (base === 'fail' && /^"(?:before|after) (?:all|each)" hook/.test(str(t['title']) ?? '')) outcome = 'error';
      if (base === 'pass' && retry > 0) outcome = 'flaky';
      const message = firstLine(str(err['message']));
      const details = joinDetails([str(err['stack']) ?? '']);
      out.add(makeResult(file, name, joinedId(file, [name]), outcome, { durationMs: num(t['duration']), message, details, attempt: retry + 1 }));
    }
  }
}
