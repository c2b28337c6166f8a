// `keel test`: chooses the files, runs each in its own process on a pool of workers, prints
// regrtest-style progress, re-runs failures, and closes with the summary.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { discoverTests, readNameList, selectTests, parseShard, shardTests, shuffle } from './discover.js';
import { FAILING_STATES, type FileRun } from './file-result.js';
import { formatDuration, plural, progressPrefix } from './format.js';
import { buildNameFilter, exactNameFilter, type NameFilter } from './name-filter.js';
import { passState, verdict, type RunVerdict } from './run-state.js';
import { buildRunReport, type RunReport } from './run-report.js';
import { printSummary, printPassResult } from './summary.js';
import { runTestProcess, type TestFile } from './test-process.js';
import { writeJsonReport } from './json-report.js';
import { writeJunitReport } from './junit-report.js';
import { LiveStatus } from './live-status.js';
import { applyLeakVerdict, describeSamples, type HuntSpec } from './hunt-leaks.js';

export interface RunnerOptions {
  cwd: string;
  testDir: string;
  tests: string[];
  exclude: boolean;
  fromFile?: string;
  /** Worker processes; null runs one file at a time; 0 uses one per CPU. */
  jobs: number | null;
  timeoutSec: number | null;
  rerun: boolean;
  failRerun: boolean;
  failEnvChanged: boolean;
  randomize: boolean;
  seed?: number;
  match: string[];
  ignore: string[];
  matchFile?: string;
  resources: string[];
  shard?: string;
  verbose: boolean;
  quiet: boolean;
  slowest: number;
  forever: boolean;
  junitXml?: string;
  json?: string;
  nodeArgs: string[];
  /** -R W:R: run each file's tests W+R times in one process and report what grew. */
  huntLeaks?: HuntSpec;
  /** Where the run's text goes; the CLI passes stdout. */
  write: (text: string) => void;
  /** A terminal's width, when `write` goes to one: a live status line names the running files. */
  liveStatusColumns?: () => number;
  /** Aborting it interrupts the run (Ctrl-C): running files are killed, the rest omitted. */
  signal?: AbortSignal;
  /** How often to name files that have been running long; regrtest's 30 s. */
  runningNoticeSec?: number;
}

export interface RunResult extends RunVerdict {
  report: RunReport;
}

const SLOW_FILE_SEC = 1;

export async function runTests(options: RunnerOptions): Promise<RunResult> {
  const startedAt = performance.now();
  // Sequential -v streams each file's output as it comes: a status line would cut through it.
  const status =
    options.liveStatusColumns && !(options.verbose && (options.jobs === null || options.jobs === 1))
      ? new LiveStatus(options.write, options.liveStatusColumns)
      : undefined;
  const opts: RunnerOptions = status ? { ...options, write: status.write } : options;
  const startedWall = new Date();
  const out = (line = '') => opts.write(line + '\n');

  const testDir = path.resolve(opts.cwd, opts.testDir);
  const all = discoverTests(testDir);
  const names = [...opts.tests, ...(opts.fromFile ? readNameList(path.resolve(opts.cwd, opts.fromFile)) : [])];
  let files = selectTests(all, { names, exclude: opts.exclude });
  if (opts.shard) files = shardTests(files, parseShard(opts.shard));
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (opts.randomize) files = shuffle(files, seed);

  const match = [...opts.match, ...(opts.matchFile ? readNameList(path.resolve(opts.cwd, opts.matchFile)) : [])];
  const filter = buildNameFilter({ match, ignore: opts.ignore });
  const filtered = match.length > 0 || opts.ignore.length > 0;
  const jobs = opts.jobs === null ? 1 : opts.jobs === 0 ? availableParallelism() : opts.jobs;
  const sequential = opts.jobs === null || jobs === 1;

  out(`== Node.js ${process.version} (${process.platform} ${process.arch})`);
  out(`== cwd: ${opts.cwd}`);
  out(`== CPU count: ${availableParallelism()}`);
  out(`== test directory: ${testDir}`);
  if (opts.randomize) out(`Using random seed: ${seed}`);
  if (opts.huntLeaks) {
    const { warmups, runs } = opts.huntLeaks;
    out(`Hunting leaks: each file's tests run ${warmups + runs} times in one process (${plural(warmups, 'warm-up run')}, then ${plural(runs, 'counted run')})`);
  }
  const timeoutText = opts.timeoutSec !== null ? ` (timeout: ${formatDuration(opts.timeoutSec)})` : '';
  const count = opts.forever ? 'test files' : plural(files.length, 'test file');
  out(
    `${progressPrefix(startedAt)} Run ${count} ${sequential ? 'sequentially' : `in parallel using ${plural(jobs, 'worker process', 'worker processes')}`}${timeoutText}`,
  );

  const firstRuns: FileRun[] = [];
  let iteration = 0;
  let filesRun = 0;
  let interrupted = false;
  // First pass, repeated with --forever until something fails.
  do {
    iteration++;
    const runs = await runPass({
      opts,
      startedAt,
      jobs,
      sequential,
      files,
      filter,
      attempt: 1,
      counterBase: opts.forever ? filesRun : undefined,
      status,
    });
    filesRun += runs.runs.length;
    interrupted = runs.interrupted;
    if (opts.forever) {
      // Keep only the last iteration's runs, so the summary does not add up tests across loops.
      firstRuns.length = 0;
    }
    firstRuns.push(...runs.runs);
  } while (opts.forever && !interrupted && !firstRuns.some((r) => FAILING_STATES.has(r.state)));

  const first = passState({ runs: firstRuns, interrupted, failEnvChanged: opts.failEnvChanged });
  const omitted = files.filter((f) => !firstRuns.some((r) => r.name === f.name && r.state !== 'interrupted')).map((f) => f.name);

  const toRerun = opts.rerun && !interrupted ? firstRuns.filter((r) => FAILING_STATES.has(r.state)) : [];
  let rerunRuns: FileRun[] = [];
  let second: ReturnType<typeof passState> | null = null;
  if (toRerun.length) {
    printPassResult(out, first.text, firstRuns, omitted);
    out(`${progressPrefix(startedAt)} Re-running ${plural(toRerun.length, 'failed test file')} in verbose mode in subprocesses`);
    const rerunFiles = toRerun.map((r) => ({ name: r.name, path: r.path }));
    out(
      `${progressPrefix(startedAt)} Run ${plural(rerunFiles.length, 'test file')} in parallel using ${plural(Math.min(jobs, rerunFiles.length), 'worker process', 'worker processes')}`,
    );
    const result = await runPass({
      opts,
      startedAt,
      jobs,
      sequential: false,
      files: rerunFiles,
      filter,
      attempt: 2,
      status,
      rerunFilters: new Map(toRerun.map((r) => [r.name, rerunSelection(r)])),
      suitesOf: new Map(toRerun.map((r) => [r.name, new Set(r.suites)])),
    });
    rerunRuns = result.runs;
    second = passState({ runs: rerunRuns, interrupted: result.interrupted, failEnvChanged: opts.failEnvChanged });
    interrupted ||= result.interrupted;
  }

  const v = verdict(first, second, opts.failRerun);
  const report = buildRunReport({
    startedAt: startedWall,
    durationMs: performance.now() - startedAt,
    seed: opts.randomize ? seed : null,
    verdict: v,
    firstRuns,
    rerunRuns,
    omitted,
    filtered,
    iterations: opts.forever ? iteration : 1,
  });
  const reason: unknown = opts.signal?.reason;
  printSummary(out, report, {
    slowest: opts.slowest,
    interrupted,
    ...(typeof reason === 'string' ? { interruptSignal: reason } : {}),
    failEnvChanged: opts.failEnvChanged,
    firstStateText: first.text,
    secondStateText: second?.text ?? null,
  });
  if (opts.json) writeJsonReport(path.resolve(opts.cwd, opts.json), report);
  if (opts.junitXml) writeJunitReport(path.resolve(opts.cwd, opts.junitXml), report);
  return { ...v, report };
}

/** The exact tests to re-run in a failed file, or null to re-run the whole file. */
function rerunSelection(run: FileRun): string[][] | null {
  if (run.state !== 'failed') return null;
  const failed = run.tests.filter((t) => t.outcome === 'fail' || t.outcome === 'error').map((t) => t.names);
  return failed.length && failed.every((n) => n.length > 0) ? failed : null;
}

interface PassOptions {
  opts: RunnerOptions;
  startedAt: number;
  jobs: number;
  sequential: boolean;
  files: TestFile[];
  filter: NameFilter;
  attempt: number;
  /** With --forever: how many files ran before this pass, for the running counter. */
  counterBase?: number | undefined;
  rerunFilters?: Map<string, string[][] | null>;
  suitesOf?: Map<string, Set<string>>;
  status?: LiveStatus | undefined;
}

async function runPass(p: PassOptions): Promise<{ runs: FileRun[]; interrupted: boolean }> {
  const { opts } = p;
  const out = (line = '') => opts.write(line + '\n');
  const runs: FileRun[] = [];
  const active = new Map<string, number>();
  let next = 0;
  let failedCount = 0;
  const total = p.files.length;
  const width = String(total).length;
  const live = p.sequential && opts.verbose;

  const noticeEvery = (opts.runningNoticeSec ?? 30) * 1000;
  const notice = setInterval(() => {
    const now = performance.now();
    const long = [...active].filter(([, since]) => now - since >= noticeEvery);
    if (long.length) {
      out(`${progressPrefix(p.startedAt)} running (${long.length}): ${long.map(([n, since]) => `${n} (${formatDuration((now - since) / 1000)})`).join(', ')}`);
    }
  }, noticeEvery);
  notice.unref();

  const showStatus = () => {
    if (!p.status) return;
    const now = performance.now();
    const names = [...active].map(([n, since]) => `${n} (${formatDuration((now - since) / 1000)})`);
    if (!names.length) return p.status.clear();
    const done = runs.length + (p.counterBase ?? 0);
    const counter = p.counterBase !== undefined ? `[${done}]` : `[${done}/${total}${failedCount ? `/${failedCount}` : ''}]`;
    p.status.show(`${progressPrefix(p.startedAt)} ${counter} running (${names.length}): ${names.join(', ')}`);
  };
  const ticker = p.status ? setInterval(showStatus, 1000) : undefined;
  ticker?.unref();

  const runOne = async (file: TestFile) => {
    const rerunOnly = p.rerunFilters?.get(file.name);
    const filter = rerunOnly ? exactNameFilter(rerunOnly, p.suitesOf?.get(file.name)) : p.filter;
    active.set(file.name, performance.now());
    showStatus();
    if (live) out(`${progressPrefix(p.startedAt)} ${file.name}`);
    const run = await runTestProcess(file, {
      cwd: opts.cwd,
      nodeArgs: opts.nodeArgs,
      verbose: opts.verbose || p.attempt > 1,
      timeoutMs: opts.timeoutSec !== null ? opts.timeoutSec * 1000 : null,
      namePatterns: filter.namePatterns,
      skipPatterns: filter.skipPatterns,
      selects: filter.selects,
      resources: opts.resources.join(','),
      attempt: p.attempt,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(live ? { onOutput: (chunk: string) => opts.write(chunk) } : {}),
      ...(opts.huntLeaks ? { drive: { runs: opts.huntLeaks.warmups + opts.huntLeaks.runs, sample: true } } : {}),
    });
    if (opts.huntLeaks) applyLeakVerdict(run, opts.huntLeaks);
    active.delete(file.name);
    runs.push(run);
    showStatus();
    if (FAILING_STATES.has(run.state) || (opts.failEnvChanged && run.state === 'env changed')) failedCount++;
    if (run.state === 'interrupted') return;
    const done = runs.length + (p.counterBase ?? 0);
    const counter = p.counterBase !== undefined ? `[${String(done).padStart(3)}]` : `[${String(done).padStart(width)}/${total}${failedCount ? `/${failedCount}` : ''}]`;
    const slow = run.state !== 'timed out' && run.durationMs >= SLOW_FILE_SEC * 1000 ? ` (${formatDuration(run.durationMs / 1000)})` : '';
    const quietOk = opts.quiet && (run.state === 'passed' || run.state === 'skipped' || run.state === 'resource denied');
    if (!quietOk) out(`${progressPrefix(p.startedAt)} ${counter} ${file.name} ${describeState(run)}${slow}`);
    printDetails(out, run, { showOutput: !live && (opts.verbose || p.attempt > 1 || FAILING_STATES.has(run.state)), rerunOnly });
  };

  const worker = async () => {
    while (next < p.files.length && !opts.signal?.aborted) {
      const file = p.files[next++]!;
      await runOne(file);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(p.jobs, p.files.length)) }, worker));
  clearInterval(notice);
  clearInterval(ticker);
  p.status?.clear();
  const interrupted = opts.signal?.aborted === true;
  if (interrupted) {
    for (const r of runs) if (r.state === 'interrupted') out(`Killed the process of ${r.name} (interrupted)`);
  }
  return { runs, interrupted };
}

function describeState(run: FileRun): string {
  const failed = run.tests.filter((t) => t.outcome === 'fail' || t.outcome === 'error').length;
  switch (run.state) {
    case 'failed':
      return failed ? `failed (${plural(failed, 'test')} failed)` : `failed (${run.error ?? 'see output'})`;
    case 'env changed':
      return 'failed (env changed)';
    case 'resource denied':
      return 'skipped (resource denied)';
    case 'no tests ran':
      return 'ran no tests';
    case 'timed out':
      return `timed out (${formatDuration(run.durationMs / 1000)})`;
    case 'crashed':
      return run.error ?? 'crashed';
    case 'worker bug':
      return `worker bug (${run.error ?? 'unknown'})`;
    case 'leaked':
      return 'failed (leaked)';
    default:
      return run.state;
  }
}

function printDetails(out: (line?: string) => void, run: FileRun, o: { showOutput: boolean; rerunOnly: string[][] | null | undefined }) {
  if (run.attempt > 1) {
    const matching = o.rerunOnly ? ` (matching: ${o.rerunOnly.map((n) => n.join(' > ')).join(', ')})` : '';
    out(`Re-running ${run.name} in verbose mode${matching}`);
  }
  if (o.showOutput && run.output.trim()) out(run.output.replace(/\n$/, ''));
  if (run.state === 'timed out') {
    out(`Timeout: ${run.error ?? ''}`);
    if (run.dump) out(run.dump);
  }
  for (const t of run.tests) {
    if (t.outcome !== 'fail' && t.outcome !== 'error') continue;
    // A crash or timeout is said once, by the lines above, not again as a test's error.
    if (t.message === run.error && run.state !== 'failed') continue;
    out(`${t.outcome === 'fail' ? 'FAIL' : 'ERROR'}: ${t.names.join(' > ')}`);
    out(indentStack(t.stack ?? t.message ?? '(no message)'));
    out();
  }
  for (const change of run.envChanges) out(`Warning -- ${run.name} ${change}`);
  for (const leak of run.leaks ?? []) out(`${run.name} ${leak}`);
  if (run.leaks && o.showOutput && run.samples) for (const line of describeSamples(run.samples)) out(line);
  if (run.state === 'skipped' || run.state === 'resource denied') {
    const reason = run.tests.find((t) => t.reason)?.reason;
    if (reason) out(`${run.name} skipped -- ${reason}`);
  }
}

function indentStack(text: string): string {
  return text.replace(/\n$/, '');
}
