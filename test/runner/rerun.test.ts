// -w/--rerun with real processes: a file that fails first and passes on re-run, --fail-rerun,
// and a re-run that runs only the failed tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { closingLines, makeSuite, removeSuite, runKeel } from '../helpers/keel-cli.js';

// Fails on its first run, passes after: the marker file lives beside the suite, not in the
// per-process temporary directory (which keel removes after each file).
const flakyFile = `
import { test, describe } from 'node:test';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
const dir = new URL('../', import.meta.url).pathname;
describe('net', () => {
  test('connects', () => {
    if (!existsSync(dir + 'ran-once')) { writeFileSync(dir + 'ran-once', ''); throw new Error('first run fails'); }
  });
  test('steady', () => { appendFileSync(dir + 'steady-runs', 'x'); });
});
`;

describe('keel test -w', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeSuite));
  const suite = () => {
    const dir = makeSuite({ 'test/flaky.test.mjs': flakyFile, 'test/good.test.mjs': "import { test } from 'node:test'; test('ok', () => {});\n" });
    dirs.push(dir);
    return dir;
  };

  test('a test that fails then passes makes FAILURE then SUCCESS, exit 0', async () => {
    const dir = suite();
    const r = await runKeel(['test', '-w', '--json', 'out.json'], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(closingLines(r.stdout), { result: 'FAILURE then SUCCESS', tests: '3 passed, 0 failed, 0 skipped' });
    assert.match(r.stdout, /== Tests result: FAILURE ==\n\n1 test file failed:\n {4}flaky\n/);
    assert.match(r.stdout, /Re-running flaky in verbose mode \(matching: net > connects\)/);
    assert.match(r.stdout, /1 re-run test file:\n {4}flaky/);
    assert.match(r.stdout, /Total tests: run=3 failures=1 skipped=0 flaky=1/);
    // Only the failed test ran again.
    assert.equal(readFileSync(path.join(dir, 'steady-runs'), 'utf8'), 'x');
    const report = JSON.parse(readFileSync(path.join(dir, 'out.json'), 'utf8'));
    const connects = report.tests.find((t: { id: string }) => t.id === 'flaky > net > connects');
    assert.equal(connects.outcome, 'flaky');
    assert.equal(connects.attempt, 2);
    assert.equal(connects.earlierFailures[0].message, 'first run fails');
    assert.equal(report.result, 'FAILURE then SUCCESS');
  });

  test('--fail-rerun fails a run saved by its re-run, with exit code 5 and says so', async () => {
    const r = await runKeel(['test', '-w', '--fail-rerun'], suite());
    assert.equal(r.code, 5, r.stdout);
    assert.equal(closingLines(r.stdout).result, 'FAILURE then SUCCESS (failed by --fail-rerun)');
  });

  test('without -w a failure is a FAILURE, exit 2, with the error and its stack under the file', async () => {
    const r = await runKeel(['test'], suite());
    assert.equal(r.code, 2);
    assert.deepEqual(closingLines(r.stdout), { result: 'FAILURE', tests: '2 passed, 1 failed, 0 skipped' });
    assert.match(r.stdout, /\[1\/2\/1\] flaky failed \(1 test failed\)\nFAIL: net > connects\nError: first run fails\n {4}at /);
  });

  test('a test that fails again makes FAILURE then FAILURE, exit 2', async () => {
    const dir = makeSuite({ 'test/bad.test.mjs': "import { test } from 'node:test'; test('always', () => { throw new Error('nope'); }); test('fine', () => {});\n" });
    dirs.push(dir);
    const r = await runKeel(['test', '-w'], dir);
    assert.equal(r.code, 2);
    assert.deepEqual(closingLines(r.stdout), { result: 'FAILURE then FAILURE', tests: '1 passed, 1 failed, 0 skipped' });
  });
});
