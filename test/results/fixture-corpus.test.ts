// Every real output in test/fixtures/results is parsed and compared with its ground truth: the
// same tests, each with the same outcome and attempt, and the message a person would look for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createParser, parseText } from '../../src/results/create-parser.js';
import type { ParseResult, ResultFormat } from '../../src/results/result-parser.js';

const root = fileURLToPath(new URL('../../../test/fixtures/results/', import.meta.url));

interface Expected {
  format: ResultFormat;
  tests: { id: string; outcome: string; attempt: number; message?: string }[];
}

const fixtures: { dir: string; file: string; expected: Expected }[] = [];
for (const dir of readdirSync(root, { withFileTypes: true })) {
  if (!dir.isDirectory()) continue;
  for (const file of readdirSync(join(root, dir.name))) {
    if (file.endsWith('.expected.json')) continue;
    const expectedFile = join(root, dir.name, file.replace(/\.[^.]+$/, '') + '.expected.json');
    fixtures.push({ dir: dir.name, file, expected: JSON.parse(readFileSync(expectedFile, 'utf8')) as Expected });
  }
}

function check(result: ParseResult, expected: Expected, label: string): void {
  assert.equal(result.format, expected.format, `${label}: format`);
  const got = new Map(result.tests.map((t) => [t.id, t]));
  assert.equal(got.size, result.tests.length, `${label}: each test once`);
  assert.deepEqual([...got.keys()].sort(), expected.tests.map((t) => t.id).sort(), `${label}: test ids`);
  for (const e of expected.tests) {
    const t = got.get(e.id)!;
    assert.equal(t.outcome, e.outcome, `${label}: outcome of ${e.id}`);
    assert.equal(t.attempt, e.attempt, `${label}: attempt of ${e.id}`);
    if (e.message !== undefined) assert.ok(t.message?.startsWith(e.message), `${label}: message of ${e.id}: ${t.message}`);
  }
}

test('the corpus covers every format Keel parses', () => {
  const formats = new Set(fixtures.map((f) => f.expected.format));
  for (const f of ['regrtest', 'unittest', 'pytest', 'junit', 'tap', 'node', 'jest', 'vitest', 'mocha', 'go', 'cargo', 'ctrf', 'keel']) {
    assert.ok(formats.has(f as ResultFormat), `a fixture of ${f}`);
  }
  assert.ok(fixtures.length >= 50);
});

for (const { dir, file, expected } of fixtures) {
  const text = readFileSync(join(root, dir, file), 'utf8');

  test(`${dir}/${file}: detected and parsed as its ground truth says`, () => {
    check(parseText(text), expected, 'auto');
  });

  test(`${dir}/${file}: the same with --format ${expected.format}`, () => {
    check(parseText(text, expected.format), expected, 'named');
  });

  test(`${dir}/${file}: the same through CRLF line ends and ANSI colours, line by line`, () => {
    const parser = createParser('auto');
    for (const line of text.split('\n')) parser.feedLine(`${line.startsWith('<') || line.startsWith('{') ? '' : '\x1b[0m'}${line}\r`, 'stdout');
    check(parser.finish(), expected, 'crlf+ansi');
  });

  test(`${dir}/${file}: cut off after any of its first lines, still well-formed results`, () => {
    const lines = text.split('\n');
    for (let n = 1; n < Math.min(lines.length, 120); n++) {
      const cut = parseText(lines.slice(0, n).join('\n'), expected.format);
      for (const t of cut.tests) {
        assert.ok(['pass', 'fail', 'error', 'skip', 'xfail', 'flaky'].includes(t.outcome));
        assert.ok(typeof t.id === 'string' && t.attempt >= 1, `${n} lines: ${t.id}`);
      }
    }
  });
}
