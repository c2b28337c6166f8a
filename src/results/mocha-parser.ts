// Parses Mocha's default spec reporter: nested suite titles, ✔/✓ passes, numbered failures and
// `-` pending tests, then the numbered failure list with each error. Mocha prints no file.

import type { TestOutcome } from './model.js';
import { cleanLine, joinDetails, pushDetail, type ParseResult, type ResultParser } from './result-parser.js';
import { TestCollector, joinedId, makeResult } from './test-collector.js';

interface Entry {
  names: string[];
  outcome: TestOutcome;
  durationMs: number | null;
  details: string[];
}

const PASS = /^(?:✔|✓|√) (.*?)(?: \((\d+)ms\))?$/;
const FAIL = /^(\d+)\) (.*)$/;
const HOOK = /^"(?:before|after) (?:all|each)" hook/;

export class MochaParser implements ResultParser {
  readonly format = 'mocha' as const;
  private readonly entries: Entry[] = [];
  private readonly byNumber = new Map<number, Entry>();
  private suites: string[] = [];
  private phase: 'tests' | 'summary' | 'failures' = 'tests';
  private current: { entry: Entry | undefined; titleDone: boolean } | undefined;
  private readonly summary: string[] = [];

  feedLine(raw: string): void {
    try {
      this.line(cleanLine(raw));
    } catch {
      // never throw on a log line
    }
  }

  private line(line: string): void {
    const body = line.trim();
    if (/^\d+ (?:passing|pending|failing)\b/.test(body)) {
      this.summary.push(body);
      this.phase = body.includes('failing') ? 'failures' : 'summary';
      return;
    }
    if (this.phase === 'failures') return this.failureLine(line, body);
    if (this.phase !== 'tests' || body === '') return;
    const indent = line.length - line.trimStart().length;
    const level = Math.max(0, (indent - 2) >> 1);
    const parents = this.suites.slice(0, level);
    let m = PASS.exec(body);
    if (m) return this.push({ names: [...parents, m[1]!], outcome: 'pass', durationMs: m[2] !== undefined ? Number(m[2]) : null, details: [] });
    m = FAIL.exec(body);
    if (m) {
      const entry: Entry = { names: [...parents, m[2]!], outcome: HOOK.test(m[2]!) ? 'error' : 'fail', durationMs: null, details: [] };
      this.byNumber.set(Number(m[1]), entry);
      return this.push(entry);
    }
    if (body.startsWith('- ')) return this.push({ names: [...parents, body.slice(2)], outcome: 'skip', durationMs: null, details: [] });
    // Anything else in the test list is a suite title.
    this.suites = parents;
    this.suites[level] = body;
  }

  private push(e: Entry): void {
    this.entries.push(e);
  }

  private failureLine(line: string, body: string): void {
    const m = /^\s{0,4}(\d+)\) /.exec(line);
    if (m) {
      this.current = { entry: this.byNumber.get(Number(m[1])), titleDone: body.endsWith(':') };
      return;
    }
    const c = this.current;
    if (!c) return;
    if (!c.titleDone) {
      if (body.endsWith(':')) c.titleDone = true;
      return;
    }
    if (c.entry) pushDetail(c.entry.details, line.replace(/^ {0,6}/, ''));
  }

  finish(): ParseResult {
    const tests = new TestCollector();
    for (const e of this.entries) {
      const details = joinDetails(e.details);
      const message = details?.split('\n').find((l) => l.trim() !== '')?.trim();
      tests.add(makeResult('', e.names.join(' > '), joinedId('', e.names), e.outcome, { durationMs: e.durationMs, message, details }));
    }
    const out: ParseResult = { format: this.format, tests: tests.results() };
    if (this.summary.length > 0) out.toolSummary = this.summary.join(', ');
    return out;
  }
}
