// Makes the parser for a format, or one that detects the format from the log's first telling
// line and then hands every line (the ones before included) to the right parser.

import { CargoTestParser } from './cargo-test-parser.js';
import { FormatDetector, type DetectedFormat } from './detect-format.js';
import { GoTestParser } from './go-test-parser.js';
import { JsonReportParser } from './json-report-parser.js';
import { JunitParser } from './junit-parser.js';
import { MochaParser } from './mocha-parser.js';
import { NodeSpecParser } from './node-spec-parser.js';
import { PytestParser } from './pytest-parser.js';
import { RegrtestParser } from './regrtest-parser.js';
import type { LineParser, LogStream, ParseResult, ResultFormat } from './result-parser.js';
import { TapParser } from './tap-parser.js';
import { UnittestParser } from './unittest-parser.js';

function parserFor(format: DetectedFormat): LineParser {
  switch (format) {
    case 'regrtest': return new RegrtestParser();
    case 'unittest': return new UnittestParser();
    case 'pytest': return new PytestParser();
    case 'junit': return new JunitParser();
    case 'tap': return new TapParser();
    case 'node': return new NodeSpecParser();
    case 'mocha': return new MochaParser();
    case 'go': return new GoTestParser();
    case 'cargo': return new CargoTestParser();
    case 'jest':
    case 'vitest':
    case 'ctrf':
    case 'keel': return new JsonReportParser(format);
    case 'json': return new JsonReportParser('keel', true);
  }
}

/** Lines kept while the format is unknown; past this, older lines are dropped (they were noise). */
const MAX_BUFFERED_LINES = 20_000;

/**
 * Waits for a line that tells the format, then replays the buffered lines into that format's
 * parser. `restrictTo` limits the choice (node:test's reporters: spec/dot, tap or junit).
 */
export class DetectingParser implements LineParser {
  private readonly detector = new FormatDetector();
  private buffered: [string, LogStream | undefined][] = [];
  private inner: LineParser | undefined;

  constructor(
    private readonly restrictTo?: readonly DetectedFormat[],
    private readonly fallback?: DetectedFormat,
  ) {}

  feedLine(line: string, stream?: LogStream): void {
    if (this.inner) return this.inner.feedLine(line, stream);
    let format: DetectedFormat | undefined;
    try {
      format = this.detector.feed(line);
    } catch {
      format = undefined;
    }
    if (format !== undefined && this.restrictTo && !this.restrictTo.includes(format)) format = undefined;
    this.buffered.push([line, stream]);
    if (format === undefined) {
      if (this.buffered.length > MAX_BUFFERED_LINES) this.buffered = this.buffered.slice(-MAX_BUFFERED_LINES / 2);
      return;
    }
    this.start(format);
  }

  /** True once a line has told the format. */
  get detected(): boolean {
    return this.inner !== undefined;
  }

  private start(format: DetectedFormat): void {
    const inner = parserFor(format);
    this.inner = inner;
    for (const [l, s] of this.buffered) inner.feedLine(l, s);
    this.buffered = [];
  }

  finish(): ParseResult {
    if (!this.inner && this.fallback !== undefined) this.start(this.fallback);
    if (!this.inner) return { format: 'unknown', tests: [] };
    return this.inner.finish();
  }
}

/** A parser for `format`; `auto` detects it from the content. */
export function createParser(format: ResultFormat | 'auto'): LineParser {
  if (format === 'auto') return new DetectingParser();
  // node:test has four reporters; two of them are formats of their own.
  if (format === 'node') return new DetectingParser(['node', 'tap', 'junit'], 'node');
  // Mocha's other common reporters are json, tap and xunit.
  if (format === 'mocha') return new DetectingParser(['mocha', 'json', 'tap', 'junit'], 'mocha');
  return parserFor(format);
}

/** Parses a whole text, split on LF (CRs are dropped by the parsers). */
export function parseText(text: string, format: ResultFormat | 'auto' = 'auto'): ParseResult {
  const parser = createParser(format);
  let start = 0;
  const n = text.length;
  while (start < n) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = n;
    parser.feedLine(text.slice(start, end), 'stdout');
    start = end + 1;
  }
  return parser.finish();
}
