// Test steps on a real worker process: real node:test and regrtest output parsed as it streams,
// the outcomes stored in SQLite with fingerprints, the step summaries naming the failures, a
// flaky-only step in WARNINGS and quarantined failures no longer turning a step red.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KeelConfig } from '../../src/master/config.js';
import type { MasterEvent } from '../../src/master/events.js';
import { api, forceAndWait, logText, startCi, tempDir } from './ci-harness.js';
import type { CiSetup, RunningMaster } from './ci-harness.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/results/', import.meta.url));
const regrtest = (name: string) => JSON.stringify(join(fixtures, 'regrtest', name));
const junit = (name: string) => JSON.stringify(join(fixtures, 'junit', name));

// The suite a build runs (written to a temp dir, not one of Keel's tests): a pass, a failure, an
// error and a skip, so that every outcome kind reaches storage; the skip is the point.
const NODE_TESTS = `import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
test('adds', () => assert.equal(1 + 1, 2));
test('subtracts wrongly', () => assert.equal(1 - 1, 2));
describe('parser', () => {
  test('parses ints', () => {});
  test('throws inside', () => { throw new TypeError('cannot read x of undefined'); });
});
test.skip('skipped on purpose', () => {});
`;

const TOKEN = 'tok-test-outcomes';

function outcomesConfig(dir: string): KeelConfig {
  const file = join(dir, 'calc.test.mjs');
  writeFileSync(file, NODE_TESTS);
  const node = `${JSON.stringify(process.execPath)} --test --test-reporter=spec ${JSON.stringify(file)}`;
  return {
    workers: [{ name: 'w1', secret: 'pw1', maxBuilds: 2 }],
    auth: { tokens: [TOKEN] },
    builders: [
      { name: 'node-tests', workers: ['w1'], steps: [{ type: 'test', name: 'test', command: node }] },
      // A plain shell step whose log turns out to be a test run is parsed too.
      { name: 'node-shell', workers: ['w1'], steps: [{ type: 'shell', name: 'run', command: node }, { type: 'shell', name: 'compile', command: 'echo gcc -c a.c' }] },
      { name: 'regrtest', workers: ['w1'], steps: [{ type: 'test', name: 'test', command: `cat ${regrtest('regrtest-seq-rerun.txt')}; exit 2` }] },
      // Report files: the worker sends the matching ones after the command; a glob out of the
      // workdir, a symbolic link out of it and a file past the size limit are not sent.
      {
        name: 'junit-reports', workers: ['w1'], steps: [{
          type: 'test', name: 'pytest', reports: ['reports/*.xml', '../outside.xml'],
          command: `mkdir -p reports && cp ${junit('pytest.xml')} reports/pytest.xml && echo '<secret/>' > ../outside.xml && ln -sf "$PWD/../outside.xml" reports/link.xml && echo ran; exit 1`,
        }],
      },
      { name: 'flaky-only', workers: ['w1'], steps: [{ type: 'test', name: 'test', command: `cat ${regrtest('cpython-out313_flaky_seq.txt')}`, format: 'regrtest' }] },
    ],
  };
}

describe('test outcomes of builds on a real worker', () => {
  let ci: CiSetup;
  let m: RunningMaster;
  const dir = tempDir('keel-outcomes-');

  before(async () => {
    ci = await startCi(outcomesConfig(dir.path), dir, [['w1', 'pw1']]);
    m = ci.m;
  });
  after(() => ci.stop());

  it('a test step running node --test stores every outcome and names its failures', async () => {
    const events: MasterEvent[] = [];
    const unsubscribe = m.master.events.subscribe((e) => events.push(e));
    const build = await forceAndWait(m, 'node-tests', { branch: 'main', revision: 'abc123' }, TOKEN);
    assert.equal(build.result, 'failure');
    assert.deepEqual(build.steps.map((s) => [s.name, s.result, s.reason]), [
      ['test', 'failure', '2 failed: parser > throws inside, subtracts wrongly (exit code 1)'],
    ]);
    const rows = await m.storage.listTestOutcomes(build.id);
    assert.deepEqual(rows.map((r) => [r.testId, r.outcome]).sort(), [
      ['adds', 'pass'], ['parser > parses ints', 'pass'], ['parser > throws inside', 'fail'], ['skipped on purpose', 'skip'], ['subtracts wrongly', 'fail'],
    ]);
    for (const r of rows) {
      assert.deepEqual([r.buildId, r.builder, r.branch, r.revision, r.worker, r.step, r.startedAt], [build.id, 'node-tests', 'main', 'abc123', 'w1', 'test', build.startedAt]);
      assert.equal(r.fingerprint !== null, r.outcome === 'fail', r.testId);
    }
    const thrown = rows.find((r) => r.testId === 'parser > throws inside');
    assert.match(thrown?.message ?? '', /TypeError/);
    assert.match(thrown?.details ?? '', /calc\.test\.mjs/);
    unsubscribe();
    assert.deepEqual(events.filter((e) => e.type === 'tests.stored'), [{ type: 'tests.stored', buildId: build.id, step: 0, name: 'test', total: 5, failed: 2, flaky: 0 }]);
  });

  it('a shell step whose log is a test run is parsed; one that is not stores nothing', async () => {
    const build = await forceAndWait(m, 'node-shell', {}, TOKEN);
    assert.deepEqual(build.steps.map((s) => [s.name, s.result, s.reason]), [
      ['run', 'failure', '2 failed: parser > throws inside, subtracts wrongly (exit code 1)'],
      ['compile', 'success', null],
    ]);
    const rows = await m.storage.listTestOutcomes(build.id);
    assert.equal(rows.length, 5);
    assert.ok(rows.every((r) => r.step === 'run'));
  });

  it('regrtest output: failures after re-runs are red, the flaky one is named apart', async () => {
    const build = await forceAndWait(m, 'regrtest', { branch: 'main', revision: 'r1' }, TOKEN);
    assert.equal(build.result, 'failure');
    assert.equal(build.steps[0]?.reason, '2 failed: test_mixed.MixedTests.test_error, test_mixed.MixedTests.test_fail; 1 flaky: test_flaky.FlakyTests.test_sometimes (exit code 2)');
    const failed = await m.storage.listTestOutcomes(build.id, ['fail', 'error']);
    assert.deepEqual(failed.map((r) => [r.testId, r.outcome, r.attempt]), [
      ['test_mixed.MixedTests.test_error', 'error', 2], ['test_mixed.MixedTests.test_fail', 'fail', 2],
    ]);
    assert.ok(failed.every((r) => /^[0-9a-f]{16}$/.test(r.fingerprint ?? '')));
  });

  it('a test step\'s report files are uploaded and parsed, nothing from outside its workdir', async () => {
    const build = await forceAndWait(m, 'junit-reports', {}, TOKEN);
    assert.equal(build.result, 'failure');
    assert.equal(build.steps[0]?.reason, '4 failed: tests.test_calc.test_param[2], tests.test_calc.test_sub_fails, tests.test_calc.test_uses_broken, tests.test_other.TestGroup.test_raises (exit code 1)');
    const rows = await m.storage.listTestOutcomes(build.id);
    assert.equal(rows.length, 11);
    assert.deepEqual(rows.filter((r) => r.outcome === 'xfail').map((r) => r.testId), ['tests.test_calc.test_known_bug']);
    const log = await logText(m, build.id, 0);
    assert.match(log, /^report reports\/pytest\.xml: 11 tests \(junit\)$/m);
    assert.match(log, /^report \.\.\/outside\.xml not sent: outside the step's workdir$/m);
    // The symbolic link to the file outside is neither followed nor sent.
    assert.doesNotMatch(log, /^report reports\/link\.xml/m);
  });

  it('a step whose tests only failed then passed is WARNINGS', async () => {
    const build = await forceAndWait(m, 'flaky-only', {}, TOKEN);
    assert.equal(build.result, 'warnings');
    assert.deepEqual(build.steps.map((s) => [s.result, s.reason]), [['warnings', '1 flaky: test_flaky2.FlakyTests.test_sometimes (tests failed then passed when re-run)']]);
    const flaky = await m.storage.listTestOutcomes(build.id, ['flaky']);
    assert.deepEqual(flaky.map((r) => [r.testId, r.attempt]), [['test_flaky2.FlakyTests.test_sometimes', 2]]);
  });

  it('quarantined tests still run and are stored, but their failures only warn', async () => {
    const path = (id: string) => `/tests/${encodeURIComponent(id)}/quarantine`;
    const events: MasterEvent[] = [];
    const unsubscribe = m.master.events.subscribe((e) => events.push(e));
    assert.equal((await api(m.url, path('test_mixed.MixedTests.test_error'), { method: 'POST', body: {} })).status, 401);
    const added = await api(m.url, path('test_mixed.MixedTests.test_error'), { method: 'POST', body: { reason: 'known' }, token: TOKEN });
    assert.deepEqual([added.status, added.body], [201, { testId: 'test_mixed.MixedTests.test_error', quarantined: true, added: true }]);
    assert.equal((await api(m.url, path('test_mixed.MixedTests.test_error'), { method: 'POST', body: {}, token: TOKEN })).status, 200);
    assert.equal((await api(m.url, path('test_mixed.MixedTests.test_fail'), { method: 'POST', token: TOKEN })).status, 201);
    const list = await api<{ tests: { testId: string; reason: string | null }[]; total: number }>(m.url, '/quarantine');
    assert.deepEqual(list.body.tests.map((t) => [t.testId, t.reason]), [['test_mixed.MixedTests.test_error', 'known'], ['test_mixed.MixedTests.test_fail', null]]);
    try {
      const build = await forceAndWait(m, 'regrtest', {}, TOKEN);
      assert.equal(build.result, 'warnings');
      assert.equal(build.steps[0]?.reason, '1 flaky: test_flaky.FlakyTests.test_sometimes; 2 quarantined: test_mixed.MixedTests.test_error, test_mixed.MixedTests.test_fail (exit code 2)');
      assert.equal((await m.storage.listTestOutcomes(build.id, ['fail', 'error'])).length, 2);
    } finally {
      const lifted = await api(m.url, path('test_mixed.MixedTests.test_error'), { method: 'DELETE', token: TOKEN });
      assert.deepEqual(lifted.body, { testId: 'test_mixed.MixedTests.test_error', quarantined: false, lifted: true });
      assert.equal((await api(m.url, path('test_mixed.MixedTests.test_fail'), { method: 'DELETE' })).status, 401);
      await api(m.url, path('test_mixed.MixedTests.test_fail'), { method: 'DELETE', token: TOKEN });
      assert.equal((await api<{ total: number }>(m.url, '/quarantine')).body.total, 0);
      unsubscribe();
      assert.deepEqual(events.filter((e) => e.type === 'test.quarantine').map((e) => e.type === 'test.quarantine' && [e.testId, e.quarantined]), [
        ['test_mixed.MixedTests.test_error', true], ['test_mixed.MixedTests.test_fail', true],
        ['test_mixed.MixedTests.test_error', false], ['test_mixed.MixedTests.test_fail', false],
      ]);
    }
  });

  it('the API serves a build\'s tests, a test\'s history (ids percent-encoded) and the current failures', async () => {
    const build = await forceAndWait(m, 'node-tests', { branch: 'main', revision: 'def456' }, TOKEN);
    const all = await api<{ tests: Record<string, unknown>[]; total: number; counts: Record<string, number> }>(m.url, `/builds/${build.id}/tests`);
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 5);
    assert.deepEqual(all.body.counts, { total: 5, pass: 2, fail: 2, error: 0, skip: 1, xfail: 0, flaky: 0 });
    assert.deepEqual(Object.keys(all.body.tests[0]!).sort(), ['attempt', 'details', 'durationMs', 'file', 'fingerprint', 'id', 'message', 'name', 'outcome', 'quarantined', 'step']);
    const failed = await api<{ tests: { id: string; outcome: string; quarantined: boolean }[]; total: number }>(m.url, `/builds/${build.id}/tests?outcome=fail,error`);
    assert.deepEqual(failed.body.tests.map((t) => [t.id, t.outcome, t.quarantined]).sort(), [['parser > throws inside', 'fail', false], ['subtracts wrongly', 'fail', false]]);
    assert.equal((await api(m.url, `/builds/${build.id}/tests?outcome=broken`)).status, 400);
    assert.equal((await api(m.url, '/builds/999999/tests')).status, 404);

    // ' ', '>' and '/' all in one path segment, as encodeURIComponent writes them.
    const id = 'parser > throws inside';
    const history = await api<{ testId: string; quarantined: boolean; runs: { buildId: number; outcome: string; revision: string; fingerprint: string | null }[]; total: number }>(m.url, `/tests/${encodeURIComponent(id)}/history`);
    assert.equal(history.status, 200);
    assert.equal(history.body.testId, id);
    assert.ok(history.body.total >= 3);
    assert.deepEqual([history.body.runs[0]?.buildId, history.body.runs[0]?.revision, history.body.runs[0]?.outcome], [build.id, 'def456', 'fail']);
    assert.equal(new Set(history.body.runs.map((r) => r.fingerprint)).size, 1, 'one failure, one fingerprint');
    assert.equal((await api(m.url, `/tests/${encodeURIComponent(id)}/history?limit=1`)).body['total'], 1);
    assert.equal((await api(m.url, `/tests/${encodeURIComponent('no/such > test')}/history`)).status, 404);
    const slash = await api(m.url, `/tests/${encodeURIComponent('a/b > c')}/quarantine`, { method: 'POST', token: TOKEN });
    assert.deepEqual(slash.body, { testId: 'a/b > c', quarantined: true, added: true });
    await api(m.url, `/tests/${encodeURIComponent('a/b > c')}/quarantine`, { method: 'DELETE', token: TOKEN });

    const failures = await api<{ groups: { fingerprint: string; tests: string[]; builders: string[]; failures: { testId: string; build: { buildId: number } }[] }[] }>(m.url, '/failures');
    const nodeGroups = failures.body.groups.filter((g) => g.builders.includes('node-tests'));
    assert.deepEqual(nodeGroups.flatMap((g) => g.failures.filter((f) => f.build.buildId === build.id).map((f) => f.testId)).sort(), ['parser > throws inside', 'subtracts wrongly']);
    const flaky = await api<{ flaky: unknown[]; total: number }>(m.url, '/flaky');
    assert.equal(flaky.status, 200);
    assert.ok(Array.isArray(flaky.body.flaky));
  });
});
