// bench/results: parse throughput on a generated 100 MB regrtest-style log (-j progress lines,
// test output, failures with tracebacks, crashes, env warnings, verbose re-runs), fed line by
// line as a worker would stream it. Prints MB/s for the regrtest parser and for auto-detection; the goal is ≥ 60 MB/s,
// so that parsing never slows log intake.
//
//   npm run build && node build/bench/results/parse.js [--mb 100] [--rounds 3] [--dense]
//
// --dense parses the worst case instead: every line a progress line of a new file.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createParser } from '../../src/results/create-parser.js';
import type { ResultFormat } from '../../src/results/result-parser.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' }, dense: { type: 'boolean', default: false } } });
const targetBytes = Number(values.mb) * 1024 * 1024;
const rounds = Number(values.rounds);

/**
 * A log shaped like a long CPython buildbot run with -j: a progress line per test file, output
 * that tests print (warnings, subprocess chatter), failures with tracebacks, env changes,
 * crashes, and verbose re-runs naming each method. Deterministic, so runs compare.
 */
function generateLog(bytes: number): string {
  const parts: string[] = ['Using random seed: 12345\n', '0:00:00 load avg: 1.00 Run 40000 tests in parallel using 8 worker processes\n'];
  let size = 0;
  let failed = 0;
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 1; size < bytes; i++) {
    const clock = `${Math.floor(i / 3600) % 10}:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`;
    const name = `test_module_${i}`;
    const head = `${clock} load avg: 2.31 [${i}/40000/${failed}] ${name}`;
    const lines: string[] = [];
    const k = rand();
    if (k < 0.03) {
      failed++;
      lines.push(`${head} failed (1 failure)`, `test ${name} failed -- Traceback (most recent call last):`);
      for (let f = 0; f < 3 + Math.floor(rand() * 6); f++) {
        lines.push(`  File "/home/buildbot/cpython/Lib/test/${name}.py", line ${100 + f * 17}, in test_feature_${f}`, `    self.assertEqual(result_${f}, expected_${f})`);
      }
      lines.push(`AssertionError: ${i} != ${i + 1}`, '');
    } else if (k < 0.035) {
      lines.push(`${head} worker non-zero exit code (Exit code -11 (SIGSEGV))`, 'Fatal Python error: Segmentation fault', '', 'Current thread 0x00007fda6807fb80 (most recent call first):');
      for (let f = 0; f < 12; f++) lines.push(`  File "/home/buildbot/cpython/Lib/unittest/case.py", line ${500 + f}, in run`);
    } else if (k < 0.08) {
      lines.push(`${head} failed (env changed)`, `Warning -- ${name} leaked temporary files (1): tmp_${i.toString(16)}`);
    } else if (k < 0.09) {
      lines.push(`${head} passed`, `Re-running ${name} in verbose mode`);
      for (let m = 0; m < 30; m++) lines.push(`test_case_${m} (${name}.FeatureTests.test_case_${m}) ... ${m === 3 ? "skipped 'needs network'" : 'ok'}`);
      lines.push('', '-'.repeat(70), 'Ran 30 tests in 0.012s', '', 'OK (skipped=1)');
    } else {
      lines.push(`${head} passed${rand() < 0.1 ? ' (31.2 sec)' : ''}`);
    }
    // Tests print: deprecation warnings, subprocess output, progress of long-running tests.
    if (rand() < 0.35) {
      const n = 3 + Math.floor(rand() * 40);
      for (let o = 0; o < n; o++) lines.push(o % 5 === 0 ? `/home/buildbot/cpython/Lib/test/${name}.py:${o}: DeprecationWarning: something is deprecated since 3.12` : `  output of ${name} step ${o}: value=${(rand() * 1e6).toFixed(3)} status=ok`);
    }
    const block = lines.join('\n') + '\n';
    parts.push(block);
    size += block.length;
  }
  parts.push('\n== Tests result: FAILURE ==\n\nTotal duration: 3 hour 2 min\nResult: FAILURE\n');
  return parts.join('');
}

/** The worst case, not a real log: every line a different test file that passed. */
function generateDenseLog(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 1; size < bytes; i++) {
    const line = `0:00:00 load avg: 2.31 [${i}/9999999/0] test_module_${i} passed\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

function parseOnce(text: string, format: ResultFormat | 'auto'): { wallMs: number; cpuMs: number; tests: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const parser = createParser(format);
  const n = text.length;
  let from = 0;
  while (from < n) {
    let end = text.indexOf('\n', from);
    if (end === -1) end = n;
    parser.feedLine(text.slice(from, end), 'stdout');
    from = end + 1;
  }
  const result = parser.finish();
  const used = process.cpuUsage(cpu);
  return { wallMs: performance.now() - start, cpuMs: (used.user + used.system) / 1000, tests: result.tests.length };
}

const log = values.dense ? generateDenseLog(targetBytes) : generateLog(targetBytes);
const megabytes = Buffer.byteLength(log) / (1024 * 1024);
const lines = log.split('\n').length;
console.log(`log${values.dense ? ' (dense: one test per line)' : ''}: ${megabytes.toFixed(1)} MB, ${lines.toLocaleString('en')} lines, node ${process.version}`);
// Wall-clock time suffers when other processes share the CPU; CPU time is the parser's own cost.
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const format of ['regrtest', 'auto'] as const) {
  const wall: number[] = [];
  const cpu: number[] = [];
  let tests = 0;
  for (let r = 0; r < rounds; r++) {
    const m = parseOnce(log, format);
    wall.push(megabytes / (m.wallMs / 1000));
    cpu.push(megabytes / (m.cpuMs / 1000));
    tests = m.tests;
  }
  const w = median(wall);
  const c = median(cpu);
  console.log(`parse --format ${format}: ${w.toFixed(1)} MB/s wall-clock, ${c.toFixed(1)} MB/s of CPU time (medians of ${rounds}); ${tests.toLocaleString('en')} tests; goal >= 60 MB/s ${w >= 60 ? 'met' : 'NOT met'}`);
}
