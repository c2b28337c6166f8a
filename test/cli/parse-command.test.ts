// `keel parse` as a user runs it: a real process on real fixtures, its output and exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/results/', import.meta.url));

function keel(...args: string[]) {
  const r = spawnSync(process.execPath, [main, 'parse', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('prints the format, the counts and each failed test with its message', () => {
  const r = keel(join(fixtures, 'regrtest/regrtest-seq-rerun.txt'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /regrtest-seq-rerun\.txt: regrtest, 5 tests \(1 pass, 1 fail, 1 error, 1 skip, 1 flaky\)/);
  assert.match(r.stdout, /FAIL {2}test_mixed\.MixedTests\.test_fail \(attempt 2\)\n {8}AssertionError: 1 != 2/);
  assert.match(r.stdout, /FLAKY test_flaky\.FlakyTests\.test_sometimes \(passed on attempt 2\)/);
  assert.doesNotMatch(r.stdout, /test_good/, 'passing tests are counted, not listed');
});

test('--json prints the document of DESIGN.md: format, summary, tests', () => {
  const r = keel('--json', join(fixtures, 'pytest/pytest-verbose.txt'));
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { format: string; summary: Record<string, number>; tests: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(doc), ['format', 'summary', 'tests']);
  assert.equal(doc.format, 'pytest');
  assert.deepEqual(doc.summary, { total: 11, pass: 5, fail: 3, error: 1, skip: 1, xfail: 1, flaky: 0 });
  const t = doc.tests.find((x) => x['id'] === 'tests/test_calc.py::test_sub_fails')!;
  assert.deepEqual(Object.keys(t), ['id', 'file', 'name', 'outcome', 'durationMs', 'attempt', 'message', 'details']);
  assert.equal(t['message'], 'AssertionError: subtraction is broken');
  assert.match(String(t['details']), /tests\/test_calc\.py:7: AssertionError/);
});

test('--format overrides detection; several files make one document', () => {
  const r = keel('--json', '--format', 'junit', join(fixtures, 'junit/surefire-flaky.xml'), join(fixtures, 'junit/gotestsum.xml'));
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { format: string; summary: { total: number; flaky: number } };
  assert.equal(doc.format, 'junit');
  assert.equal(doc.summary.total, 11);
  assert.equal(doc.summary.flaky, 1);
});

test('user mistakes get one clear line with a code and exit 2, never a stack trace', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-parse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'notes.txt'), 'nothing here looks like a test run\n');
  writeFileSync(join(dir, 'empty.log'), '\n\n');
  const cases: [string[], RegExp][] = [
    [[join(dir, 'missing.log')], /cannot read .*missing\.log: no such file \[KEEL_ERR_PARSE_INPUT\]/],
    [[dir], /not a file \[KEEL_ERR_PARSE_INPUT\]/],
    [[join(dir, 'empty.log')], /empty\.log is empty \[KEEL_ERR_PARSE_INPUT\]/],
    [[join(dir, 'notes.txt')], /cannot tell the format of .*notes\.txt.*--format \[KEEL_ERR_PARSE_FORMAT\]/],
    [['--format', 'nunit', join(dir, 'notes.txt')], /--format expects one of auto, regrtest, .* got "nunit" \[KEEL_ERR_USAGE\]/],
  ];
  for (const [args, message] of cases) {
    const r = keel(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
  }
});

test('a reader that stops early (keel parse … | head) ends it quietly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-parse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines = ['Run 50000 tests in parallel using 2 worker processes'];
  for (let i = 1; i <= 50_000; i++) lines.push(`0:00:01 load avg: 1.0 [${i}/50000] test_m${i} passed`);
  writeFileSync(join(dir, 'big.log'), lines.join('\n') + '\n');
  const child = spawn(process.execPath, [main, 'parse', '--json', join(dir, 'big.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0);
  assert.equal(stderr, '');
});
