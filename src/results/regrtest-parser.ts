// Parses the console output of CPython's regrtest (`python -m test`): sequential and -j progress
// lines, re-runs, crashes, timeouts, env changes and leaks. Without -v a test is a file
// (`test_os`); the verbose re-run names the test methods, which then replace their file.
// `keel test` prints the same shape with node:test's spec lines and `FAIL: name` blocks; they
// are read too, so a Keel run in a plain shell step is understood like a CPython one.

import type { TestCaseResult, TestOutcome } from './model.js';
import { cleanLine, joinDetails, pushDetail, type ParseResult, type ResultParser } from './result-parser.js';
import { TestCollector, makeResult } from './test-collector.js';
import { UnittestLineReader, pythonExceptionLine, type UnittestEvent } from './python-unittest-lines.js';
import { NodeSpecParser } from './node-spec-parser.js';

interface FileAttempt {
  outcome: TestOutcome | undefined;
  message?: string;
  /** Allocated on first use: most files have none, and a long log has very many files. */
  details?: string[];
  durationMs: number | null;
  envChanged: boolean;
}

// `0:00:01 load avg: 0.84 [ 2/10/1] test_os passed -- …`: the clock and load average are optional.
const PROGRESS = /^(?:\d+:\d\d:\d\d )?(?:load avg: [\d.]+ )?\[\s*\d+(?:\/\d+)?(?:\/\d+)?\] (\S+)(.*)$/;
const TEST_FAILED = /^test (\S+) (failed|crashed)(?: -- (.*))?$/;
const FILE_STATE = /^(test\w*(?:\.\w+)*) (skipped|ran no tests|failed|crashed|passed|timed out|interrupted|leaked|did not run|worker )(.*)$/;
const SUMMARY_HEAD = /^(?:All )?\d+ (?:re-run )?tests?(?: files?)? (.*?):?$/;
// `keel test` prints a failed node:test test as `FAIL: name` and its error, with no rule above.
const KEEL_FAILURE = /^(FAIL|ERROR): (.+)$/;
const VERBOSE_START = /^\d+:\d\d:\d\d (?:load avg: [\d.]+ )?([^\s[]\S*)$/;
const SPEC_MARKS = new Set([0x2714, 0x2716, 0xfe63, 0x25b6]);
const NOT_RUN = 'test name does not match pattern';
const RUNNING = /running(?: \(\d+\))?: (.*)$/;

function durationOf(text: string): number | null {
  const m = /\((?:(\d+) min ?)?(?:([\d.]+) sec)?\)/.exec(text);
  if (!m || (m[1] === undefined && m[2] === undefined)) return null;
  return Math.round((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000);
}

function addDetail(r: FileAttempt, line: string): void {
  pushDetail((r.details ??= []), line);
}

const RANK: Record<TestOutcome, number> = { pass: 1, xfail: 1, flaky: 1, skip: 2, fail: 3, error: 4 };

/** What a state word after a file name means. */
function classify(state: string): { outcome: TestOutcome; message?: string; envChanged?: boolean } | undefined {
  const s = state.trim();
  if (s === '') return undefined;
  if (s.startsWith('passed')) return { outcome: 'pass' };
  if (s.startsWith('failed (env changed)')) return { outcome: 'pass', message: 'env changed', envChanged: true };
  if (s.startsWith('failed (uncaught exception)')) return { outcome: 'error', message: 'uncaught exception' };
  if (s.startsWith('failed (reference leak)') || s.startsWith('leaked')) return { outcome: 'fail', message: s.startsWith('leaked') ? `leaked ${s.slice(7)}` : 'reference leak' };
  if (s.startsWith('failed')) return { outcome: 'fail' };
  if (s.startsWith('skipped (resource denied)')) return { outcome: 'skip', message: 'resource denied' };
  if (s.startsWith('skipped')) return { outcome: 'skip' };
  if (s.startsWith('ran no tests') || s.startsWith('run no tests')) return { outcome: 'skip', message: 'ran no tests' };
  if (s.startsWith('crashed')) return { outcome: 'error', message: 'crashed' };
  if (s.startsWith('timed out') || s.startsWith('timeout')) return { outcome: 'error', message: s };
  if (s.startsWith('worker ')) return { outcome: 'error', message: s.replace(/\s*\(\d[\d.]* (?:sec|min)[^)]*\)$/, '') };
  if (s.startsWith('interrupted')) return { outcome: 'error', message: 'interrupted' };
  if (s.startsWith('did not run')) return { outcome: 'skip', message: 'did not run' };
  return undefined;
}

export class RegrtestParser implements ResultParser {
  readonly format = 'regrtest' as const;
  /** Per file, one record per attempt (index 0 = the first run). */
  private readonly files = new Map<string, FileAttempt[]>();
  private readonly methods = new TestCollector();
  private readonly methodFiles = new Set<string>();
  private attempt = 1;
  /** The file of the last progress line: output that follows belongs to it. */
  private current: string | undefined;
  /** Sequential mode: the file started but not yet reported. */
  private startedSeq: string | undefined;
  /** Lines of a `test X failed -- Traceback…` message being collected. */
  private capture: { file: string; lines: string[] } | undefined;
  private inSummary: string | undefined;
  private sawSummary = false;
  private running = new Set<string>();
  /** The method names a re-run was limited to: only these failed in the first run. */
  private readonly matching = new Map<string, Set<string>>();
  private result: string | undefined;
  private readonly unittest = new UnittestLineReader((e) => this.onUnittest(e));
  /** node:test spec lines of the current file (`keel test -v` and its verbose re-runs). */
  private spec: { file: string; parser: NodeSpecParser } | undefined;
  /** A `FAIL: name` block of `keel test`. */
  private keelBlock: { file: string; name: string; outcome: TestOutcome; lines: string[] } | undefined;

  feedLine(raw: string): void {
    const line = cleanLine(raw);
    try {
      this.line(line);
    } catch {
      // A parser must never break log intake; an unexpected shape is skipped.
    }
  }

  private record(file: string, attempt = this.attempt): FileAttempt {
    let list = this.files.get(file);
    if (!list) this.files.set(file, (list = []));
    while (list.length < attempt) list.push({ outcome: undefined, durationMs: null, envChanged: false });
    return list[attempt - 1]!;
  }

  private setState(file: string, c: { outcome: TestOutcome; message?: string; envChanged?: boolean }, durationMs: number | null = null, force = false): void {
    const r = this.record(file);
    if (r.outcome === undefined || RANK[c.outcome] >= RANK[r.outcome]) {
      // Keep the first explanation (the traceback's exception) unless the news is worse.
      const worse = r.outcome === undefined || RANK[c.outcome] > RANK[r.outcome];
      if (c.message !== undefined && (worse || r.message === undefined || force)) r.message = c.message;
      else if (worse && c.message === undefined) r.message = undefined;
      r.outcome = c.outcome;
    }
    if (c.envChanged) r.envChanged = true;
    if (durationMs !== null) r.durationMs = durationMs;
    this.running.delete(file);
  }

  private line(line: string): void {
    const c0 = line.charCodeAt(0);
    // Progress lines start with a digit (the clock) or `[`; check cheaply before the regex.
    if ((c0 >= 48 && c0 <= 57) || c0 === 91) {
      const m = PROGRESS.exec(line);
      if (m) {
        this.endKeel();
        return this.progress(m[1]!, m[2]!);
      }
      if (line.includes(' Re-running ') || line.startsWith('Re-running')) {
        if (/Re-running (?:\d+ )?failed tests?/.test(line)) this.startRerun();
        return;
      }
      if (/load avg|^\d+:\d\d:\d\d/.test(line) && RUNNING.test(line)) return this.noteRunning(line);
      // `keel test -v` announces a file by its bare name before its output, and reports it after.
      const start = VERBOSE_START.exec(line);
      if (start) {
        this.endKeel();
        this.current = start[1]!;
        return;
      }
    }
    if (this.capture) {
      if (line === '' || line.startsWith('== Tests result')) {
        this.endCapture();
      } else {
        pushDetail(this.capture.lines, line);
        return;
      }
    }
    if (line.startsWith('== Tests result: ')) {
      this.endKeel();
      this.resolveStarted();
      this.inSummary = '';
      this.sawSummary = true;
      return;
    }
    if (line.startsWith('Result: ')) {
      this.result = line.slice(8);
      return;
    }
    if (line.startsWith('Re-running ')) {
      this.endKeel();
      if (/^Re-running (?:\d+ )?failed tests?/.test(line)) return this.startRerun();
      const m = /^Re-running (\S+) in verbose mode(?: \(matching: (.*)\))?/.exec(line);
      if (m) {
        this.current = m[1]!;
        if (m[2] !== undefined) this.matching.set(m[1]!, new Set(m[2].split(', ')));
      }
      return;
    }
    if (this.inSummary !== undefined) return this.summaryLine(line);
    if (this.current !== undefined && this.keelLine(line, this.current)) return;
    if (this.unittest.feed(line)) return;
    let m = TEST_FAILED.exec(line);
    if (m) {
      const file = m[1]!;
      const crashed = m[2] === 'crashed';
      const text = m[3] ?? '';
      this.setState(file, { outcome: crashed ? 'error' : 'fail' });
      if (text.startsWith('Traceback')) this.capture = { file, lines: [text] };
      else if (text !== '') this.record(file).message = text;
      return;
    }
    m = FILE_STATE.exec(line);
    if (m) {
      const file = m[1]!;
      const word = m[2]!;
      const rest = m[3]!;
      if (word === 'skipped' && rest.startsWith(' -- ')) return this.setState(file, { outcome: 'skip', message: rest.slice(4) });
      const c = classify(word + rest);
      if (c) this.setState(file, c);
      return;
    }
    if (this.current !== undefined) {
      if (line.startsWith('Timeout (')) {
        this.setState(this.current, { outcome: 'error', message: line.replace(/!$/, '') }, null, true);
        addDetail(this.record(this.current), line);
        return;
      }
      if (line.startsWith('Fatal Python error: ')) {
        this.setState(this.current, { outcome: 'error', message: line });
        addDetail(this.record(this.current), line);
        return;
      }
      if (line.startsWith('Warning -- ')) {
        addDetail(this.record(this.current), line);
        return;
      }
      const leak = /^(\S+) leaked (.*)$/.exec(line);
      if (leak && leak[1] === this.current) this.setState(leak[1], { outcome: 'fail', message: `leaked ${leak[2]!}` });
    }
  }

  /** Lines of `keel test`'s own output: spec lines and `FAIL: name` blocks. */
  private keelLine(line: string, file: string): boolean {
    let i = 0;
    while (line.charCodeAt(i) === 32) i++;
    const first = line.charCodeAt(i);
    if (SPEC_MARKS.has(first) || (this.spec && (line.startsWith(' ') || line === '' || line.startsWith('ℹ ')))) {
      this.endKeelBlock();
      if (!this.spec || this.spec.file !== file) {
        this.endSpec();
        this.spec = { file, parser: new NodeSpecParser() };
      }
      this.spec.parser.feedLine(line);
      return true;
    }
    const f = line.charCodeAt(0) === 70 /* F */ || line.charCodeAt(0) === 69 /* E */ ? KEEL_FAILURE.exec(line) : null;
    if (f && !/ \([\w.]+\)/.test(f[2]!)) {
      this.endKeel();
      this.keelBlock = { file, name: f[2]!, outcome: f[1] === 'ERROR' ? 'error' : 'fail', lines: [] };
      return true;
    }
    if (this.keelBlock) {
      pushDetail(this.keelBlock.lines, line);
      return true;
    }
    return false;
  }

  private endKeel(): void {
    this.endKeelBlock();
    this.endSpec();
  }

  private endKeelBlock(): void {
    const b = this.keelBlock;
    if (!b) return;
    this.keelBlock = undefined;
    const message = b.lines.find((l) => l.trim() !== '')?.trim();
    const existing = this.methods.get(`${b.file} > ${b.name}`);
    if (existing && existing.attempt === this.attempt) {
      // keel test repeats a re-run's failure after its spec lines: the same attempt, told twice.
      existing.details ??= joinDetails(b.lines);
      existing.message ??= message;
      return;
    }
    this.addMethod(b.file, b.name, b.outcome, message, joinDetails(b.lines), b.name, ' > ');
  }

  private endSpec(): void {
    const s = this.spec;
    if (!s) return;
    this.spec = undefined;
    for (const t of s.parser.finish().tests) {
      // A re-run runs only the failed tests; node:test reports the others as skipped.
      if (t.outcome === 'skip' && t.message === NOT_RUN) continue;
      const leaf = t.name.slice(t.name.lastIndexOf(' > ') + 1).trim();
      this.addMethod(s.file, t.name, t.outcome, t.message, t.details, leaf, ' > ');
    }
  }

  private noteRunning(text: string): void {
    const r = RUNNING.exec(text);
    if (r) this.running = new Set(r[1]!.split(', ').map((s) => s.replace(/ \(.*$/, '')).filter((s) => s !== ''));
  }

  private progress(file: string, rest: string): void {
    this.endCapture();
    this.inSummary = undefined;
    const dash = rest.indexOf(' -- ');
    const own = dash === -1 ? rest : rest.slice(0, dash);
    const tail = dash === -1 ? '' : rest.slice(dash + 4);
    // Sequential mode reports the previous file after ` -- `; -j mode reports this file.
    // 3.12+ -j lines end with the files still running: ` -- running (2): test_a (31 sec), …`.
    if (tail.startsWith('running')) this.noteRunning(tail);
    const prev = /^(\S+) (.*)$/.exec(tail);
    if (prev && !prev[1]!.startsWith('running') && this.files.has(prev[1]!)) {
      const c = classify(prev[2]!);
      if (c) this.setState(prev[1]!, c, durationOf(prev[2]!));
    }
    this.resolveStarted();
    this.current = file;
    const c = classify(own);
    if (c) {
      this.setState(file, c, durationOf(own));
    } else {
      this.record(file);
      this.startedSeq = file;
    }
  }

  /** A sequential file with no bad news by the time the next one starts has passed. */
  private resolveStarted(): void {
    const s = this.startedSeq;
    if (s === undefined) return;
    this.startedSeq = undefined;
    const r = this.record(s);
    if (r.outcome === undefined) r.outcome = 'pass';
  }

  private startRerun(): void {
    this.resolveStarted();
    this.inSummary = undefined;
    this.attempt = 2;
  }

  private endCapture(): void {
    const c = this.capture;
    if (!c) return;
    this.capture = undefined;
    const r = this.record(c.file);
    const msg = pythonExceptionLine(c.lines);
    if (msg !== undefined) r.message = msg;
    for (const l of c.lines) addDetail(r, l);
  }

  private summaryLine(line: string): void {
    if (line.startsWith('    ')) {
      const names = line.trim().split(/\s+/);
      const head = this.inSummary ?? '';
      for (const name of names) {
        if (!/^[\w.]+$/.test(name)) continue;
        if (head.startsWith('failed')) {
          const r = this.record(name, this.files.get(name)?.length ?? this.attempt);
          if (r.outcome === undefined || RANK[r.outcome] < RANK.fail) r.outcome = 'fail';
        } else if (head.startsWith('skipped') || head.startsWith('run no tests')) {
          const r = this.record(name, Math.max(1, this.files.get(name)?.length ?? 1));
          if (r.outcome === undefined) {
            r.outcome = 'skip';
            r.message = head.includes('resource denied') ? 'resource denied' : head.startsWith('run no') ? 'ran no tests' : undefined;
          }
        } else if (head.includes('env changed')) {
          const r = this.record(name, Math.max(1, this.files.get(name)?.length ?? 1));
          r.envChanged = true;
          if (r.outcome === undefined) r.outcome = 'pass';
        }
      }
      return;
    }
    const m = SUMMARY_HEAD.exec(line);
    if (m) this.inSummary = m[1]!;
    else if (line !== '') this.inSummary = '';
  }

  private onUnittest(e: UnittestEvent): void {
    const file = this.current;
    if (file === undefined) return;
    // CPython's own tests have ids like `test.test_os.FileTests.test_write` for file `test_os`.
    const at = e.id.startsWith(file + '.') ? 0 : e.id.indexOf(`.${file}.`) + 1;
    const name = at > 0 || e.id.startsWith(file + '.') ? e.id.slice(at + file.length + 1) : e.id;
    const existing = this.methods.get(`${file}.${name}`);
    if ((e.fromBlock || e.subtest) && existing && existing.attempt === this.attempt) {
      // A block repeats a verbose result line with its traceback; a subTest adds to its test.
      if (e.message !== undefined && (e.fromBlock || existing.message === undefined)) existing.message = e.message;
      if (e.details !== undefined) existing.details = e.details;
      if (existing.outcome === 'pass' || (existing.outcome === 'fail' && e.outcome === 'error')) existing.outcome = e.outcome;
      return;
    }
    this.addMethod(file, name, e.outcome, e.message, e.details, e.method);
  }

  /** Records a test inside a file; `method` is what a re-run's `matching:` list would name. */
  private addMethod(file: string, name: string, outcome: TestOutcome, message: string | undefined, details: string | undefined, method: string, sep = '.'): void {
    const id = `${file}${sep}${name}`;
    this.methodFiles.add(file);
    if (this.attempt > 1 && !this.methods.has(id)) {
      // regrtest matches bare method names, so a module named like its failed method re-runs
      // all its methods; only the named ones failed. Without a list (a single-process re-run),
      // the first run's traceback names the method.
      const first = this.files.get(file)?.[0];
      const only = this.matching.get(file);
      const frames = first?.details?.filter((l) => l.startsWith('  File ')) ?? [];
      const failedBefore = only !== undefined
        ? only.has(method) || only.has(name) || only.has(name.split('.')[0] ?? '')
        : frames.length === 0 || frames.some((l) => l.endsWith(`, in ${method}`));
      if ((first?.outcome === 'fail' || first?.outcome === 'error') && failedBefore) {
        this.methods.add(makeResult(file, name, id, 'fail', { message: first.message, details: joinDetails(first.details ?? []), attempt: 1 }));
      }
    }
    this.methods.add(makeResult(file, name, id, outcome, { message, details, attempt: this.attempt }));
  }

  finish(): ParseResult {
    try {
      this.endCapture();
      this.endKeel();
      this.unittest.finish();
    } catch {
      // finish() reports what it has, whatever state the log left it in.
    }
    if (this.startedSeq !== undefined) {
      const r = this.record(this.startedSeq, this.files.get(this.startedSeq)?.length ?? 1);
      if (r.outcome === undefined && this.sawSummary) r.outcome = 'pass';
    }
    // -j prints only finished files; the `running:` line names those a killed build cut short.
    if (!this.sawSummary) for (const name of this.running) if (!this.files.has(name)) this.record(name);
    // Most files ran once: only re-run ones go through a collector that folds attempts.
    const files: TestCaseResult[] = [];
    for (const [file, attempts] of this.files) {
      const rerun = attempts.length > 1 ? new TestCollector() : undefined;
      for (let i = 0; i < attempts.length; i++) {
        const a = attempts[i]!;
        let outcome = a.outcome;
        let message = a.message;
        if (outcome === undefined) {
          if (this.sawSummary && !this.running.has(file)) continue;
          outcome = 'error';
          message = 'no result: the log ends while this test runs';
        }
        if (a.envChanged && message === undefined) message = 'env changed';
        const r = makeResult(file, '', file, outcome, { durationMs: a.durationMs, message, details: a.details && joinDetails(a.details), attempt: i + 1 });
        if (rerun) rerun.add(r);
        else files.push(r);
      }
      if (rerun) files.push(...rerun.results());
    }
    const tests: TestCaseResult[] = [];
    const methodsByFile = new Map<string, TestCaseResult[]>();
    for (const t of this.methods.results()) {
      const list = methodsByFile.get(t.file);
      if (list) list.push(t);
      else methodsByFile.set(t.file, [t]);
    }
    for (const f of files) {
      const methods = methodsByFile.get(f.file);
      if (methods) tests.push(...methods);
      else tests.push(f);
    }
    for (const [file, methods] of methodsByFile) if (!this.files.has(file)) tests.push(...methods);
    const out: ParseResult = { format: this.format, tests };
    if (this.result !== undefined) out.toolSummary = this.result;
    return out;
  }
}
