// Parses TAP 13 and 14, with subtests (`# Subtest:` headers and 4-space indented streams, as
// node:test's tap reporter writes them) and YAML diagnostic blocks. A test with subtests is a
// suite: only its leaves are listed, unless it failed on its own (a failing hook).

import type { TestOutcome } from './model.js';
import { cleanLine, joinDetails, pushDetail, type ParseResult, type ResultParser } from './result-parser.js';
import { TestCollector, joinedId, makeResult } from './test-collector.js';

interface Pending {
  names: string[];
  outcome: TestOutcome;
  durationMs: number | null;
  message?: string;
  details?: string;
  /** Indented lines after a failure that are not YAML: Mocha's and tape's way of diagnosing. */
  raw?: string[];
  /** A test with subtests; `hidden` until it proves to have failed on its own. */
  suite?: boolean;
  hidden?: boolean;
}

const TEST_LINE = /^(not )?ok\b(?:\s+(\d+))?(?:\s*-)?\s*(.*)$/;
const DIRECTIVE = /\s+#\s*(skip|todo)\b\S*\s*(.*)$/i;
// Any other `# …` after a description is a comment (node-tap's `# time=12.3ms`).
const COMMENT = /(?:^|\s+)(?<!\\)#\s*(.*)$/;

function yamlValue(lines: readonly string[], key: string): string | undefined {
  const prefix = `${key}:`;
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (!t.startsWith(prefix)) continue;
    let v = t.slice(prefix.length).trim();
    if (v === '|-' || v === '|' || v === '>-' || v === '>') {
      const next = lines.slice(i + 1).find((l) => l.trim() !== '');
      return next?.trim();
    }
    if (/^'.*'$/.test(v)) v = v.slice(1, -1).replace(/''/g, "'");
    else if (/^".*"$/.test(v)) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

export class TapParser implements ResultParser {
  readonly format = 'tap' as const;
  private readonly tests = new TestCollector();
  /** Finished tests per nesting level, waiting for their parent's name. */
  private readonly levels: Pending[][] = [[]];
  /** `# Subtest:` names announced per level and not yet closed by their test line. */
  private readonly announced: (string | undefined)[] = [];
  private yaml: { target: Pending; indent: number; lines: string[] } | undefined;
  private last: Pending | undefined;
  private bailed = false;
  private plan: string | undefined;

  feedLine(raw: string): void {
    try {
      this.line(cleanLine(raw));
    } catch {
      // never throw on a log line
    }
  }

  private line(line: string): void {
    if (this.bailed) return;
    let indent = 0;
    while (indent < line.length && line.charCodeAt(indent) === 32) indent++;
    const body = indent === 0 ? line : line.slice(indent);
    if (this.yaml) {
      if (body === '...' && indent === this.yaml.indent) {
        this.closeYaml();
        return;
      }
      if (indent >= this.yaml.indent || body === '') {
        pushDetail(this.yaml.lines, line.slice(this.yaml.indent));
        return;
      }
      this.closeYaml();
    }
    const level = indent >> 2;
    if (body.startsWith('ok') || body.startsWith('not ok')) {
      const m = TEST_LINE.exec(body);
      if (m) return this.result(level, m[1] !== undefined, m[3] ?? '');
    }
    if (body === '---' && this.last) {
      this.yaml = { target: this.last, indent, lines: [] };
      return;
    }
    if (body.startsWith('# Subtest')) {
      const name = body.replace(/^# Subtest:?\s*/, '');
      this.announced[level] = name;
      this.announced.length = level + 1;
      return;
    }
    if (body.startsWith('Bail out!')) {
      this.bailed = true;
      return;
    }
    if (level === 0 && /^1\.\.\d+/.test(body)) {
      this.plan = body;
      return;
    }
    const last = this.last;
    if (last && last.outcome === 'fail' && indent > 0 && !body.startsWith('#') && !/^1\.\.\d/.test(body)) {
      pushDetail((last.raw ??= []), line.slice(2));
    }
  }

  private result(level: number, failed: boolean, rest: string): void {
    this.closeYaml();
    let description = rest;
    let outcome: TestOutcome = failed ? 'fail' : 'pass';
    let message: string | undefined;
    const d = DIRECTIVE.exec(rest);
    if (d) {
      description = rest.slice(0, d.index);
      outcome = 'skip';
      message = d[2] !== '' ? d[2] : d[1]!.toUpperCase() === 'TODO' ? 'todo' : undefined;
    }
    let durationMs: number | null = null;
    const comment = d ? null : COMMENT.exec(description);
    if (comment) {
      description = description.slice(0, comment.index);
      const time = /^time=([\d.]+)(ms|s)\b/.exec(comment[1]!);
      if (time) durationMs = Number(time[1]) * (time[2] === 's' ? 1000 : 1);
    }
    description = description.replace(/\\#/g, '#').trim();
    const name = description !== '' ? description : (this.announced[level] ?? `test ${this.levels[level]?.length ?? 0}`);
    while (this.levels.length <= level + 1) this.levels.push([]);
    const children = this.levels[level + 1]!;
    this.levels[level + 1] = [];
    this.levels.length = level + 2;
    this.announced.length = level;
    const own: Pending = { names: [name], outcome, durationMs };
    if (message !== undefined) own.message = message;
    this.last = own;
    const list = this.levels[level]!;
    if (children.length > 0) {
      for (const c of children) list.push({ ...c, names: [name, ...c.names] });
      // A suite is listed only when it failed on its own, in a hook (as `keel test` does): when
      // all its tests passed, or when its diagnostics say so (node:test's failureType).
      const childFailed = children.some((c) => c.outcome === 'fail' || c.outcome === 'error');
      own.suite = true;
      own.hidden = !failed || childFailed;
      if (failed) own.outcome = 'error';
    }
    list.push(own);
  }

  private closeYaml(): void {
    const y = this.yaml;
    if (!y) return;
    this.yaml = undefined;
    const t = y.target;
    const ms = Number(yamlValue(y.lines, 'duration_ms'));
    if (Number.isFinite(ms) && yamlValue(y.lines, 'duration_ms') !== undefined) t.durationMs = ms;
    if (t.suite && t.outcome === 'error') {
      const type = yamlValue(y.lines, 'failureType');
      if (type !== undefined && type !== 'subtestsFailed') t.hidden = false;
    }
    if (t.outcome === 'fail' || (t.suite && !t.hidden)) {
      const found = yamlValue(y.lines, 'found');
      const wanted = yamlValue(y.lines, 'wanted');
      const msg = yamlValue(y.lines, 'error') ?? yamlValue(y.lines, 'message') ?? (found !== undefined && wanted !== undefined ? `found ${found}, wanted ${wanted}` : undefined);
      // node-tap names a failed assertion by what it checked: that name is the message.
      t.message = msg !== undefined && msg !== '' ? msg : t.names[t.names.length - 1];
      const details = joinDetails(y.lines);
      if (details !== undefined) t.details = details;
    }
  }

  finish(): ParseResult {
    try {
      this.closeYaml();
      // A subtest announced but never finished was running when the log ended.
      for (let level = this.announced.length - 1; level >= 0; level--) {
        const name = this.announced[level];
        if (name === undefined) continue;
        this.result(level, true, name);
        this.last!.outcome = 'error';
        this.last!.message = 'no result: the log ends while this test runs';
      }
      for (let level = this.levels.length - 1; level > 0; level--) {
        const orphans = this.levels[level]!;
        this.levels[level - 1]!.push(...orphans);
        this.levels[level] = [];
      }
      for (const p of this.levels[0] ?? []) {
        if (p.hidden) continue;
        if (p.details === undefined && p.raw) {
          const details = joinDetails(p.raw);
          if (details !== undefined) p.details = details;
          p.message ??= p.raw.find((l) => l.trim() !== '')?.trim();
        }
        this.tests.add(makeResult('', p.names.join(' > '), joinedId('', p.names), p.outcome, p));
      }
    } catch {
      // report what we have
    }
    const out: ParseResult = { format: this.format, tests: this.tests.results() };
    if (this.plan !== undefined) out.toolSummary = `plan ${this.plan}`;
    return out;
  }
}
