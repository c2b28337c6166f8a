// Schedulers made from plain config objects: names, bad entries, the force lookup.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLog } from '../../../src/master/master-deps.js';
import { createSchedulers, forceSchedulersFor, type SchedulerConfig } from '../../../src/master/schedulers/create-schedulers.js';
import { KeelError } from '../../../src/errors.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { recordingSubmitter } from '../../helpers/recording-submitter.js';

const deps = () => ({ clock: new FakeClock('2026-11-27T00:00:00Z'), submitter: recordingSubmitter(), log: silentLog });

test('plain objects become schedulers; unnamed ones get their type as a name, numbered when repeated', async () => {
  const configs: SchedulerConfig[] = [
    { type: 'onChange', builders: ['linux'], branch: 'main' },
    { type: 'onChange', builders: ['mac'], branch: '3.13' },
    { type: 'nightly', name: 'nightly-main', builders: ['linux'], cron: '0 3 * * *' },
    { type: 'periodic', builders: ['linux'], every: 3600 },
    { type: 'force', builders: ['linux', 'mac'], params: [{ type: 'boolean', name: 'pgo' }] },
  ];
  const d = deps();
  const schedulers = createSchedulers(configs, d);
  assert.deepEqual(schedulers.map((s) => s.name), ['on-change', 'on-change-2', 'nightly-main', 'periodic', 'force']);
  const [force] = forceSchedulersFor(schedulers, 'mac');
  assert.equal(force?.name, 'force');
  await force!.force({ params: { pgo: 'on' } });
  assert.deepEqual(d.submitter.requests.map((r) => [r.builder, r.properties.pgo]), [['linux', true], ['mac', true]]);
  for (const s of schedulers) s.start();
  d.clock.advance(3_600_000);
  assert.equal(d.submitter.requests.length, 3);
  for (const s of schedulers) await s.stop();
  assert.equal(d.clock.pending, 0);
});

test('a bad entry is refused with its index; names may not repeat', () => {
  const invalid = (pattern: RegExp) => (err: unknown) => err instanceof KeelError && err.code === 'KEEL_ERR_SCHEDULER_INVALID' && pattern.test(err.message);
  assert.throws(() => createSchedulers([{ type: 'periodic', builders: ['a'], every: 60 }, { type: 'nightly', builders: ['a'], cron: 'nope' }], deps()), invalid(/^schedulers\.1: nightly scheduler/));
  assert.throws(() => createSchedulers([{ type: 'force', name: 'x', builders: ['a'] }, { type: 'periodic', name: 'x', builders: ['a'], every: 1 }], deps()), invalid(/schedulers\.1: the name x is used twice/));
  assert.throws(() => createSchedulers([{ type: 'hourly', builders: ['a'] } as unknown as SchedulerConfig], deps()), invalid(/schedulers\.0: type "hourly"/));
});
