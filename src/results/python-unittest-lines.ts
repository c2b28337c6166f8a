// Reads the lines unittest prints, for the unittest and regrtest parsers alike: verbose result
// lines (`test_x (mod.Class.test_x) ... ok`) and the FAIL:/ERROR: blocks with their tracebacks.

import type { TestOutcome } from './model.js';
import { joinDetails, pushDetail } from './result-parser.js';

export interface UnittestEvent {
  /** The dotted unittest id, e.g. `test_os.FileTests.test_write`. */
  id: string;
  /** The method name as printed before the parentheses. */
  method: string;
  outcome: TestOutcome;
  message?: string;
  details?: string;
  /** true for a FAIL:/ERROR: block, which may repeat a result already seen on a verbose line. */
  fromBlock: boolean;
  /** true for one subTest's line: it adds to its test's result rather than being a new run. */
  subtest?: boolean;
}

// `test_x (mod.Class.test_x) ... ok`; a subTest's line is indented and adds `(i=1)`.
const RESULT_LINE = /^\s*(\S+) \(([\w.]+)\)( \(.*\))? \.\.\. ?(.*)$/;
const BLOCK_HEAD = /^(FAIL|ERROR|UNEXPECTED SUCCESS): (\S+) \(([\w.]+)\)/;
const RULE_EQ = '======================================================================';
const RULE_DASH = '----------------------------------------------------------------------';

/** unittest's id: 3.11+ prints the full id in parentheses; older versions print the class only. */
function fullId(method: string, paren: string): string {
  return paren.endsWith('.' + method) ? paren : `${paren}.${method}`;
}

function verdict(text: string): { outcome: TestOutcome; message?: string } | undefined {
  if (text === 'ok') return { outcome: 'pass' };
  if (text === 'FAIL') return { outcome: 'fail' };
  if (text === 'ERROR') return { outcome: 'error' };
  if (text === 'expected failure') return { outcome: 'xfail' };
  if (text === 'unexpected success') return { outcome: 'fail', message: 'unexpected success' };
  if (text.startsWith('skipped')) {
    const reason = text.slice(7).trim().replace(/^'(.*)'$/, '$1');
    return reason ? { outcome: 'skip', message: reason } : { outcome: 'skip' };
  }
  return undefined;
}

/**
 * The exception line of a Python traceback: the first unindented line after the last frame,
 * which keeps `AssertionError: 1 != 2` and drops the frames and the diff that may follow it.
 */
export function pythonExceptionLine(lines: readonly string[]): string | undefined {
  let lastFrame = -1;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.startsWith('  File ')) lastFrame = i;
  for (let i = lastFrame + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l !== '' && !l.startsWith(' ') && !l.startsWith('Traceback (')) return l.trim();
  }
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.trim() !== '') return lines[i]!.trim();
  return undefined;
}

/**
 * Splits a dotted unittest id into module and the rest: the module ends before the first
 * capitalised part (the TestCase class), as Python's naming conventions have it.
 */
export function splitPythonId(id: string): { file: string; name: string } {
  const parts = id.split('.');
  let i = parts.findIndex((p, k) => k > 0 && /^[A-Z_]/.test(p));
  if (i === -1) i = Math.max(1, parts.length - 1);
  return { file: parts.slice(0, i).join('.'), name: parts.slice(i).join('.') };
}

/** Feeds on lines; reports each result and each failure block through `emit`. */
export class UnittestLineReader {
  private pending: { id: string; method: string } | undefined;
  private block: { id: string; method: string; outcome: TestOutcome; lines: string[]; pastRule: boolean; unexpected: boolean } | undefined;
  private lastLineWasRule = false;
  /** The `Ran N tests` + `OK`/`FAILED (…)` lines, when seen. */
  summary: string | undefined;
  private sawRan = false;

  constructor(private readonly emit: (event: UnittestEvent) => void) {}

  /** Returns true when the line was unittest's, so a host parser can skip its own checks. */
  feed(line: string): boolean {
    if (this.block) {
      // An UNEXPECTED SUCCESS block has no traceback: its closing rule is the one under its title.
      if (line.startsWith('Ran ') && /^Ran \d+ tests? in /.test(line)) this.closeBlock();
      else if (line === RULE_EQ || line === RULE_DASH) {
        if (!this.block.pastRule && line === RULE_DASH) {
          this.block.pastRule = true;
          return true;
        }
        this.closeBlock();
        this.lastLineWasRule = line === RULE_EQ;
        return true;
      } else {
        pushDetail(this.block.lines, line);
        return true;
      }
    }
    if (line === RULE_EQ) {
      this.lastLineWasRule = true;
      return true;
    }
    const wasRule = this.lastLineWasRule;
    this.lastLineWasRule = false;
    if (wasRule) {
      const m = BLOCK_HEAD.exec(line);
      if (m) {
        const kind = m[1]!;
        const method = m[2]!;
        this.block = {
          id: fullId(method, m[3]!),
          method,
          outcome: kind === 'ERROR' ? 'error' : 'fail',
          lines: [],
          pastRule: false,
          unexpected: kind === 'UNEXPECTED SUCCESS',
        };
        return true;
      }
    }
    if (this.pending) {
      const v = verdict(line.trim());
      if (v) {
        this.emit({ ...this.pending, ...v, fromBlock: false });
        this.pending = undefined;
        return true;
      }
    }
    if (line.includes(' ... ')) {
      const m = RESULT_LINE.exec(line);
      if (m) {
        const method = m[1]!;
        const id = fullId(method, m[2]!);
        const text = m[4]!.trim();
        const v = verdict(text);
        if (m[3] !== undefined) {
          // A failed subTest: its test's own line will get no verdict of its own.
          if (this.pending?.id === id) this.pending = undefined;
          if (v) this.emit({ id, method, ...v, fromBlock: false, subtest: true });
        } else if (v) this.emit({ id, method, ...v, fromBlock: false });
        else this.pending = { id, method };
        return true;
      }
    }
    if (line.startsWith('Ran ') && /^Ran \d+ tests? in /.test(line)) {
      this.sawRan = true;
      this.summary = line;
      return true;
    }
    if (this.sawRan && (line === 'OK' || line.startsWith('OK (') || line.startsWith('FAILED ('))) {
      this.summary = `${this.summary ?? ''}; ${line}`.replace(/^; /, '');
      this.sawRan = false;
      return true;
    }
    return false;
  }

  /** Closes an open failure block (the log may end inside one). */
  finish(): void {
    this.closeBlock();
    if (this.pending) {
      this.emit({ ...this.pending, outcome: 'error', message: 'no result: the log ends while this test runs', fromBlock: false });
      this.pending = undefined;
    }
  }

  private closeBlock(): void {
    const b = this.block;
    if (!b) return;
    this.block = undefined;
    const details = joinDetails(b.lines);
    const message = pythonExceptionLine(b.lines);
    const event: UnittestEvent = { id: b.id, method: b.method, outcome: b.outcome, fromBlock: true };
    if (b.unexpected) event.message = 'unexpected success';
    else if (message !== undefined) event.message = message;
    if (details !== undefined) event.details = details;
    this.emit(event);
  }
}
