// keel test -R with real processes: a module that keeps a growing array, a timer left each run and
// an unclosed file descriptor are flagged; clean files are not, twenty hunts in a row.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { findLeaks, parseHuntSpec } from '../../src/runner/hunt-leaks.js';
import type { HuntSample } from '../../src/runner/file-result.js';
import type { RunReport } from '../../src/runner/run-report.js';
import { closingLines, makeSuite, removeSuite, runKeel } from '../helpers/keel-cli.js';

const LEAKY = {
  'test/cache.mjs': '// Shared by every run: the test files import it under its plain URL.\nexport const items = [];\n',
  'test/grow.test.mjs':
    "import { test } from 'node:test';\nimport { items } from './cache.mjs';\n" +
    "test('remembers 2 MB', () => { items.push(new Array(256 * 1024).fill(7)); });\n",
  // CommonJS is cached by path, not URL: the driver must make it run again all the same.
  'test/cache.cjs': 'module.exports.items = [];\n',
  'test/grow-cjs.test.cjs':
    "const { test } = require('node:test');\nconst { items } = require('./cache.cjs');\n" +
    "test('remembers 2 MB too', () => { items.push(new Array(256 * 1024).fill(7)); });\n",
  'test/timer.test.mjs': "import { test } from 'node:test';\ntest('starts an interval', () => { setInterval(() => {}, 60_000); });\n",
  'test/fd.test.mjs': "import { test } from 'node:test';\nimport { openSync } from 'node:fs';\ntest('opens', () => { openSync(new URL(import.meta.url), 'r'); });\n",
  'test/clean.test.mjs': "import { test } from 'node:test';\ntest('adds', () => { const a = new Array(100_000).fill(1); if (a.length !== 100_000) throw new Error('no'); });\n",
};

/** A clean file that works the heap, the file system and the network, and cleans up. */
const CLEAN =
  "import { test, describe } from 'node:test';\nimport assert from 'node:assert/strict';\n" +
  "import { createServer, get } from 'node:http';\nimport { readFile } from 'node:fs/promises';\n" +
  "describe('work', () => {\n" +
  "  for (let i = 0; i < 5; i++) test('map ' + i, () => { const m = new Map(Array.from({ length: 5000 }, (_, j) => [j, { j }])); assert.equal(m.size, 5000); });\n" +
  "  test('reads itself', async () => { for (let i = 0; i < 5; i++) await readFile(new URL(import.meta.url)); });\n" +
  "  test('serves', async () => { const s = createServer((q, r) => r.end('ok')); await new Promise((r) => s.listen(0, '127.0.0.1', r));\n" +
  "    const body = await new Promise((ok) => get({ port: s.address().port, host: '127.0.0.1', agent: false }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => ok(b)); }));\n" +
  "    assert.equal(body, 'ok'); await new Promise((r) => s.close(r)); });\n" +
  "  test('timer', async () => { await new Promise((r) => setTimeout(r, 1)); });\n" +
  "});\n" +
  // A top-level await of a test: its import settles only after that test; the next import's
  // tests must still be top-level tests, not its subtests.
  "await test('awaited at the top level', async () => { await new Promise((r) => setImmediate(r)); });\n" +
  "describe('built asynchronously', async () => { await null; test('late', () => {}); });\n";

describe('keel test -R (leak hunting)', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeSuite));

  test('flags a growing module array, a timer and an fd left each run; not the clean file', async () => {
    const dir = makeSuite(LEAKY);
    dirs.push(dir);
    const r = await runKeel(['test', '-R', '2:3', '-j4', '--json', 'report.json'], dir);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^Hunting leaks: each file's tests run 5 times in one process \(2 warm-up runs, then 3 counted runs\)$/m);
    assert.match(r.stdout, /^grow leaked \[(\d+\.\d), (\d+\.\d), (\d+\.\d)\] MB of heap, sum=\d+\.\d$/m);
    const heap = /^grow leaked \[(.*)\] MB/m.exec(r.stdout)![1]!.split(', ').map(Number);
    for (const mb of heap) assert.ok(mb >= 1.5 && mb <= 3, `each run keeps 2 MB, got ${heap.join(', ')}`);
    assert.match(r.stdout, /^grow-cjs leaked \[\d+\.\d, \d+\.\d, \d+\.\d\] MB of heap, sum=\d+\.\d$/m);
    assert.match(r.stdout, /^timer leaked \[1, 1, 1\] handles \(Timeout\), sum=3$/m);
    assert.match(r.stdout, /^fd leaked \[1, 1, 1\] file descriptors, sum=3$/m);
    assert.match(r.stdout, /\] grow failed \(leaked\)/);
    assert.doesNotMatch(r.stdout, /^clean leaked/m);
    assert.match(r.stdout, /\n4 test files leaked:\n {4}fd grow grow-cjs timer\n/);
    assert.match(r.stdout, /Total test files: run=5\/5 leaked=4/);
    // Each test is counted once, not once per run; a leaking file fails as a whole, once.
    assert.deepEqual(closingLines(r.stdout), { result: 'FAILURE', tests: '5 passed, 4 failed, 0 skipped' });
    const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as RunReport;
    const timer = report.files.find((f) => f.name === 'timer')!;
    assert.equal(timer.state, 'leaked');
    assert.deepEqual(timer.attempts[0]!.leaks, ['leaked [1, 1, 1] handles (Timeout), sum=3']);
    assert.deepEqual(
      report.tests.filter((t) => t.outcome === 'fail').map((t) => [t.id, t.message]).sort(),
      [
        ['fd', 'leaked [1, 1, 1] file descriptors, sum=3'],
        ['grow', /^grow (leaked .*)$/m.exec(r.stdout)![1]],
        ['grow-cjs', /^grow-cjs (leaked .*)$/m.exec(r.stdout)![1]],
        ['timer', 'leaked [1, 1, 1] handles (Timeout), sum=3'],
      ],
    );
  });

  test('twenty hunts of a clean file in a row flag nothing', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`test/clean/c${String(i).padStart(2, '0')}.test.mjs`] = CLEAN;
    const dir = makeSuite(files);
    dirs.push(dir);
    const r = await runKeel(['test', '-R', '3:3', '-j4', '--json', 'report.json'], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /leaked/);
    assert.match(r.stdout, /All 20 test files OK\./);
    const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as RunReport;
    assert.deepEqual(
      report.tests.filter((t) => t.file === 'clean/c00').map((t) => t.name),
      [...[0, 1, 2, 3, 4].map((i) => `work > map ${i}`), 'work > reads itself', 'work > serves', 'work > timer', 'awaited at the top level', 'built asynchronously > late'],
    );
    assert.deepEqual(closingLines(r.stdout), { result: 'SUCCESS', tests: '200 passed, 0 failed, 0 skipped' });
  });

  test('a test that fails only on a later run in the same process fails the file', async () => {
    const dir = makeSuite({
      'test/once.test.mjs':
        "import { test } from 'node:test';\nimport { seen } from './state.mjs';\n" +
        "test('first time only', () => { if (seen.count++ > 0) throw new Error('ran before in this process'); });\ntest('fine', () => {});\n",
      'test/state.mjs': 'export const seen = { count: 0 };\n',
    });
    dirs.push(dir);
    const r = await runKeel(['test', '-R', '0:2'], dir);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stdout, /FAIL: first time only\nError: ran before in this process/);
    assert.deepEqual(closingLines(r.stdout), { result: 'FAILURE', tests: '1 passed, 1 failed, 0 skipped' });
  });

  test('a bad -R value is a usage error', async () => {
    const dir = makeSuite({ 'test/a.test.mjs': "import { test } from 'node:test';\ntest('a', () => {});\n" });
    dirs.push(dir);
    const r = await runKeel(['test', '-R', 'three'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /-R\/--hunt-leaks expects WARMUPS:RUNS such as 3:3, got "three" \[KEEL_ERR_USAGE\]/);
  });
});

describe('the leak rule', () => {
  const sample = (run: number, heapMb: number, timeouts: number, fds: number, tests = 1): HuntSample => ({
    run,
    heapUsed: heapMb * 1024 * 1024,
    resources: timeouts ? { Timeout: timeouts } : {},
    fds,
    tests: (run + 1) * tests,
  });

  test('regrtest defaults for -R :', () => {
    assert.deepEqual(parseHuntSpec(':'), { warmups: 3, runs: 3 });
    assert.deepEqual(parseHuntSpec('1:'), { warmups: 1, runs: 3 });
    assert.deepEqual(parseHuntSpec(':4'), { warmups: 3, runs: 4 });
    assert.throws(() => parseHuntSpec('2:0'), /at least one counted run/);
  });

  test('a counter leaks only when it grew on every counted run', () => {
    const spec = { warmups: 1, runs: 3 };
    // Timeouts 0,0 | 3,3,3 → leak; fds 5 | 8,8,8 → [3, 0, 0] is noise (regrtest's bpo-30776 case).
    const leaky = [sample(-1, 10, 0, 5), sample(0, 10, 0, 5), sample(1, 10, 3, 8), sample(2, 10, 6, 8), sample(3, 10, 9, 8)];
    assert.deepEqual(findLeaks(leaky, spec).map((f) => f.text), ['leaked [3, 3, 3] handles (Timeout), sum=9']);
    // The heap: 1.5 MB per run is a leak for a one-test file, not for a file of 1000 tests.
    const heap = (tests: number) => [0, 1, 2, 3, 4].map((i) => sample(i - 1, 10 + 1.5 * i, 0, 5, tests));
    assert.deepEqual(findLeaks(heap(1), spec).map((f) => f.text), ['leaked [1.5, 1.5, 1.5] MB of heap, sum=4.5']);
    assert.deepEqual(findLeaks(heap(1000), spec), []);
  });
});
