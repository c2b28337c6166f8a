// Behaviours the fixture corpus does not show by itself: re-runs folded into one result, logs
// cut off by a killed build, stdout/stderr, detection, and lenient reading of Keel's JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCollector, makeResult } from '../../src/results/test-collector.js';
import { createParser, parseText } from '../../src/results/create-parser.js';
import { detectFormat } from '../../src/results/detect-format.js';
import { cleanLine, joinDetails, MAX_DETAILS_CHARS } from '../../src/results/result-parser.js';

const byId = (text: string, format?: Parameters<typeof parseText>[1]) =>
  new Map(parseText(text, format).tests.map((t) => [t.id, t]));

test('a test that failed and then passed is one result, flaky, on attempt 2, keeping the failure', () => {
  const c = new TestCollector();
  c.add(makeResult('f', 't', 'f.t', 'fail', { message: 'boom' }));
  c.add(makeResult('f', 't', 'f.t', 'pass'));
  assert.deepEqual(c.results(), [{ id: 'f.t', file: 'f', name: 't', outcome: 'flaky', durationMs: null, attempt: 2, message: 'boom' }]);
  c.add(makeResult('f', 'u', 'f.u', 'pass'));
  c.add(makeResult('f', 'u', 'f.u', 'fail', { attempt: 2 }));
  assert.equal(c.get('f.u')?.outcome, 'fail', 'passing then failing is a failure, not a flake');
});

test('regrtest: a sequential run killed mid-test reports that test as an error, and earlier ones as passed', () => {
  const tests = byId(['Run 3 tests sequentially', '0:00:00 load avg: 0.1 [1/3] test_a', '0:00:01 load avg: 0.1 [2/3] test_b'].join('\n'));
  assert.equal(tests.get('test_a')?.outcome, 'pass');
  assert.equal(tests.get('test_b')?.outcome, 'error');
  assert.match(tests.get('test_b')?.message ?? '', /log ends/);
});

test('regrtest -j: files still running when the log ends are errors; finished ones keep their result', () => {
  const log = [
    'Run 4 tests in parallel using 2 worker processes',
    '0:00:00 load avg: 0.1 [1/4] test_a passed',
    '0:00:00 load avg: 0.1 [2/4/1] test_b failed (1 failure)',
    '0:00:30 load avg: 0.3 running (2): test_c (30.1 sec), test_d (30.0 sec)',
  ].join('\n');
  const tests = byId(log);
  assert.equal(tests.get('test_a')?.outcome, 'pass');
  assert.equal(tests.get('test_b')?.outcome, 'fail');
  assert.equal(tests.get('test_c')?.outcome, 'error');
  assert.equal(tests.get('test_d')?.outcome, 'error');
});

test('regrtest 3.12+: the files a -j progress line says are running, and never finish, are errors', () => {
  const tests = byId('Run 3 tests in parallel using 2 worker processes\n0:00:31 load avg: 1.2 [1/3] test_x passed (30.1 sec) -- running (2): test_a (31.0 sec), test_b (30.3 sec)\n');
  assert.equal(tests.get('test_x')?.outcome, 'pass');
  assert.equal(tests.get('test_x')?.durationMs, 30100);
  assert.equal(tests.get('test_a')?.outcome, 'error');
  assert.equal(tests.get('test_b')?.outcome, 'error');
});

test('regrtest: a leak report fails its file', () => {
  const log = ['Run 1 test sequentially', '0:00:00 load avg: 0.1 [1/1] test_leaky', 'beginning 6 repetitions',
    'test_leaky leaked [1, 1, 1] references, sum=3', 'test_leaky failed (reference leak)', '', '== Tests result: FAILURE =='].join('\n');
  const t = byId(log).get('test_leaky');
  assert.equal(t?.outcome, 'fail');
  assert.match(t?.message ?? '', /leaked \[1, 1, 1\] references/);
});

test('unittest: a verbose line whose result comes after printed output is still read', () => {
  const tests = byId(['test_x (m.C.test_x) ... ', 'some output', 'FAIL', '', 'Ran 1 test in 0.001s', '', 'FAILED (failures=1)'].join('\n'), 'unittest');
  assert.equal(tests.get('m.C.test_x')?.outcome, 'fail');
});

test('a JSON report on stdout is read even with progress on stderr', () => {
  const p = createParser('jest');
  p.feedLine('Determining test suites to run...', 'stderr');
  p.feedLine(JSON.stringify({ numRuntimeErrorTestSuites: 0, testResults: [{ name: '/r/a.test.js', assertionResults: [{ ancestorTitles: ['s'], title: 't', status: 'failed', failureMessages: ['Error: x\n    at y'] }] }] }), 'stdout');
  p.feedLine(' PASS  a.test.js', 'stderr');
  const r = p.finish();
  assert.equal(r.tests[0]?.id, '/r/a.test.js > s > t');
  assert.equal(r.tests[0]?.message, 'Error: x');
});

test("Keel's own JSON is read leniently: odd fields defaulted, unknown outcomes dropped", () => {
  const doc = { version: 1, tests: [
    { id: 'a > t', file: 'a', name: 't', outcome: 'flaky', durationMs: 3, attempt: 2, message: 'x' },
    { file: 'b', name: 'u', outcome: 'pass', attempt: 'two' },
    { id: 'c', outcome: 'exploded' },
    'not an object',
  ] };
  const r = parseText(JSON.stringify(doc));
  assert.equal(r.format, 'keel');
  assert.deepEqual(r.tests.map((t) => [t.id, t.outcome, t.attempt]), [['a > t', 'flaky', 2], ['b > u', 'pass', 1]]);
});

test('--format node reads whichever node:test reporter wrote the log', () => {
  assert.equal(parseText('TAP version 13\nok 1 - a\n', 'node').format, 'tap');
  assert.equal(parseText('✔ a (1.5ms)\n', 'node').format, 'node');
  assert.equal(parseText('<testsuites><testcase name="a" classname="test"/></testsuites>', 'node').format, 'junit');
});

test('detection names each tool from one telling line and nothing from prose', () => {
  const cases: [string, string | undefined][] = [
    ['0:00:00 load avg: 1.2 [ 1/40] test_os passed', 'regrtest'],
    ['============================= test session starts ==============================', 'pytest'],
    ['=== RUN   TestAdd', 'go'],
    ['{"Time":"2024","Action":"run","Package":"p","Test":"T"}', 'go'],
    ['running 5 tests', 'cargo'],
    ['TAP version 14', 'tap'],
    ['✔ adds (0.5ms)', 'node'],
    ['  3 passing (12ms)', 'mocha'],
    ['Ran 12 tests in 0.004s', 'unittest'],
    ['0:00:00 load avg: 5.44 Run 2 test files sequentially', 'regrtest'],
    ['<?xml version="1.0"?>', 'junit'],
    ['{"numTotalTests": 3,', 'json'],
    ['..X...X', 'node'],
    ['ok\texample.com/pkg\t0.012s', 'go'],
    ['Hello, this build log only compiles things.', undefined],
    ['0'.repeat(99), undefined],
    ['aGVsbG8sIHdvcmxkLnB5Ojp0ZXN0IFBBU1NFRA==', undefined],
    ['', undefined],
  ];
  for (const [line, format] of cases) assert.equal(detectFormat(`npm warn something\n${line}\n`), format, line);
});

test('a log of no known tool parses to nothing, as format unknown', () => {
  const r = parseText('just\nsome\nlines\n');
  assert.deepEqual(r, { format: 'unknown', tests: [] });
});

test('lines are cleaned of CRs and colours; details are capped', () => {
  assert.equal(cleanLine('\x1b[32mok\x1b[0m 1 - a\r\r'), 'ok 1 - a');
  assert.equal(cleanLine('\x1b]0;title\x07plain'), 'plain');
  const details = joinDetails(['x'.repeat(MAX_DETAILS_CHARS + 10)]);
  assert.ok(details !== undefined && details.length < MAX_DETAILS_CHARS + 20 && details.endsWith('(cut)'));
});

test('TAP 14 subtests given only by indentation take their name from the parent line', () => {
  const tests = byId(['TAP version 14', '    ok 1 - inner a', '    not ok 2 - inner b', '    1..2', 'not ok 1 - outer', '1..1'].join('\n'));
  assert.deepEqual([...tests.keys()], ['outer > inner a', 'outer > inner b']);
  assert.equal(tests.get('outer > inner b')?.outcome, 'fail');
});

test('auto-detection finds a test run after a long stretch of build noise', () => {
  const noise = Array.from({ length: 60_000 }, (_, i) => `gcc -c module_${i}.c -o module_${i}.o`);
  const run = ['Run 2 tests sequentially', '0:00:00 load avg: 0.1 [1/2] test_a', '0:00:00 load avg: 0.1 [2/2] test_b', '', '== Tests result: SUCCESS =='];
  const r = parseText([...noise, ...run].join('\n'));
  assert.equal(r.format, 'regrtest');
  assert.deepEqual(r.tests.map((t) => [t.id, t.outcome]), [['test_a', 'pass'], ['test_b', 'pass']]);
});
