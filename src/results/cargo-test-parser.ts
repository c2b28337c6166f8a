// Parses `cargo test` (libtest) output: `test name ... ok` lines per test binary, the
// `---- name stdout ----` failure sections and the `test result:` lines. The file is the
// target being run (`src/lib.rs`, `tests/api.rs`, doc-tests).

import type { TestOutcome } from './model.js';
import { cleanLine, joinDetails, pushDetail, type ParseResult, type ResultParser } from './result-parser.js';
import { TestCollector, joinedId, makeResult } from './test-collector.js';

const TEST_LINE = /^test (.+?) \.\.\. ?(.*)$/;
const RUNNING = /^\s*Running (?:unittests )?(\S+)(?: \((\S+)\))?/;
const SECTION = /^---- (.+?) std(?:out|err) ----$/;

function verdict(text: string): { outcome: TestOutcome; message?: string } | undefined {
  if (text === 'ok') return { outcome: 'pass' };
  if (text === 'FAILED') return { outcome: 'fail' };
  if (text.startsWith('ignored')) {
    const reason = text.replace(/^ignored,?\s*/, '');
    return reason ? { outcome: 'skip', message: reason } : { outcome: 'skip' };
  }
  if (text.startsWith('bench:')) return { outcome: 'pass' };
  return undefined;
}

interface Entry {
  file: string;
  name: string;
  outcome: TestOutcome | undefined;
  message?: string;
  details: string[];
}

export class CargoTestParser implements ResultParser {
  readonly format = 'cargo' as const;
  private readonly entries: Entry[] = [];
  private file = '';
  private pending: Entry | undefined;
  private section: Entry | undefined;
  private readonly summaries: string[] = [];

  feedLine(raw: string): void {
    try {
      this.line(cleanLine(raw));
    } catch {
      // never throw on a log line
    }
  }

  private line(line: string): void {
    if (line.startsWith('test ')) {
      const m = TEST_LINE.exec(line);
      if (m) {
        this.section = undefined;
        // `name - should panic` is libtest's note on a #[should_panic] test, not part of its name.
        const name = m[1]!.replace(/ - should panic(?: with .*)?$/, '');
        const v = verdict(m[2]!.trim());
        const e: Entry = { file: this.file, name, outcome: v?.outcome, details: [] };
        if (v?.message !== undefined) e.message = v.message;
        this.entries.push(e);
        this.pending = v ? undefined : e;
        return;
      }
      if (line.startsWith('test result: ')) {
        this.summaries.push(line.slice(13));
        this.section = undefined;
        return;
      }
    }
    if (this.pending) {
      const v = verdict(line.trim());
      if (v) {
        this.pending.outcome = v.outcome;
        if (v.message !== undefined) this.pending.message = v.message;
        this.pending = undefined;
        return;
      }
    }
    const r = line.includes('Running') ? RUNNING.exec(line) : null;
    if (r) {
      this.file = r[2] !== undefined ? r[1]! : r[1]!.replace(/^.*\//, '').replace(/-[0-9a-f]{16}$/, '');
      this.section = undefined;
      return;
    }
    const doc = /^\s*Doc-tests (\S+)/.exec(line);
    if (doc) {
      this.file = `doc-tests ${doc[1]!}`;
      return;
    }
    const s = line.startsWith('---- ') ? SECTION.exec(line) : null;
    if (s) {
      this.section = this.entries.findLast((e) => e.name === s[1] && e.file === this.file);
      return;
    }
    if (line === 'failures:') {
      this.section = undefined;
      return;
    }
    if (this.section) pushDetail(this.section.details, line);
  }

  finish(): ParseResult {
    const tests = new TestCollector();
    for (const e of this.entries) {
      let outcome = e.outcome;
      let message = e.message;
      if (outcome === undefined) {
        outcome = 'error';
        message = 'no result: the log ends while this test runs';
      }
      if (message === undefined && outcome === 'fail') message = panicMessage(e.details);
      tests.add(makeResult(e.file, e.name, joinedId(e.file, [e.name]), outcome, { message, details: joinDetails(e.details) }));
    }
    const out: ParseResult = { format: this.format, tests: tests.results() };
    if (this.summaries.length > 0) out.toolSummary = this.summaries.join('; ');
    return out;
  }
}

/** Rust 1.73+ prints the panic message on the line after `panicked at file:line:col:`; older ones inline it. */
function panicMessage(lines: readonly string[]): string | undefined {
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const old = /panicked at '(.*)', \S+$/.exec(l);
    if (old) return old[1];
    if (/^thread '.*' (?:\(\d+\) )?panicked at /.test(l)) return lines[i + 1]?.trim() || undefined;
  }
  return lines.find((l) => l.trim() !== '')?.trim();
}
