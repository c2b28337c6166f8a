// The force scheduler's typed parameters: defaults, coercion of command-line strings, and every
// problem reported before anything is queued.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { forceScheduler, parseParamAssignments, validateForceParams, type ForceParam } from '../../../src/master/schedulers/force-scheduler.js';
import { KeelError } from '../../../src/errors.js';
import { recordingSubmitter } from '../../helpers/recording-submitter.js';

const params: ForceParam[] = [
  { type: 'choice', name: 'python', choices: ['3.12', '3.13'], default: '3.13' },
  { type: 'boolean', name: 'pgo' },
  { type: 'string', name: 'testopts', default: '-j2', maxLength: 40 },
  { type: 'string', name: 'ticket', regex: /[A-Z]+-\d+/ },
  { type: 'int', name: 'shards', default: 1, min: 1, max: 8 },
  { type: 'string', name: 'note', required: true },
];

describe('force parameters', () => {
  test('defaults fill what is not given; strings from the command line are coerced', () => {
    assert.deepEqual(validateForceParams(params, { note: 'x' }), { ok: true, values: { python: '3.13', pgo: false, testopts: '-j2', ticket: '', shards: 1, note: 'x' } });
    assert.deepEqual(validateForceParams(params, { note: 'x', pgo: 'yes', shards: '4', python: '3.12', ticket: 'KEEL-12' }),
      { ok: true, values: { python: '3.12', pgo: true, testopts: '-j2', ticket: 'KEEL-12', shards: 4, note: 'x' } });
    assert.deepEqual(validateForceParams(params, { note: 'x', pgo: false, shards: 8 }).ok, true);
  });

  test('every problem is listed: unknown, missing, wrong type, outside the choices or bounds', () => {
    const result = validateForceParams(params, { python: '2.7', pgo: 'maybe', shards: '9', ticket: 'keel 12', testopts: 'x'.repeat(41), colour: 'red' });
    assert.deepEqual(result, { ok: false, problems: [
      'colour: no such parameter', 'python: one of 3.12, 3.13', 'pgo: true or false', 'testopts: at most 40 characters',
      'ticket: must match /[A-Z]+-\\d+/', 'shards: at most 8', 'note: required',
    ] });
  });
});

describe('force scheduler', () => {
  test('submits one request per builder with the parameters as properties', async () => {
    const submitter = recordingSubmitter();
    const force = forceScheduler({ name: 'force', builders: ['linux', 'mac'], params, properties: { tier: 1 } }, { submitter });
    const submitted = await force.force({ branch: 'main', revision: 'abc', owner: 'ada', params: { note: 'why', pgo: 'true' } });
    assert.deepEqual(submitted, submitter.requests);
    assert.deepEqual(submitter.requests.map((r) => r.builder), ['linux', 'mac']);
    assert.deepEqual(submitter.requests[0], {
      builder: 'linux', scheduler: 'force', reason: 'forced by ada', repository: undefined, branch: 'main', revision: 'abc', changes: [], owner: 'ada',
      properties: { tier: 1, python: '3.13', pgo: true, testopts: '-j2', ticket: '', shards: 1, note: 'why', scheduler: 'force', owner: 'ada' },
    });
    await force.force({ builder: 'mac', reason: 'flaky?', params: { note: 'n' } });
    assert.deepEqual(submitter.requests.slice(2).map((r) => [r.builder, r.reason]), [['mac', 'flaky?']]);
  });

  test('a bad request throws KEEL_ERR_FORCE_PARAMS and queues nothing', async () => {
    const submitter = recordingSubmitter();
    const force = forceScheduler({ builders: ['linux'], params }, { submitter });
    await assert.rejects(force.force({ builder: 'windows', params: { shards: 'many' } }), (err: unknown) =>
      err instanceof KeelError && err.code === 'KEEL_ERR_FORCE_PARAMS'
      && /builder: windows is not one of linux/.test(err.message) && /params\.shards: an integer/.test(err.message) && /params\.note: required/.test(err.message));
    assert.deepEqual(submitter.requests, []);
  });

  test('a parameter list with mistakes is refused at creation', () => {
    const bad = [
      { type: 'choice', name: 'python', choices: ['3.12'], default: '3.14' },
      { type: 'string', name: 'python' },
      { type: 'date', name: 'when' },
    ] as unknown as ForceParam[];
    assert.throws(() => forceScheduler({ builders: ['linux'], params: bad }, { submitter: recordingSubmitter() }), (err: unknown) =>
      err instanceof KeelError && err.code === 'KEEL_ERR_SCHEDULER_INVALID'
      && /params\.0\.default/.test(err.message) && /declared twice/.test(err.message) && /params\.2\.type/.test(err.message));
  });
});

describe('keel force --param', () => {
  test('NAME=VALUE pairs become params; the value keeps any further =', () => {
    const given = parseParamAssignments(['pgo=yes', 'testopts=-j4 -u all=1', 'note=']);
    assert.deepEqual(given, { pgo: 'yes', testopts: '-j4 -u all=1', note: '' });
    assert.deepEqual(validateForceParams(params, { ...given, note: 'n' }).ok, true);
  });

  test('a pair without = or a name twice is refused', () => {
    assert.throws(() => parseParamAssignments(['pgo', '=x', 'a=1', 'a=2']), (err: unknown) =>
      err instanceof KeelError && err.code === 'KEEL_ERR_FORCE_PARAMS' && /"pgo": write NAME=VALUE/.test(err.message) && /"=x"/.test(err.message) && /a: given twice/.test(err.message));
  });
});
