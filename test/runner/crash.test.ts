// Files that crash, exit early, print garbage or break the results channel: each is reported
// plainly, keeps the results of its finished tests, and the run goes on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { closingLines, makeSuite, removeSuite, runKeel } from '../helpers/keel-cli.js';

const good = "import { test } from 'node:test'; test('ok', () => {});\n";

describe('keel test with crashing files', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeSuite));
  const run = async (files: Record<string, string>, args: string[] = []) => {
    const dir = makeSuite({ ...files, 'test/good.test.mjs': good });
    dirs.push(dir);
    return { dir, r: await runKeel(['test', '-j2', '--json', 'r.json', ...args], dir) };
  };
  const report = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8'));

  test('process.abort() is a crash with its signal; finished tests are kept', async () => {
    const { dir, r } = await run({
      'test/abort.test.mjs': "import { test } from 'node:test';\ntest('before', () => {});\ntest('aborts', () => { process.abort(); });\n",
    });
    assert.equal(r.code, 2);
    assert.match(r.stdout, /abort crashed \(killed by signal SIGABRT\) in aborts after 1 test/);
    assert.match(r.stdout, /good passed/);
    const tests = report(dir).tests.map((t: { id: string; outcome: string }) => `${t.id}:${t.outcome}`).sort();
    assert.deepEqual(tests, ['abort > aborts:error', 'abort > before:pass', 'good > ok:pass']);
  });

  test('running out of memory is a crash; the run goes on', async () => {
    const { r } = await run(
      { 'test/hog.test.mjs': "import { test } from 'node:test';\ntest('hoards', () => { const keep = []; for (;;) keep.push(new Array(1e5).fill(keep.length)); });\n" },
      ['--node-option=--max-old-space-size=24'],
    );
    assert.equal(r.code, 2);
    assert.match(r.stdout, /hog crashed \((killed by signal SIGABRT|exit code 134)\) in hoards after 0 tests/);
    assert.match(r.stdout, /heap out of memory|Reached heap limit/);
    assert.match(r.stdout, /good passed/);
  });

  test('process.exit(0) in the middle is an early exit, not a success', async () => {
    const { r } = await run({
      'test/exits.test.mjs': "import { test } from 'node:test';\ntest('one', () => {});\ntest('exits', () => { process.exit(0); });\ntest('never', () => {});\n",
    });
    assert.equal(r.code, 2);
    assert.match(r.stdout, /exits exited early \(exit code 0\) after 1 test, before its run ended/);
  });

  test('an error outside any test is a crash with its output', async () => {
    const { r } = await run({ 'test/throws.test.mjs': "throw new Error('broken at import');\n" });
    assert.equal(r.code, 2);
    assert.match(r.stdout, /throws crashed \(exit code 1\)/);
    assert.match(r.stdout, /Error: broken at import/);
  });

  test('garbage on stdout does not disturb the results', async () => {
    const { r } = await run({
      'test/noisy.test.mjs': "import { test } from 'node:test';\nprocess.stdout.write('{\"t\":\"end\",\"complete\":true}\\n\\u0000garbage');\ntest('still counted', () => { console.log('not ok 1 - fake TAP'); });\n",
    });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(closingLines(r.stdout).tests, '2 passed, 0 failed, 0 skipped');
  });

  test('an unreadable results channel is a WORKER BUG, said plainly', async () => {
    const { r } = await run({
      'test/scribbles.test.mjs': "import { test } from 'node:test'; import { writeSync } from 'node:fs';\ntest('writes on fd 3', () => { writeSync(3, 'not json\\n'); });\n",
    });
    assert.equal(r.code, 2);
    assert.match(r.stdout, /scribbles worker bug \(cannot read the results channel/);
    assert.equal(closingLines(r.stdout).result, 'FAILURE, WORKER BUG');
  });
});
