import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseShard, seededRandom, selectTests, shardTests, shuffle, testNameOf } from '../../src/runner/discover.js';
import { KeelError } from '../../src/errors.js';

describe('testNameOf', () => {
  test('strips the test suffix and extension, keeps folders', () => {
    assert.equal(testNameOf('core/parser.test.ts'), 'core/parser');
    assert.equal(testNameOf('a.test.mjs'), 'a');
    assert.equal(testNameOf('x/test_os.js'), 'x/test_os');
    assert.equal(testNameOf('test_os.cjs'), null, 'test_* files are .js, .mjs or .ts only');
    assert.equal(testNameOf('helper.js'), null);
    assert.equal(testNameOf('parser.test.d.ts'), null);
  });
});

describe('selection', () => {
  const files = ['a', 'core/b', 'core/c', 'd'].map((name) => ({ name, path: `/t/${name}.test.js` }));
  test('a folder name selects the files under it, in the order named', () => {
    assert.deepEqual(selectTests(files, { names: ['d', 'core'], exclude: false }).map((f) => f.name), ['d', 'core/b', 'core/c']);
  });
  test('a file path names its test', () => {
    assert.deepEqual(selectTests(files, { names: ['./core/b.test.js'], exclude: false }).map((f) => f.name), ['core/b']);
  });
  test('unknown names are all listed in the error', () => {
    assert.throws(() => selectTests(files, { names: ['x', 'a', 'y'], exclude: false }), (e: unknown) => e instanceof KeelError && e.code === 'KEEL_ERR_TEST_NOT_FOUND' && /x, y/.test(e.message));
  });
});

describe('shards', () => {
  test('K/N slices partition the files whatever their order', () => {
    const files = Array.from({ length: 23 }, (_, i) => ({ name: `f${String(i).padStart(2, '0')}`, path: '' }));
    const shuffled = shuffle(files, 7);
    const seen: string[] = [];
    for (let k = 1; k <= 4; k++) {
      const a = shardTests(files, { index: k, count: 4 }).map((f) => f.name).sort();
      const b = shardTests(shuffled, { index: k, count: 4 }).map((f) => f.name).sort();
      assert.deepEqual(a, b);
      seen.push(...a);
    }
    assert.deepEqual(seen.sort(), files.map((f) => f.name));
  });
  test('bad shard values are refused', () => {
    for (const bad of ['0/2', '3/2', 'a/b', '1', '1/0']) assert.throws(() => parseShard(bad), /--shard expects K\/N/);
    assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
  });
});

describe('random order', () => {
  test('a seed gives the same sequence every time and different seeds differ', () => {
    const a = seededRandom(123);
    const b = seededRandom(123);
    const xs = Array.from({ length: 5 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const items = Array.from({ length: 50 }, (_, i) => i);
    assert.deepEqual(shuffle(items, 1), shuffle(items, 1));
    assert.notDeepEqual(shuffle(items, 1), shuffle(items, 2));
    assert.deepEqual([...shuffle(items, 1)].sort((x, y) => x - y), items);
  });
});
