// Choosing what runs: names, -x, --fromfile, -m/-i, -u resources, --shard, -r with a seed,
// TypeScript through a loader, --forever, and files with no tests.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { closingLines, makeSuite, removeSuite, repoRoot, runKeel } from '../helpers/keel-cli.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeSuite));

function suite(files: Record<string, string>): string {
  const dir = makeSuite(files);
  dirs.push(dir);
  return dir;
}

const tiny = (name: string) => `import { test } from 'node:test'; test('${name}', () => {});\n`;
const ranFiles = (stdout: string) => [...stdout.matchAll(/\] (\S+) (?:passed|failed|ran no tests|skipped)/g)].map((m) => m[1]).sort();

describe('choosing test files', () => {
  const files = {
    'test/a.test.mjs': tiny('a'),
    'test/core/b.test.js': tiny('b'),
    'test/core/test_c.mjs': tiny('c'),
    'test/d.test.cjs': "const { test } = require('node:test'); test('d', () => {});\n",
    'test/helper.mjs': 'export const notATest = 1;\n',
    'test/node_modules/x.test.mjs': tiny('never'),
  };

  test('discovers *.test.* and test_* files and names them by path without extension', async () => {
    const r = await runKeel(['test'], suite(files));
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(ranFiles(r.stdout), ['a', 'core/b', 'core/test_c', 'd']);
  });

  test('names and folders select; -x excludes; --fromfile reads names', async () => {
    const dir = suite(files);
    assert.deepEqual(ranFiles((await runKeel(['test', 'core'], dir)).stdout), ['core/b', 'core/test_c']);
    assert.deepEqual(ranFiles((await runKeel(['test', '-x', 'core', 'a'], dir)).stdout), ['d']);
    writeFileSync(path.join(dir, 'list.txt'), '# chosen\na\ncore/test_c.mjs\n');
    assert.deepEqual(ranFiles((await runKeel(['test', '--fromfile', 'list.txt'], dir)).stdout), ['a', 'core/test_c']);
  });

  test('an unknown name is a clear error', async () => {
    const r = await runKeel(['test', 'nope'], suite(files));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /keel: error: no test file matches: nope \[KEEL_ERR_TEST_NOT_FOUND\]/);
  });

  test('--shard slices are disjoint and cover every file', async () => {
    const dir = suite(files);
    const one = ranFiles((await runKeel(['test', '--shard', '1/2'], dir)).stdout);
    const two = ranFiles((await runKeel(['test', '--shard', '2/2'], dir)).stdout);
    assert.deepEqual([...one, ...two].sort(), ['a', 'core/b', 'core/test_c', 'd']);
    assert.equal(one.filter((f) => two.includes(f)).length, 0);
  });

  test('-r prints its seed and --randseed repeats the same order', async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 12; i++) many[`test/f${i}.test.mjs`] = tiny(`f${i}`);
    const dir = suite(many);
    const order = (out: string) => [...out.matchAll(/\] (f\d+) passed/g)].map((m) => m[1]).join(',');
    const first = await runKeel(['test', '-r'], dir);
    const seed = /Using random seed: (\d+)/.exec(first.stdout)?.[1];
    assert.ok(seed);
    const again = await runKeel(['test', '--randseed', seed!], dir);
    assert.equal(order(again.stdout), order(first.stdout), first.stdout + again.stdout);
    const sorted = Array.from({ length: 12 }, (_, i) => `f${i}`).sort().join(',');
    const other = await runKeel(['test', '--randseed', String(Number(seed) + 1)], dir);
    assert.notEqual(order(other.stdout) === sorted && order(first.stdout) === sorted, true, 'a random order is not always the sorted one');
  });
});

describe('choosing tests inside files', () => {
  const file = `import { test, describe } from 'node:test';
describe('parser', () => {
  test('numbers', () => {});
  test('strings', () => {});
});
test('network call', () => {});
`;

  test('-m keeps matching tests, -i drops them, and the counts say (filtered)', async () => {
    const dir = suite({ 'test/p.test.mjs': file });
    const only = await runKeel(['test', '-m', 'parser > num*', '--json', 'm.json'], dir);
    assert.equal(only.code, 0, only.stdout);
    assert.equal(closingLines(only.stdout).tests, '1 passed, 0 failed, 0 skipped');
    assert.match(only.stdout, /Total tests: run=1 .*\(filtered\)/);
    const ignored = await runKeel(['test', '-i', 'network*'], dir);
    assert.equal(closingLines(ignored.stdout).tests, '2 passed, 0 failed, 0 skipped');
  });
});

describe('resources', () => {
  const file = `import { test } from 'node:test'; import { requires } from 'keel/test';
test('fetches', requires('network'), () => {});
`;
  test('a test needing a resource is skipped as resource denied unless -u enables it', async () => {
    // The suite lives inside the repository so that `keel/test` resolves to this package.
    const dir = suite({ 'test/net.test.mjs': file });
    const local = path.join(repoRoot, 'build', 'tmp-resource-suite');
    const { cpSync, rmSync } = await import('node:fs');
    rmSync(local, { recursive: true, force: true });
    cpSync(dir, local, { recursive: true });
    try {
      const denied = await runKeel(['test'], local);
      assert.equal(denied.code, 0, denied.stdout + denied.stderr);
      assert.match(denied.stdout, /net skipped \(resource denied\)/);
      assert.match(denied.stdout, /1 test file skipped \(resource denied\):\n {4}net/);
      assert.equal(closingLines(denied.stdout).tests, '0 passed, 0 failed, 1 skipped');
      const allowed = await runKeel(['test', '-u', 'all'], local);
      assert.equal(closingLines(allowed.stdout).tests, '1 passed, 0 failed, 0 skipped');
      const minus = await runKeel(['test', '-u', 'all,-network'], local);
      assert.equal(closingLines(minus.stdout).tests, '0 passed, 0 failed, 1 skipped');
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });
});

describe('other runs', () => {
  test('a file with no tests: NO TESTS RAN, exit 4', async () => {
    const r = await runKeel(['test'], suite({ 'test/empty.test.mjs': '// nothing here\n' }));
    assert.equal(r.code, 4, r.stdout);
    assert.match(r.stdout, /empty ran no tests/);
    assert.match(r.stdout, /1 test file ran no tests:\n {4}empty/);
    assert.equal(closingLines(r.stdout).result, 'NO TESTS RAN');
  });

  test('TypeScript test files run through --import tsx', async () => {
    const dir = suite({ 'test/typed.test.ts': "import { test } from 'node:test';\nconst n: number = 2;\ntest('typed', () => { if (n !== 2) throw new Error('bad'); });\n" });
    const r = await runKeel(['test', '--import', path.join(repoRoot, 'node_modules/tsx/dist/loader.mjs')], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(closingLines(r.stdout).tests, '1 passed, 0 failed, 0 skipped');
  });

  test('--forever runs again until a failure', async () => {
    const dir = suite({
      'test/third.test.mjs': `import { test } from 'node:test'; import { appendFileSync, readFileSync } from 'node:fs';
const f = new URL('../count', import.meta.url);
test('fails on the third run', () => { appendFileSync(f, 'x'); if (readFileSync(f, 'utf8').length >= 3) throw new Error('third'); });
`,
    });
    const r = await runKeel(['test', '--forever'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /\[ {2}3\] third failed/);
    assert.match(r.stdout, /Ran the test files 3 times \(--forever\)/);
    assert.equal(closingLines(r.stdout).tests, '0 passed, 1 failed, 0 skipped');
  });

  test('files running long are named every notice interval', async () => {
    const dir = suite({ 'test/slow.test.mjs': "import { test } from 'node:test'; test('sleeps', () => new Promise((r) => setTimeout(r, 2500)));\n" });
    const r = await runKeel(['test', '--running-notice', '1'], dir);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /running \(1\): slow \(\d/);
    assert.match(r.stdout, /slow passed \(2\.\d sec\)/);
  });
});
