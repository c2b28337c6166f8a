// The config schemas of schedulers: what they take (RegExp and functions included)
// and the paths of what they refuse; their output feeds createSchedulers as it is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLog } from '../../../src/master/master-deps.js';
import { createSchedulers } from '../../../src/master/schedulers/create-schedulers.js';
import { schedulerConfigSchema } from '../../../src/master/schedulers/scheduler-config-schema.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { recordingSubmitter } from '../../helpers/recording-submitter.js';

const problems = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (result.error?.issues ?? []).map((i) => `${i.path.map(String).join('.')}: ${i.message}`);

test('every scheduler type parses, and createSchedulers takes the output as it is', () => {
  const input = [
    { type: 'onChange', builders: ['linux'], branch: /3\.\d+/, treeStableTimer: 5, fileIsImportant: () => true, onlyImportant: true },
    { type: 'onChange', builders: ['linux'], branch: (b: string) => b !== 'wip' },
    { type: 'periodic', builders: ['linux'], every: 3600, branch: 'main' },
    { type: 'nightly', builders: ['linux'], cron: '0 3 * * *', timezone: 'Europe/Amsterdam', onlyIfChanged: true },
    { type: 'force', builders: ['linux'], params: [{ type: 'choice', name: 'python', choices: ['3.12', '3.13'], default: '3.13' }, { type: 'string', name: 'ticket', regex: /[A-Z]+-\d+/ }] },
  ];
  const parsed = input.map((entry) => schedulerConfigSchema.parse(entry));
  const schedulers = createSchedulers(parsed, { clock: new FakeClock(), submitter: recordingSubmitter(), log: silentLog });
  assert.deepEqual(schedulers.map((s) => s.name), ['on-change', 'on-change-2', 'periodic', 'nightly', 'force']);
});

test('wrong fields are reported with their paths', () => {
  assert.deepEqual(problems(schedulerConfigSchema.safeParse({ type: 'onChange', builders: [], branch: 3, treeStableTimer: -1 })), [
    'builders: at least one builder', 'branch: Invalid input', 'treeStableTimer: Too small: expected number to be >=0',
  ]);
  assert.deepEqual(problems(schedulerConfigSchema.safeParse({ type: 'force', builders: ['x'], params: [{ type: 'choice', name: 'py', choices: ['3.12'], default: '2.7' }] })),
    ['params.0.default: default must be one of the choices']);
  assert.deepEqual(problems(schedulerConfigSchema.safeParse({ type: 'nightly', builders: ['x'], cron: '0 3 * * *', fileIsImportant: 'docs/' })),
    ['fileIsImportant: expected a function (change => boolean)']);
  assert.equal(schedulerConfigSchema.safeParse({ type: 'hourly', builders: ['x'] }).success, false);
});
