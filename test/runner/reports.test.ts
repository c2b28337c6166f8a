// --junit-xml and --json from a real run: valid XML read back by a real parser, flaky tests in
// Surefire's form, crashed files recorded, and the JSON document of docs/json-report.md.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { makeSuite, removeSuite, runKeel } from '../helpers/keel-cli.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeSuite));

test('JUnit XML and JSON describe flaky, failing, skipped and crashed tests', async () => {
  const dir = makeSuite({
    'test/flaky.test.mjs': `import { test } from 'node:test'; import { existsSync, writeFileSync } from 'node:fs';
const marker = new URL('../marker', import.meta.url);
test('sometimes <fails> & "quotes"', () => { if (!existsSync(marker)) { writeFileSync(marker, ''); throw new Error('first \\u0001 run < fails'); } });
`,
    'test/broken.test.mjs': "import { test, describe } from 'node:test'; import assert from 'node:assert/strict';\ndescribe('math', () => { test('wrong', () => assert.equal(1, 2)); test('skipped', { skip: 'later' }, () => {}); });\n",
    'test/crash.test.mjs': "import { test } from 'node:test'; test('dies', () => process.abort());\n",
  });
  dirs.push(dir);
  const r = await runKeel(['test', '-j2', '-w', '--junit-xml', 'junit.xml', '--json', 'report.json'], dir);
  assert.equal(r.code, 2, r.stdout);

  const xml = readFileSync(path.join(dir, 'junit.xml'), 'utf8');
  assert.equal(XMLValidator.validate(xml), true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase'].includes(name) }).parse(xml);
  const suites = doc.testsuites.testsuite as { name: string; testcase: Record<string, unknown>[] }[];
  assert.deepEqual(suites.map((s) => s.name).sort(), ['broken', 'crash', 'flaky']);
  const byName = (suite: string) => suites.find((s) => s.name === suite)!.testcase;

  const [flaky] = byName('flaky');
  assert.equal(flaky!.name, 'sometimes <fails> & "quotes"');
  assert.equal(flaky!.classname, 'flaky');
  assert.equal((flaky!.flakyFailure as { message: string }).message, 'first \uFFFD run < fails');
  assert.equal(flaky!.failure, undefined);

  const broken = byName('broken');
  const wrong = broken.find((t) => t.name === 'math > wrong')!;
  assert.match((wrong.failure as { type: string }).type, /AssertionError/);
  assert.ok(wrong.rerunFailure, 'the failure of the re-run is kept as <rerunFailure>');
  const skipped = broken.find((t) => t.name === 'math > skipped')!;
  assert.equal((skipped.skipped as { message: string }).message, 'later');

  const [dies] = byName('crash');
  assert.match((dies!.error as { message: string }).message, /killed by signal SIGABRT/);

  const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8'));
  assert.equal(report.version, 1);
  assert.equal(report.result, 'FAILURE then FAILURE');
  assert.equal(report.exitCode, 2);
  const outcomes = Object.fromEntries(report.tests.map((t: { id: string; outcome: string }) => [t.id, t.outcome]));
  assert.deepEqual(outcomes, {
    'flaky > sometimes <fails> & "quotes"': 'flaky',
    'broken > math > wrong': 'fail',
    'broken > math > skipped': 'skip',
    'crash > dies': 'error',
  });
  const crash = report.files.find((f: { name: string }) => f.name === 'crash');
  assert.equal(crash.attempts.length, 2);
  assert.equal(crash.attempts[0].signal, 'SIGABRT');
});
