// Chunked input, as a worker streams a log: any split gives the same results as whole lines,
// and a partial line on one stream is not completed by the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ChunkFeeder } from '../../src/results/chunk-feeder.js';
import { createParser, parseText } from '../../src/results/create-parser.js';

const fixture = (path: string) => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/results/${path}`, import.meta.url)), 'utf8');

test('any chunking of a log gives the results of its whole lines', () => {
  for (const path of ['regrtest/regrtest-j2-rerun.txt', 'pytest/pytest-verbose.txt', 'junit/surefire-rerun.xml', 'jest/jest.json', 'go/go-json-packages.jsonl']) {
    const text = fixture(path);
    const expected = parseText(text);
    for (let seed = 1; seed <= 20; seed++) {
      const feeder = new ChunkFeeder(createParser('auto'));
      let at = 0;
      let n = seed;
      while (at < text.length) {
        n = (n * 1103515245 + 12345) & 0x7fffffff;
        const size = 1 + (n % 300);
        feeder.write(text.slice(at, at + size));
        at += size;
      }
      assert.deepEqual(feeder.finish(), expected, `${path}, split ${seed}`);
    }
  }
});

test('stdout and stderr keep their own partial lines', () => {
  const feeder = new ChunkFeeder(createParser('tap'));
  feeder.write('TAP version 14\nok 1 - al', 'stdout');
  feeder.write('warning: something on stderr without its newline yet', 'stderr');
  feeder.write('pha\nnot ok 2 - beta', 'stdout');
  feeder.write('\n', 'stderr');
  const r = feeder.finish();
  assert.deepEqual(r.tests.map((t) => [t.id, t.outcome]), [['alpha', 'pass'], ['beta', 'fail']]);
});
