// keel bisect with real processes: an order-dependent failure among 100 tests is narrowed down to
// its pair, the list written with -o selects exactly that pair under keel test --matchfile, and
// the exit codes say what happened.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { nameToGlob } from '../../src/runner/bisect.js';
import { buildNameFilter } from '../../src/runner/name-filter.js';
import { closingLines, makeSuite, removeSuite, runKeel } from '../helpers/keel-cli.js';

/** 100 tests; `t071 …` fails only when `t017 …` ran before it in the same process. */
function orderSuite(): Record<string, string> {
  let source = "import { test } from 'node:test';\nimport { state } from './state.mjs';\n";
  for (let i = 0; i < 100; i++) {
    const name = `t${String(i).padStart(3, '0')}`;
    if (i === 17) source += `test('${name} pollutes', () => { state.polluted = true; });\n`;
    else if (i === 71) source += `test('${name} needs a clean state', () => { if (state.polluted) throw new Error('polluted by an earlier test'); });\n`;
    else source += `test('${name}', () => {});\n`;
  }
  return { 'test/state.mjs': 'export const state = { polluted: false };\n', 'test/order.test.mjs': source };
}

describe('keel bisect', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeSuite));
  const suite = (files: Record<string, string>) => {
    const dir = makeSuite(files);
    dirs.push(dir);
    return dir;
  };

  test('finds the order-dependent pair among 100 tests and writes it for --matchfile', async () => {
    const dir = suite(orderSuite());
    const r = await runKeel(['bisect', 'order', '-o', 'culprits.txt', '--randseed', '2'], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Start bisection with 100 tests \(failed: t071 needs a clean state\)$/m);
    assert.match(r.stdout, /^\[\+\] Iteration 1\/100: run 50 tests\/100$/m);
    assert.match(r.stdout, /^\[\+\] bisect: 50\/100 tests still fail/m);
    assert.match(r.stdout, /\nTests \(2\):\n\* order > t017 pollutes\n\* order > t071 needs a clean state\n/);
    // The iteration count is the number of subsets run (bisect_cmd says one more).
    const iterations = r.stdout.match(/^\[\+\] Iteration \d+/gm)!.length;
    assert.match(r.stdout, new RegExp(`^Bisection completed in ${iterations} iterations and .*: leaving out any one of these tests makes the failure go away$`, 'm'));

    const written = readFileSync(path.join(dir, 'culprits.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(written, ['t017 pollutes', 't071 needs a clean state']);
    const again = await runKeel(['test', '--matchfile', 'culprits.txt', 'order'], dir);
    assert.equal(again.code, 2, again.stdout);
    assert.match(again.stdout, /FAIL: t071 needs a clean state\nError: polluted by an earlier test/);
    assert.deepEqual(closingLines(again.stdout), { result: 'FAILURE', tests: '1 passed, 1 failed, 0 skipped' });
  });

  test('tests spread over two files, with glob characters in their names', async () => {
    const dir = suite({
      'test/state.mjs': 'export const state = {};\n',
      'test/a-writer.test.mjs':
        "import { test, describe } from 'node:test';\nimport { state } from './state.mjs';\n" +
        "describe('odd [names]', () => { test('sets * state?', () => { state.x = 1; }); test('#hash b?', () => {}); test('c[1]', () => {}); });\n",
      'test/b-reader.test.mjs':
        "import { test } from 'node:test';\nimport { state } from './state.mjs';\n" +
        "test('a*', () => {});\ntest('reads * state!', () => { if (state.x) throw new Error('state set by another file'); });\ntest('reads x state?', () => {});\n",
    });
    const r = await runKeel(['bisect', 'a-writer', 'b-reader', '-o', 'out.txt', '--randseed', '1'], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Run 2 test files together in one process to list the tests: a-writer b-reader$/m);
    assert.match(r.stdout, /\nTests \(2\):\n\* a-writer > odd \[names\] > sets \* state\?\n\* b-reader > reads \* state!\n/);
    const globs = readFileSync(path.join(dir, 'out.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(globs, ['odd [[]names] > sets [*] state[?]', 'reads [*] state!']);
    const again = await runKeel(['test', '--matchfile', 'out.txt', 'a-writer', 'b-reader'], dir);
    assert.match(again.stdout, /Total tests: run=2 failures=0 .*\(filtered\)/, 'each file runs in its own process under keel test: no failure');
  });

  test('tests that pass together: nothing to bisect, exit 3', async () => {
    const dir = suite({ 'test/fine.test.mjs': "import { test } from 'node:test';\ntest('a', () => {});\ntest('b', () => {});\n" });
    const r = await runKeel(['bisect', 'fine'], dir);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /The 2 tests passed when run together \(passed\): nothing to bisect\./);
  });

  test('the iteration budget runs out: exit 1, the failing subset so far is printed', async () => {
    const dir = suite(orderSuite());
    const r = await runKeel(['bisect', 'order', '-n', '2', '--randseed', '2'], dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout.match(/^\[\+\] Iteration \d+\/2/gm)!.length, 2);
    assert.match(r.stdout, /^Bisection stopped after 2 iterations and .*: these tests still fail, but fewer may \(raise -n\)$/m);
  });

  test('a name turned into a glob matches that name and no other', () => {
    const names = ['odd [names] ', '#1 * of ?', 'c[1]'];
    const glob = nameToGlob(names);
    assert.equal(glob, 'odd [[]names]  > [#]1 [*] of [?] > c[[]1]');
    const filter = buildNameFilter({ match: [glob], ignore: [] });
    assert.ok(filter.selects(names));
    assert.ok(!filter.selects(['odd [names] ', '#1 x of y', 'c[1]']));
    assert.ok(!filter.selects(['odd n ', '#1 * of ?', 'c1']));
    assert.equal(nameToGlob([' padded ']), '[ ]padded[ ]');
  });
});
