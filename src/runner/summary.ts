// The summary at the end of `keel test`, in regrtest's order and words, closing with the two
// lines every CI log reader greps for: `Result: …` and `Tests: N passed, N failed, N skipped`.
import { FAILING_STATES, type FileRun, type FileState } from './file-result.js';
import { formatDuration, plural, wrapNames } from './format.js';
import { testTotals, type FileReport, type RunReport } from './run-report.js';

type Out = (line?: string) => void;

function listBlock(out: Out, names: string[], heading: (n: number) => string) {
  if (!names.length) return;
  out();
  out(heading(names.length));
  out(wrapNames([...names].sort()));
}

function filesIn(files: { name: string; state: FileState }[], ...states: FileState[]) {
  return files.filter((f) => states.includes(f.state)).map((f) => f.name);
}

/** The short result printed after the first pass, before a re-run starts. */
export function printPassResult(out: Out, stateText: string, runs: FileRun[], omitted: string[]) {
  out();
  out(`== Tests result: ${stateText} ==`);
  listBlock(out, omitted, (n) => `${plural(n, 'test file')} omitted:`);
  listBlock(out, runs.filter((r) => FAILING_STATES.has(r.state) && r.state !== 'leaked').map((r) => r.name), (n) => `${plural(n, 'test file')} failed:`);
  listBlock(out, filesIn(runs, 'leaked'), (n) => `${plural(n, 'test file')} leaked:`);
  const ok = runs.filter((r) => r.state === 'passed').length;
  if (ok) {
    out();
    out(`${plural(ok, 'test file')} OK.`);
  }
  out();
}

export interface SummaryOptions {
  slowest: number;
  interrupted: boolean;
  /** The signal that interrupted the run, when one did. */
  interruptSignal?: string;
  failEnvChanged: boolean;
  firstStateText: string;
  secondStateText: string | null;
}

export function printSummary(out: Out, report: RunReport, o: SummaryOptions) {
  const files = report.files;
  const stateLine = o.secondStateText ? `${o.firstStateText} then ${o.secondStateText}` : o.firstStateText;
  out();
  out(`== Tests result: ${stateLine} ==`);
  listBlock(out, report.omitted, (n) => `${plural(n, 'test file')} omitted:`);
  const failed = files.filter((f) => FAILING_STATES.has(f.state) && f.state !== 'leaked').map((f) => f.name);
  listBlock(out, failed, (n) => `${plural(n, 'test file')} failed:`);
  const leaked = filesIn(files, 'leaked');
  listBlock(out, leaked, (n) => `${plural(n, 'test file')} leaked:`);
  const envChanged = files.filter((f) => f.attempts.some((a) => a.envChanges.length > 0)).map((f) => f.name);
  listBlock(out, envChanged, (n) => `${plural(n, 'test file')} altered the execution environment (env changed):`);
  const rerun = files.filter((f) => f.attempts.length > 1).map((f) => f.name);
  listBlock(out, rerun, (n) => `${plural(n, 're-run test file')}:`);
  listBlock(out, filesIn(files, 'skipped'), (n) => `${plural(n, 'test file')} skipped:`);
  listBlock(out, filesIn(files, 'resource denied'), (n) => `${plural(n, 'test file')} skipped (resource denied):`);
  listBlock(out, filesIn(files, 'no tests ran'), (n) => `${plural(n, 'test file')} ran no tests:`);

  const ok = files.filter((f) => f.state === 'passed').length;
  if (ok) {
    out();
    const everyone = ok === files.length && report.omitted.length === 0 && files.length > 1;
    out(everyone ? `All ${plural(ok, 'test file')} OK.` : `${plural(ok, 'test file')} OK.`);
  }

  if (o.slowest > 0 && files.length) {
    const slow = [...files].sort((a, b) => firstDuration(b) - firstDuration(a)).slice(0, o.slowest);
    out();
    out(`${Math.min(o.slowest, files.length)} slowest test files:`);
    for (const f of slow) out(`- ${f.name}: ${formatDuration(firstDuration(f) / 1000)}`);
  }

  if (o.interrupted) {
    out();
    out(`Test suite interrupted by signal ${o.interruptSignal ?? 'SIGINT'}.`);
  }
  if (report.iterations > 1) {
    out();
    out(`Ran the test files ${report.iterations} times (--forever); the summary is of the last run.`);
  }

  const t = testTotals(report);
  const filteredNote = report.filtered ? ' (filtered)' : '';
  out();
  out(`Total duration: ${formatDuration(report.durationMs / 1000)}`);
  out(`Total tests: run=${t.run} failures=${t.failures} skipped=${t.skipped} flaky=${t.flaky}${filteredNote}`);
  const fileCounts: string[] = [`run=${files.length}/${files.length + report.omitted.length}${filteredNote}`];
  const add = (label: string, n: number) => {
    if (n) fileCounts.push(`${label}=${n}`);
  };
  add('failed', failed.length);
  add('leaked', leaked.length);
  add('env_changed', envChanged.length);
  add('skipped', filesIn(files, 'skipped').length);
  add('resource_denied', filesIn(files, 'resource denied').length);
  add('rerun', rerun.length);
  add('run_no_tests', filesIn(files, 'no tests ran').length);
  out(`Total test files: ${fileCounts.join(' ')}`);
  out(`Result: ${report.result}`);
  out(`Tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
}

function firstDuration(f: FileReport): number {
  return f.attempts[0]?.durationMs ?? 0;
}
