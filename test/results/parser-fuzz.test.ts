// Fuzzing: random and mutated logs through every parser. Each must return well-formed results,
// never throw, and take bounded time, since a parser runs on every line a build prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createParser } from '../../src/results/create-parser.js';
import { RESULT_FORMATS, type ResultFormat } from '../../src/results/result-parser.js';
import { TEST_OUTCOMES } from '../../src/results/model.js';
import { seededRandom } from '../../src/runner/discover.js';

const root = fileURLToPath(new URL('../../../test/fixtures/results/', import.meta.url));
const corpus: string[][] = [];
for (const dir of readdirSync(root, { withFileTypes: true })) {
  if (!dir.isDirectory()) continue;
  for (const f of readdirSync(join(root, dir.name))) {
    if (!f.endsWith('.expected.json')) corpus.push(readFileSync(join(root, dir.name, f), 'utf8').split('\n'));
  }
}

/** A seeded generator, so a failure can be replayed from its seed: the runner's own. */
const rng = seededRandom;

// Fragments that steer inputs into the parsers' interesting paths.
const FRAGMENTS = [
  '0:00:01 load avg: 0.5 [ 1/3/1] test_x failed (1 failure)', '[2/3] test_y', 'test test_x failed -- Traceback (most recent call last):',
  '== Tests result: FAILURE ==', 'Re-running 1 failed tests in verbose mode', 'Re-running test_x in verbose mode (matching: a, b)',
  'test_a (m.C.test_a) ... ok', 'test_b (m.C.test_b) ... ', 'FAIL: test_b (m.C.test_b)', '='.repeat(70), '-'.repeat(70),
  '  File "x.py", line 1, in f', 'AssertionError: boom', 'Ran 3 tests in 0.1s', 'FAILED (failures=1)', 'Timeout (0:00:02)!',
  'tests/a.py::t PASSED [ 50%]', '=== short test summary info ===', 'FAILED a.py::t - x', '____ t ____', 'E   assert 1',
  'TAP version 14', '1..3', 'ok 1 - a', 'not ok 2 - b # TODO', '# Subtest: s', '    ok 1 - c', '  ---', '  ...', 'Bail out!',
  '=== RUN   TestA', '--- FAIL: TestA (0.00s)', 'ok  \tpkg\t0.1s', 'FAIL\tpkg\t0.1s', 'panic: boom',
  '{"Action":"run","Package":"p","Test":"T"}', '{"Action":"fail","Package":"p","Test":"T","Elapsed":1}',
  'running 2 tests', 'test a::b ... ok', 'test a::c ... FAILED', '---- a::c stdout ----', "thread 'a::c' panicked at x.rs:1:1:",
  '✔ a (1.5ms)', '✖ b (2.5ms)', '▶ s', '  ✔ c (0.1ms)', '✖ failing tests:', 'ℹ tests 3', '.X.', 'Failed tests:',
  '  suite', '    ✔ passes', '    1) fails', '  2 passing (3ms)', '  1 failing', '  1) suite', '       fails:',
  '<?xml version="1.0"?>', '<testsuites>', '<testsuite name="s">', '<testcase name="t" classname="c" time="x">',
  '<failure message="m">body</failure>', '<flakyFailure/>', '</testcase>', '</testsuite>', '{', '}', '"tests": [',
  '{"version":1,"tests":[{"id":"a","outcome":"fail","attempt":"x"}]}', '{"results":{"tests":[{"name":1,"status":null}]}}',
  '{"testResults":[{"assertionResults":[null,{"status":"passed","invocations":"2"}]}]}', '\x1b[31m', '\r', '\u0000', '\uFFFD',
  '0:00:00 load avg: 0.5 math', 'FAIL: fails', 'ERROR: boom', 'Re-running 1 failed test file in verbose mode', '﹣ x (0.1ms) # test name does not match pattern',
  '# pkg [pkg.test]', 'FAIL\tpkg [build failed]', 'tests/a.py::t ', 'PASSED', '  t (m.C.t) (i=1) ... FAIL', 'UNEXPECTED SUCCESS: t (m.C.t)',
];

function randomLine(r: () => number): string {
  const n = Math.floor(r() * 80);
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = r();
    s += k < 0.7 ? String.fromCharCode(32 + Math.floor(r() * 95)) : k < 0.85 ? ' ' : k < 0.95 ? String.fromCharCode(Math.floor(r() * 0x3000)) : '\x1b[';
  }
  return s;
}

function mutate(lines: readonly string[], r: () => number): string[] {
  const out = [...lines];
  const edits = 1 + Math.floor(r() * 8);
  for (let e = 0; e < edits; e++) {
    const i = Math.floor(r() * (out.length + 1));
    const k = r();
    if (k < 0.2) out.splice(i, 1 + Math.floor(r() * 5));
    else if (k < 0.35) out.splice(i, 0, FRAGMENTS[Math.floor(r() * FRAGMENTS.length)]!);
    else if (k < 0.45) out.splice(i, 0, randomLine(r));
    else if (k < 0.55 && out[i] !== undefined) out[i] = out[i]!.slice(0, Math.floor(r() * out[i]!.length));
    else if (k < 0.65 && out[i] !== undefined) out.splice(i, 0, out[i]!);
    else if (k < 0.75 && out[i] !== undefined) {
      const s = out[i]!;
      const p = Math.floor(r() * s.length);
      out[i] = s.slice(0, p) + String.fromCharCode(Math.floor(r() * 0x10000)) + s.slice(p + 1);
    } else if (k < 0.85) out.length = Math.min(out.length, i); // cut off, as a killed build
    else out.splice(i, 0, ...out.slice(Math.floor(r() * out.length), Math.floor(r() * out.length)));
  }
  return out;
}

const FORMATS: (ResultFormat | 'auto')[] = ['auto', ...RESULT_FORMATS];
const INPUTS = 10_000;
const MAX_MS_PER_INPUT = 250;

function run(format: ResultFormat | 'auto', lines: readonly string[]): number {
  const start = performance.now();
  const parser = createParser(format);
  for (let i = 0; i < lines.length; i++) parser.feedLine(lines[i]!, i % 7 === 0 ? 'stderr' : 'stdout');
  const result = parser.finish();
  const ms = performance.now() - start;
  assert.ok(Array.isArray(result.tests));
  for (const t of result.tests) {
    assert.ok(TEST_OUTCOMES.includes(t.outcome), `outcome ${String(t.outcome)}`);
    assert.equal(typeof t.id, 'string');
    assert.ok(Number.isInteger(t.attempt) && t.attempt >= 1, `attempt ${t.attempt}`);
  }
  return ms;
}

test(`${INPUTS} random and mutated inputs through every parser: no exception, bounded time`, () => {
  const r = rng(0x6b65656c);
  let worst = 0;
  let worstCase = '';
  for (let n = 0; n < INPUTS; n++) {
    let lines: string[];
    if (n % 4 === 0) {
      lines = Array.from({ length: Math.floor(r() * 60) }, () => (r() < 0.3 ? FRAGMENTS[Math.floor(r() * FRAGMENTS.length)]! : randomLine(r)));
    } else {
      lines = mutate(corpus[Math.floor(r() * corpus.length)]!, r);
    }
    // Each input goes through auto-detection and one named parser, in turn.
    for (const format of ['auto', FORMATS[1 + (n % (FORMATS.length - 1))]!] as const) {
      let ms: number;
      try {
        ms = run(format, lines);
      } catch (err) {
        assert.fail(`input ${n} (${format}) threw: ${(err as Error).stack}\n${lines.join('\n').slice(0, 2000)}`);
      }
      if (ms > worst) [worst, worstCase] = [ms, `input ${n} (${format})`];
    }
  }
  assert.ok(worst < MAX_MS_PER_INPUT, `slowest: ${worst.toFixed(1)} ms on ${worstCase}`);
});

test('pathological lines (long, repetitive, unbalanced) take linear time in every parser', () => {
  const long = 200_000;
  const lines = [
    '_'.repeat(long), `___ ${'_ '.repeat(long / 2)}`, ' '.repeat(long) + 'x', '['.repeat(long), `[1/${'1'.repeat(long)}`,
    `test ${'a'.repeat(long)} ... `, `${'a ('.repeat(long / 3)}`, `ok ${'1'.repeat(long)} - ${'# '.repeat(long / 2)}`,
    `=== RUN   ${'T'.repeat(long)}`, `${'='.repeat(long)} x`, `✔ ${'('.repeat(long / 2)}ms)`, `  ${'1) '.repeat(long / 3)}`,
    `test ${'x::'.repeat(long / 3)} ... ok`, `FAILED ${'a::'.repeat(long / 3)}`, '\x1b['.repeat(long / 2),
    `tests/a.py::${'t '.repeat(long / 2)}PASSED`, `0:00:00 load avg: ${'1.'.repeat(long / 2)}`,
  ];
  for (const format of FORMATS) {
    const ms = run(format, lines);
    assert.ok(ms < 500, `${format}: ${ms.toFixed(1)} ms`);
  }
});
