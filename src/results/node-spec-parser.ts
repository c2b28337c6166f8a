// Parses node:test's human reporters: spec (nested ✔/✖ lines, Node 20 to 24) and dot (which
// names only the failed tests, in its closing list). The tap and junit reporters have their
// own parsers. node:test prints no file for a passing test, so a test's id is its name path.

import type { TestOutcome } from './model.js';
import { cleanLine, joinDetails, pushDetail, type ParseResult, type ResultParser } from './result-parser.js';
import { TestCollector, joinedId, makeResult } from './test-collector.js';

const RESULT = /^(\s*)(✔|✖|﹣|▶) (.*?)(?: \(([\d.]+)ms\))?(?: # (.*))?$/;
const SUBTESTS_FAILED = /^'?\d+ subtests? failed'?$/;

interface Entry {
  names: string[];
  outcome: TestOutcome;
  durationMs: number | null;
  message?: string;
  details: string[];
}

export class NodeSpecParser implements ResultParser {
  readonly format = 'node' as const;
  private readonly entries: Entry[] = [];
  private suites: { name: string; failedBefore: number }[] = [];
  private failedCount = 0;
  private detailsOf: { entry: Entry; indent: number } | undefined;
  /** `spec` while tests run; `failing` in the closing list of failures (spec and dot). */
  private mode: 'spec' | 'failing' = 'spec';
  private readonly info: string[] = [];
  private readonly matched = new Set<Entry>();
  /** Describe blocks that closed with ✖, by name: the failing list may name them. */
  private readonly failedSuites = new Map<string, string[]>();

  feedLine(raw: string): void {
    try {
      this.line(cleanLine(raw));
    } catch {
      // never throw on a log line
    }
  }

  private line(line: string): void {
    if (line === '✖ failing tests:' || line === 'Failed tests:') {
      this.mode = 'failing';
      this.detailsOf = undefined;
      return;
    }
    const c = line.charCodeAt(line.length > 0 && line[0] === ' ' ? line.search(/\S|$/) : 0);
    // ✔ U+2714, ✖ U+2716, ﹣ U+FE63, ▶ U+25B6: all other lines are details or noise.
    const marker = c === 0x2714 || c === 0x2716 || c === 0xfe63 || c === 0x25b6;
    const m = marker ? RESULT.exec(line) : null;
    if (!m) {
      if (line.startsWith('ℹ ')) {
        this.info.push(line.slice(2));
        this.detailsOf = undefined;
        return;
      }
      if (this.detailsOf && (line.trim() === '' || line.search(/\S/) > this.detailsOf.indent)) {
        pushDetail(this.detailsOf.entry.details, line.slice(this.detailsOf.indent + 2));
      } else if (this.detailsOf && line.startsWith('test at ')) {
        this.detailsOf = undefined;
      }
      return;
    }
    const indent = m[1]!.length;
    const level = indent >> 1;
    const sign = m[2]!;
    const name = m[3]!;
    const durationMs = m[4] !== undefined ? Number(m[4]) : null;
    const directive = m[5];
    if (this.mode === 'failing') return this.failingLine(name, durationMs, indent);
    this.detailsOf = undefined;
    if (sign === '▶') {
      this.suites.length = Math.min(this.suites.length, level);
      this.suites[level] = { name, failedBefore: this.failedCount };
      return;
    }
    const suite = this.suites[level];
    if (suite && suite.name === name && this.suites.length === level + 1) {
      // The closing line of a describe block: listed only if it failed with no failing test.
      this.suites.length = level;
      if (sign === '✖') this.failedSuites.set(name, [...this.suites.map((x) => x.name), name]);
      if (sign !== '✖' || this.failedCount > suite.failedBefore) return;
    }
    this.suites.length = Math.min(this.suites.length, level);
    let outcome: TestOutcome = sign === '✔' ? 'pass' : sign === '✖' ? 'fail' : 'skip';
    let message: string | undefined;
    if (directive !== undefined) {
      if (/^TODO\b/i.test(directive)) {
        outcome = 'skip';
        message = directive.replace(/^TODO\s*/i, '') || 'todo';
      } else if (outcome === 'skip') {
        message = directive.replace(/^SKIP\s*/i, '') || undefined;
      }
    }
    const entry: Entry = { names: [...this.suites.slice(0, level).map((s) => s.name), name], outcome, durationMs, details: [] };
    if (message !== undefined) entry.message = message;
    if (outcome === 'fail') {
      this.failedCount++;
      this.detailsOf = { entry, indent };
    }
    this.entries.push(entry);
  }

  /** The closing list repeats each failure with its error (Node 22+ prints the error only here). */
  private failingLine(name: string, durationMs: number | null, indent: number): void {
    let entry = this.entries.find((e) => e.outcome === 'fail' && e.names[e.names.length - 1] === name && !this.matched.has(e));
    if (entry) {
      this.matched.add(entry);
      // Node 20 printed the error inline already; do not read it twice.
      if (entry.details.length > 0) entry = { ...entry, details: [] };
    } else {
      // A describe block that failed on its own (a hook) is listed here with its error: it is an
      // `error`, as `keel test` has it. The dot reporter lists every failure only here.
      const suite = this.failedSuites.get(name);
      entry = { names: suite ?? [name], outcome: suite ? 'error' : 'fail', durationMs, details: [] };
      this.entries.push(entry);
    }
    this.detailsOf = { entry, indent };
  }

  finish(): ParseResult {
    const tests = new TestCollector();
    for (const e of this.entries) {
      const details = joinDetails(e.details);
      // A suite that failed because a test in it failed says so and nothing else.
      if (details !== undefined && SUBTESTS_FAILED.test(details.trim())) continue;
      // node:test quotes a string it was given as an error: 'test timed out after 50ms'.
      const first = details?.split('\n').find((l) => l.trim() !== '')?.trim().replace(/^'(.*)'$/, '$1');
      const message = e.message ?? first;
      tests.add(makeResult('', e.names.join(' > '), joinedId('', e.names), e.outcome, { durationMs: e.durationMs, message, details }));
    }
    const out: ParseResult = { format: this.format, tests: tests.results() };
    if (this.info.length > 0) out.toolSummary = this.info.join(', ');
    return out;
  }
}
