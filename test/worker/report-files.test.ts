// Report files a worker sends back: found by glob inside the workdir, size-limited, and never
// read from outside it, whatever the glob or the symbolic links in the tree.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { collectReports } from '../../src/worker/report-files.js';
import type { ReportFile } from '../../src/worker/report-files.js';

const root = mkdtempSync(join(tmpdir(), 'keel-reports-'));
after(() => rmSync(root, { recursive: true, force: true }));
const cwd = join(root, 'build');
mkdirSync(join(cwd, 'reports', 'sub'), { recursive: true });
writeFileSync(join(cwd, 'reports', 'a.xml'), '<testsuite/>');
writeFileSync(join(cwd, 'reports', 'b.xml'), '<testsuite name="b"/>');
writeFileSync(join(cwd, 'reports', 'notes.txt'), 'no');
writeFileSync(join(cwd, 'reports', 'sub', 'deep.xml'), '<testsuites/>');
writeFileSync(join(cwd, 'big.xml'), 'x'.repeat(2000));
writeFileSync(join(root, 'secret.xml'), '<secret/>');
symlinkSync(join(root, 'secret.xml'), join(cwd, 'reports', 'link.xml'));
symlinkSync(root, join(cwd, 'reports', 'up'));

const show = (files: ReportFile[]) => files.map((f) => ('data' in f ? [f.path, f.data.toString()] : [f.path, `skipped: ${f.skipped}`]));

test('globs match inside the workdir: * within a folder, ** across folders', () => {
  assert.deepEqual(show(collectReports(cwd, ['reports/*.xml'])), [['reports/a.xml', '<testsuite/>'], ['reports/b.xml', '<testsuite name="b"/>']]);
  assert.deepEqual(show(collectReports(cwd, ['./reports/**/*.xml'])).map((f) => f[0]), ['reports/a.xml', 'reports/b.xml', 'reports/sub/deep.xml']);
  assert.deepEqual(show(collectReports(cwd, ['reports/?.xml', 'nothing/*.xml'])).map((f) => f[0]), ['reports/a.xml', 'reports/b.xml']);
});

test('nothing is read from outside: .., absolute globs and symbolic links', () => {
  assert.deepEqual(show(collectReports(cwd, ['../secret.xml', join(root, 'secret.xml'), 'reports/../../secret.xml'])), [
    ['../secret.xml', "skipped: outside the step's workdir"],
    [join(root, 'secret.xml'), "skipped: outside the step's workdir"],
    ['reports/../../secret.xml', "skipped: outside the step's workdir"],
  ]);
  // The link to a file and the link to a folder are neither read nor followed.
  const all = show(collectReports(cwd, ['**']));
  assert.ok(!all.some(([, text]) => text?.includes('secret')), JSON.stringify(all));
  assert.ok(!all.some(([path]) => path?.startsWith('reports/up/')));
});

test('size and count are limited; what is left out says why', () => {
  assert.deepEqual(show(collectReports(cwd, ['*.xml'], 1000)), [['big.xml', 'skipped: 2000 bytes, more than the 1000 a report may have']]);
  const two = show(collectReports(cwd, ['reports/**/*.xml'], 1000, 2));
  assert.deepEqual(two.map((f) => f[0]), ['reports/a.xml', 'reports/b.xml', 'reports/sub/deep.xml']);
  assert.equal(two[2]?.[1], 'skipped: more than 2 report files');
  assert.deepEqual(collectReports(join(root, 'missing'), ['*.xml']), []);
});
