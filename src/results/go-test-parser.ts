// Parses `go test` output, plain and -v (`=== RUN`, `--- FAIL:`, `ok  pkg`) and -json (test2json
// events). The package is the file; a test with subtests is listed through its subtests.

import type { TestOutcome } from './model.js';
import { cleanLine, joinDetails, pushDetail, type ParseResult, type ResultParser } from './result-parser.js';
import { TestCollector, joinedId, makeResult } from './test-collector.js';

interface GoTest {
  pkg: string;
  name: string;
  outcome: TestOutcome | undefined;
  durationMs: number | null;
  output: string[];
  message?: string;
}

const RESULT = /^(\s*)--- (PASS|FAIL|SKIP): (\S+)(?: \(([\d.]+)s\))?/;
const PKG_LINE = /^(ok|FAIL|\?)\s+(\S+)(?:\s+(.*))?$/;
const OUTCOMES: Record<string, TestOutcome> = { PASS: 'pass', FAIL: 'fail', SKIP: 'skip', pass: 'pass', fail: 'fail', skip: 'skip' };

interface GoEvent {
  Action?: unknown;
  Package?: unknown;
  Test?: unknown;
  Elapsed?: unknown;
  Output?: unknown;
}

export class GoTestParser implements ResultParser {
  readonly format = 'go' as const;
  private readonly tests = new Map<string, GoTest>();
  /** Plain output names the package only at the end of its run. */
  private unassigned: GoTest[] = [];
  private running: GoTest | undefined;
  private detailsOf: GoTest | undefined;
  private panicOf: GoTest | undefined;
  private readonly packageFailures = new Map<string, string>();
  private readonly runs: GoTest[] = [];
  private buildErrors: { pkg: string; lines: string[] } | undefined;

  feedLine(raw: string): void {
    try {
      const line = cleanLine(raw);
      if (line.charCodeAt(0) === 123 /* { */ && line.includes('"Action"')) this.jsonLine(line);
      else this.plainLine(line);
    } catch {
      // never throw on a log line
    }
  }

  private test(pkg: string, name: string): GoTest {
    const key = `${pkg}\u0000${name}`;
    let t = this.tests.get(key);
    if (!t || t.outcome !== undefined) {
      // A second run of the same test (go test -count, gotestsum --rerun-fails) is a new attempt.
      t = { pkg, name, outcome: undefined, durationMs: null, output: [] };
      this.tests.set(key, t);
      this.runs.push(t);
      if (pkg === '') this.unassigned.push(t);
    }
    return t;
  }

  private plainLine(line: string): void {
    if (line.startsWith('=== RUN')) {
      this.running = this.test('', line.slice(7).trim());
      this.detailsOf = this.running;
      return;
    }
    if (line.startsWith('=== ')) return;
    const r = line.includes('--- ') ? RESULT.exec(line) : null;
    if (r) {
      const t = this.findUnassigned(r[3]!) ?? this.test('', r[3]!);
      t.outcome = OUTCOMES[r[2]!];
      if (r[4] !== undefined) t.durationMs = Math.round(Number(r[4]) * 1000);
      this.detailsOf = t;
      return;
    }
    if (line.startsWith('panic: ')) {
      const t = this.panicOf ?? this.running ?? this.detailsOf;
      if (t && t.message === undefined) {
        t.outcome = 'error';
        t.message = line;
        this.panicOf = t;
        this.detailsOf = t;
      }
    }
    const p = PKG_LINE.exec(line);
    if (p && (p[3] !== undefined || p[1] === 'FAIL')) {
      this.closePackage(p[2]!, p[1] === 'FAIL' ? (p[3] ?? 'FAIL') : undefined);
      return;
    }
    if (line === 'FAIL' || line === 'PASS') return;
    // `# pkg [pkg.test]` opens the compiler's errors for a package that will not build.
    const build = /^# (\S+)/.exec(line);
    if (build) {
      this.buildErrors = { pkg: build[1]!, lines: [] };
      return;
    }
    if (this.buildErrors && !line.startsWith('\t') && this.detailsOf === undefined) {
      pushDetail(this.buildErrors.lines, line);
      return;
    }
    if (this.detailsOf && line !== '') pushDetail(this.detailsOf.output, line.replace(/^ {4}/, ''));
  }

  private findUnassigned(name: string): GoTest | undefined {
    for (let i = this.unassigned.length - 1; i >= 0; i--) {
      const t = this.unassigned[i]!;
      if (t.name === name && t.outcome === undefined) return t;
    }
    return undefined;
  }

  private closePackage(pkg: string, failure: string | undefined): void {
    for (const t of this.unassigned) {
      this.tests.delete(`\u0000${t.name}`);
      t.pkg = pkg;
      this.tests.set(`${pkg}\u0000${t.name}`, t);
    }
    // A package that failed with no failing test failed outside them: `[build failed]`, a
    // panic in TestMain, an os.Exit. The text after the package is its reason or its time.
    const anyFailed = this.unassigned.some((t) => t.outcome === 'fail' || t.outcome === 'error');
    if (failure !== undefined && !anyFailed) {
      const compiler = this.buildErrors?.pkg === pkg ? this.buildErrors.lines : [];
      this.packageFailures.set(pkg, compiler[0] !== undefined ? `${failure}: ${compiler[0]}` : failure.replace(/^[\d.]+s$/, 'FAIL'));
    }
    if (this.buildErrors?.pkg === pkg) this.buildErrors = undefined;
    this.unassigned = [];
    this.running = undefined;
    this.detailsOf = undefined;
    this.panicOf = undefined;
  }

  private jsonLine(line: string): void {
    let e: GoEvent;
    try {
      e = JSON.parse(line) as GoEvent;
    } catch {
      return this.plainLine(line);
    }
    const pkg = typeof e.Package === 'string' ? e.Package : '';
    const action = typeof e.Action === 'string' ? e.Action : '';
    if (typeof e.Test !== 'string') {
      if (action === 'fail' && pkg !== '') {
        const anyFailed = this.runs.some((t) => t.pkg === pkg && (t.outcome === 'fail' || t.outcome === 'error'));
        if (!anyFailed) this.packageFailures.set(pkg, 'FAIL');
      }
      if (action === 'output' && typeof e.Output === 'string' && pkg !== '' && e.Output.startsWith('panic: ')) {
        const t = this.runs.findLast((x) => x.pkg === pkg);
        if (t) {
          t.outcome = 'error';
          t.message ??= e.Output.trim();
        }
      }
      return;
    }
    const key = `${pkg}\u0000${e.Test}`;
    if (action === 'run') {
      this.test(pkg, e.Test);
      return;
    }
    const t = this.tests.get(key) ?? this.test(pkg, e.Test);
    if (action === 'output' && typeof e.Output === 'string') {
      const out = e.Output.replace(/\n$/, '');
      if (out.startsWith('panic: ') && t.message === undefined) {
        t.outcome = 'error';
        t.message = out;
      }
      if (!/^(=== (RUN|PAUSE|CONT|NAME)|\s*--- (PASS|FAIL|SKIP):)/.test(out)) pushDetail(t.output, out.replace(/^ {4}/, ''));
      return;
    }
    const outcome = OUTCOMES[action];
    if (outcome) {
      if (t.outcome !== 'error') t.outcome = outcome;
      if (typeof e.Elapsed === 'number') t.durationMs = Math.round(e.Elapsed * 1000);
    }
  }

  finish(): ParseResult {
    const out = new TestCollector();
    try {
      const parents = new Set<string>();
      for (const t of this.runs) {
        const slash = t.name.lastIndexOf('/');
        for (let i = slash; i > 0; i = t.name.lastIndexOf('/', i - 1)) parents.add(`${t.pkg}\u0000${t.name.slice(0, i)}`);
      }
      for (const t of this.runs) {
        if (parents.has(`${t.pkg}\u0000${t.name}`)) continue;
        let outcome = t.outcome;
        let message = t.message;
        if (outcome === undefined) {
          outcome = 'error';
          message = 'no result: the log ends while this test runs';
        }
        const details = joinDetails(t.output);
        if (message === undefined && (outcome === 'fail' || outcome === 'skip')) message = t.output.find((l) => l.trim() !== '')?.trim();
        out.add(makeResult(t.pkg, t.name, joinedId(t.pkg, [t.name]), outcome, { durationMs: t.durationMs, message, details, attempt: 1 }));
      }
      for (const [pkg, why] of this.packageFailures) {
        out.add(makeResult(pkg, '', pkg, 'error', { message: why === 'FAIL' ? 'package failed outside any test' : why }));
      }
    } catch {
      // report what we have
    }
    return { format: this.format, tests: out.results() };
  }
}
