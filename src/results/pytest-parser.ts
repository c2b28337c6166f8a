// Parses pytest's console output: -v result lines, the -r short summary (-rA lists every test),
// the FAILURES/ERRORS sections with tracebacks, and RERUN lines of pytest-rerunfailures.
// Without -v or -rA pytest names only failing tests, so only they can be listed.

import type { TestOutcome } from './model.js';
import { cleanLine, joinDetails, pushDetail, type ParseResult, type ResultParser } from './result-parser.js';
import { TestCollector, makeResult } from './test-collector.js';

const WORDS: Record<string, TestOutcome> = {
  PASSED: 'pass', FAILED: 'fail', ERROR: 'error', SKIPPED: 'skip', XFAIL: 'xfail', XPASS: 'pass', RERUN: 'fail',
};
const VERBOSE = /^(\S+::\S.*?) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS|RERUN)(?: \((.*)\))?(?:\s+\[\s*\d+%\])?\s*$/;
const XDIST = /^\[gw\d+\] \[\s*\d+%\] (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS|RERUN) (\S+::\S.*?)(?: - (.*))?\s*$/;
const SHORT = /^(PASSED|FAILED|ERROR|XFAIL|XPASS) (\S+::\S+)(?: - (.*)| (.*))?$/;
const SECTION = /^_{3,} (.+?) _{3,}$/;
const BANNER = /^={3,} (.+?) ={3,}$/;

function split(nodeid: string): { file: string; name: string } {
  const i = nodeid.indexOf('::');
  return i === -1 ? { file: nodeid, name: '' } : { file: nodeid.slice(0, i), name: nodeid.slice(i + 2) };
}

/** The header of a FAILURES block names `Class.test[param]`; the node id has `Class::test[param]`. */
function blockKey(name: string): string {
  return name.replace(/^(?:ERROR at (?:setup|teardown) of )/, '').replace(/::/g, '.');
}

export class PytestParser implements ResultParser {
  readonly format = 'pytest' as const;
  private readonly tests = new TestCollector();
  private readonly attempts = new Map<string, number>();
  private section: 'none' | 'failures' | 'summary' = 'none';
  private block: { key: string; lines: string[] } | undefined;
  private readonly blocks = new Map<string, { message?: string; details?: string }>();
  private toolSummary: string | undefined;
  private pendingId: string | undefined;

  feedLine(raw: string): void {
    try {
      this.line(cleanLine(raw));
    } catch {
      // never throw on a log line
    }
  }

  private add(nodeid: string, word: string, reason: string | undefined): void {
    const outcome = WORDS[word];
    if (!outcome) return;
    const { file, name } = split(nodeid.trim());
    const attempt = (this.attempts.get(nodeid) ?? 0) + 1;
    const existing = this.tests.get(nodeid);
    // -rA repeats in its summary what -v already said; only RERUN lines add an attempt.
    if (existing && existing.attempt === attempt - 1 && this.section === 'summary') {
      if (reason && existing.message === undefined) existing.message = reason;
      return;
    }
    this.attempts.set(nodeid, attempt);
    const message = word === 'XPASS' ? `XPASS${reason ? ` ${reason}` : ''}` : reason;
    this.tests.add(makeResult(file, name, nodeid, outcome, { message, attempt }));
  }

  private line(line: string): void {
    const banner = line.charCodeAt(0) === 61 /* = */ ? BANNER.exec(line) : null;
    if (banner) {
      this.closeBlock();
      const title = banner[1]!;
      if (title === 'FAILURES' || title === 'ERRORS') this.section = 'failures';
      else if (title.startsWith('short test summary')) this.section = 'summary';
      else {
        this.section = 'none';
        if (/\b(passed|failed|errors?|skipped|xfailed|xpassed|deselected|no tests ran)\b/.test(title)) this.toolSummary = title;
      }
      return;
    }
    if (this.section === 'failures') {
      const s = line.charCodeAt(0) === 95 /* _ */ ? SECTION.exec(line) : null;
      if (s) {
        this.closeBlock();
        this.block = { key: blockKey(s[1]!), lines: [] };
      } else if (this.block) {
        pushDetail(this.block.lines, line);
      }
      return;
    }
    if (this.section === 'summary') {
      const m = SHORT.exec(line);
      if (m) this.add(m[2]!, m[1]!, m[3] ?? m[4]);
      return;
    }
    if (this.pendingId !== undefined) {
      // With -s the test's own output sits between its node id and its status word.
      const w = /^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS|RERUN)(?: \((.*)\))?(?:\s+\[\s*\d+%\])?\s*$/.exec(line);
      if (w) {
        const id = this.pendingId;
        this.pendingId = undefined;
        return this.add(id, w[1]!, w[2]);
      }
    }
    if (line.includes('::')) {
      let m = VERBOSE.exec(line);
      if (m) return this.add(m[1]!, m[2]!, m[3]);
      m = XDIST.exec(line);
      if (m) return this.add(m[2]!, m[1]!, m[3]);
      const started = /^(\S+\.py::\S+)(?: |$)/.exec(line);
      if (started) this.pendingId = started[1]!;
    }
  }

  private closeBlock(): void {
    const b = this.block;
    if (!b) return;
    this.block = undefined;
    const e = b.lines.find((l) => l.startsWith('E   '));
    const info: { message?: string; details?: string } = {};
    if (e !== undefined) info.message = e.slice(1).trim();
    const details = joinDetails(b.lines);
    if (details !== undefined) info.details = details;
    if (!this.blocks.has(b.key)) this.blocks.set(b.key, info);
  }

  finish(): ParseResult {
    try {
      this.closeBlock();
    } catch {
      // report what we have
    }
    const tests = this.tests.results();
    for (const t of tests) {
      if (t.outcome !== 'fail' && t.outcome !== 'error' && t.outcome !== 'flaky') continue;
      const info = this.blocks.get(blockKey(t.name));
      if (!info) continue;
      if (info.message !== undefined) t.message = info.message;
      if (info.details !== undefined) t.details = info.details;
    }
    const out: ParseResult = { format: this.format, tests };
    if (this.toolSummary !== undefined) out.toolSummary = this.toolSummary;
    return out;
  }
}
