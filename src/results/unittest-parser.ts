// Parses `python -m unittest` output, default and -v. The default mode prints only dots, so only
// the tests named in FAIL:/ERROR: blocks can be listed; -v names every test.

import type { ParseResult, ResultParser } from './result-parser.js';
import { cleanLine } from './result-parser.js';
import { TestCollector, makeResult } from './test-collector.js';
import { UnittestLineReader, splitPythonId, type UnittestEvent } from './python-unittest-lines.js';

export class UnittestParser implements ResultParser {
  readonly format = 'unittest' as const;
  private readonly tests = new TestCollector();
  private readonly reader = new UnittestLineReader((e) => this.onEvent(e));

  feedLine(raw: string): void {
    try {
      this.reader.feed(cleanLine(raw));
    } catch {
      // never throw on a log line
    }
  }

  private onEvent(e: UnittestEvent): void {
    const existing = this.tests.get(e.id);
    if ((e.fromBlock || e.subtest) && existing) {
      // A block details a result already seen; a subTest adds to its test: neither is a re-run.
      if (e.message !== undefined && (e.fromBlock || existing.message === undefined)) existing.message = e.message;
      if (e.details !== undefined) existing.details = e.details;
      if (existing.outcome === 'pass' || (existing.outcome === 'fail' && e.outcome === 'error')) existing.outcome = e.outcome;
      return;
    }
    const { file, name } = splitPythonId(e.id);
    this.tests.add(makeResult(file, name, e.id, e.outcome, { message: e.message, details: e.details }));
  }

  finish(): ParseResult {
    try {
      this.reader.finish();
    } catch {
      // report what we have
    }
    const out: ParseResult = { format: this.format, tests: this.tests.results() };
    if (this.reader.summary !== undefined) out.toolSummary = this.reader.summary;
    return out;
  }
}
