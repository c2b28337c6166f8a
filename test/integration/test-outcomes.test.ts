// Test steps on a real worker process: real node:test and regrtest output parsed as it streams,
// the outcomes stored in SQLite with fingerprints, the step summaries naming the failures, a
// flaky-only step in WARNINGS and quarantined failures no longer turning a step red.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KeelConfig } from '../../src/master/config.js';
import { forceAndWait, spawnWorker, startMaster, tempDir, waitFor } from './ci-harness.js';
import type { RunningMaster, WorkerProcess } from './ci-harness.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/results/', import.meta.url));
const regrtest = (name: string) => JSON.stringify(join(fixtures, 'regrtest', name));

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
      { name: 'flaky-only', workers: ['w1'], steps: [{ type: 'test', name: 'test', command: `cat ${regrtest('cpython-out313_flaky_seq.txt')}`, format: 'regrtest' }] },
    ],
  };
}

describe('test outcomes of builds on a real worker', () => {
  let m: RunningMaster;
  let worker: WorkerProcess;
  const dir = tempDir('keel-outcomes-');

  before(async () => {
    m = await startMaster(outcomesConfig(dir.path), { dbUrl: `sqlite:${join(dir.path, 'db.sqlite')}` });
    worker = spawnWorker(m.port, 'w1', 'pw1', join(dir.path, 'worker'));
    await waitFor('worker connected', () => m.master.registry.get('w1'));
  });
  after(async () => {
    await worker.stop();
    await m.stop();
    dir.remove();
  });

  it('a test step running node --test stores every outcome and names its failures', async () => {
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

  it('a step whose tests only failed then passed is WARNINGS', async () => {
    const build = await forceAndWait(m, 'flaky-only', {}, TOKEN);
    assert.equal(build.result, 'warnings');
    assert.deepEqual(build.steps.map((s) => [s.result, s.reason]), [['warnings', '1 flaky: test_flaky2.FlakyTests.test_sometimes (tests failed then passed when re-run)']]);
    const flaky = await m.storage.listTestOutcomes(build.id, ['flaky']);
    assert.deepEqual(flaky.map((r) => [r.testId, r.attempt]), [['test_flaky2.FlakyTests.test_sometimes', 2]]);
  });

  it('quarantined tests still run and are stored, but their failures only warn', async () => {
    await m.storage.quarantineTest('test_mixed.MixedTests.test_error', 'known', Date.now());
    await m.storage.quarantineTest('test_mixed.MixedTests.test_fail', null, Date.now());
    try {
      const build = await forceAndWait(m, 'regrtest', {}, TOKEN);
      assert.equal(build.result, 'warnings');
      assert.equal(build.steps[0]?.reason, '1 flaky: test_flaky.FlakyTests.test_sometimes; 2 quarantined: test_mixed.MixedTests.test_error, test_mixed.MixedTests.test_fail (exit code 2)');
      assert.equal((await m.storage.listTestOutcomes(build.id, ['fail', 'error'])).length, 2);
    } finally {
      await m.storage.unquarantineTest('test_mixed.MixedTests.test_error');
      await m.storage.unquarantineTest('test_mixed.MixedTests.test_fail');
    }
  });
});
