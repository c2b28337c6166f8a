// `keel test --junit-xml FILE`: JUnit XML as Jenkins, GitLab and Maven Surefire read it. One
// <testsuite> per test file, crashed and timed-out files included as errors, and flaky tests
// written the way Surefire writes them (<flakyFailure>, <rerunFailure>).
import { renameSync, writeFileSync } from 'node:fs';
import type { RunReport, RunTestResult } from './run-report.js';

// XML 1.0 allows only these characters; test output can hold anything.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlEscape(text: string): string {
  return text
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function errorType(t: { message?: string; details?: string }): string {
  const first = (t.details ?? t.message ?? '').split('\n', 1)[0] ?? '';
  return /^([\w$.]+(?: \[[A-Z0-9_]+\])?):/.exec(first)?.[1] ?? 'Error';
}

const seconds = (ms: number | null) => ((ms ?? 0) / 1000).toFixed(3);

function testcase(t: RunTestResult, classname: string): string {
  const attrs = `name="${xmlEscape(t.name || classname)}" classname="${xmlEscape(classname)}" time="${seconds(t.durationMs)}"`;
  const body: string[] = [];
  const problem = (tag: string, p: { message?: string; details?: string }, nested: boolean) => {
    const head = `<${tag} message="${xmlEscape(p.message ?? '')}" type="${xmlEscape(errorType(p))}"`;
    const text = xmlEscape(p.details ?? p.message ?? '');
    return nested ? `${head}><stackTrace>${text}</stackTrace></${tag}>` : `${head}>${text}</${tag}>`;
  };
  const earlier = t.earlierFailures ?? [];
  switch (t.outcome) {
    case 'skip':
      body.push(`<skipped message="${xmlEscape(t.message ?? '')}"/>`);
      break;
    case 'flaky':
      for (const f of earlier) body.push(problem('flakyFailure', f, true));
      break;
    case 'fail':
    case 'error': {
      const tag = t.outcome === 'fail' ? 'failure' : 'error';
      const [firstFailure, ...more] = [...earlier, { message: t.message, details: t.details } as { message?: string; details?: string }];
      body.push(problem(tag, firstFailure!, false));
      for (const f of more) body.push(problem(t.outcome === 'fail' ? 'rerunFailure' : 'rerunError', f, true));
      break;
    }
    default:
      break;
  }
  return body.length ? `    <testcase ${attrs}>\n      ${body.join('\n      ')}\n    </testcase>` : `    <testcase ${attrs}/>`;
}

export function junitXml(report: RunReport): string {
  const byFile = new Map<string, RunTestResult[]>();
  for (const f of report.files) byFile.set(f.name, []);
  for (const t of report.tests) byFile.get(t.file)?.push(t);
  const suites: string[] = [];
  let total = 0;
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  for (const file of report.files) {
    const tests = byFile.get(file.name) ?? [];
    const f = tests.filter((t) => t.outcome === 'fail').length;
    const e = tests.filter((t) => t.outcome === 'error').length;
    const s = tests.filter((t) => t.outcome === 'skip').length;
    total += tests.length;
    failures += f;
    errors += e;
    skipped += s;
    const time = file.attempts.reduce((sum, a) => sum + a.durationMs, 0);
    const cases = tests.map((t) => testcase(t, file.name));
    suites.push(
      `  <testsuite name="${xmlEscape(file.name)}" tests="${tests.length}" failures="${f}" errors="${e}" skipped="${s}" time="${seconds(time)}" timestamp="${report.startedAt}" file="${xmlEscape(file.path)}">` +
        (cases.length ? `\n${cases.join('\n')}\n  </testsuite>` : '\n  </testsuite>'),
    );
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="keel test" tests="${total}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${seconds(report.durationMs)}" timestamp="${report.startedAt}">\n` +
    suites.join('\n') +
    (suites.length ? '\n' : '') +
    '</testsuites>\n'
  );
}

export function writeJunitReport(file: string, report: RunReport): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, junitXml(report));
  renameSync(tmp, file);
}
