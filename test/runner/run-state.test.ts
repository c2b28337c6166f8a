import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FileRun, FileState } from '../../src/runner/file-result.js';
import { passState, verdict } from '../../src/runner/run-state.js';

const run = (state: FileState, extra: Partial<FileRun> = {}): FileRun => ({
  name: state,
  path: '',
  state,
  attempt: 1,
  durationMs: 1,
  tests: state === 'no tests ran' ? [] : [{ names: ['t'], outcome: 'pass', durationMs: 1 }],
  envChanges: state === 'env changed' ? ['x'] : [],
  output: '',
  exitCode: 0,
  signal: null,
  running: [],
  suites: [],
  ...extra,
});

describe('pass state', () => {
  const s = (runs: FileRun[], failEnvChanged = false, interrupted = false) => passState({ runs, failEnvChanged, interrupted }).text;
  test('in regrtest order of precedence', () => {
    assert.equal(s([run('passed')]), 'SUCCESS');
    assert.equal(s([run('passed'), run('failed')]), 'FAILURE');
    assert.equal(s([run('timed out')]), 'FAILURE');
    assert.equal(s([run('worker bug')]), 'FAILURE, WORKER BUG');
    assert.equal(s([run('env changed')]), 'SUCCESS');
    assert.equal(s([run('env changed')], true), 'ENV CHANGED');
    assert.equal(s([run('no tests ran')]), 'NO TESTS RAN');
    assert.equal(s([run('failed')], false, true), 'INTERRUPTED');
  });
});

describe('verdict and exit codes', () => {
  const st = (state: 'SUCCESS' | 'FAILURE' | 'ENV CHANGED' | 'NO TESTS RAN' | 'INTERRUPTED') => ({ state, text: state });
  test('without a re-run', () => {
    assert.deepEqual(verdict(st('SUCCESS'), null, false), { text: 'SUCCESS', exitCode: 0 });
    assert.deepEqual(verdict(st('FAILURE'), null, false), { text: 'FAILURE', exitCode: 2 });
    assert.deepEqual(verdict(st('ENV CHANGED'), null, false), { text: 'ENV CHANGED', exitCode: 3 });
    assert.deepEqual(verdict(st('NO TESTS RAN'), null, false), { text: 'NO TESTS RAN', exitCode: 4 });
    assert.deepEqual(verdict(st('INTERRUPTED'), null, false), { text: 'INTERRUPTED', exitCode: 130 });
  });
  test('after a re-run', () => {
    assert.deepEqual(verdict(st('FAILURE'), st('SUCCESS'), false), { text: 'FAILURE then SUCCESS', exitCode: 0 });
    assert.deepEqual(verdict(st('FAILURE'), st('SUCCESS'), true), { text: 'FAILURE then SUCCESS (failed by --fail-rerun)', exitCode: 5 });
    assert.deepEqual(verdict(st('FAILURE'), st('FAILURE'), true), { text: 'FAILURE then FAILURE', exitCode: 2 });
    assert.deepEqual(verdict(st('FAILURE'), st('INTERRUPTED'), false), { text: 'FAILURE then INTERRUPTED', exitCode: 130 });
  });
});
