// The periodic and nightly schedulers driven by a fake clock.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RecordedChange } from '../../../src/master/changes/change.js';
import { silentLog } from '../../../src/master/master-deps.js';
import { nightlyScheduler } from '../../../src/master/schedulers/nightly-scheduler.js';
import { periodicScheduler } from '../../../src/master/schedulers/periodic-scheduler.js';
import { KeelError } from '../../../src/errors.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { recordingSubmitter } from '../../helpers/recording-submitter.js';

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function deps(start: string) {
  const clock = new FakeClock(start);
  const submitter = recordingSubmitter();
  const infos: string[] = [];
  return { clock, submitter, infos, log: { ...silentLog, info: (m: string) => infos.push(m) } };
}

function change(id: number, branch: string, files = ['src/a.ts']): RecordedChange {
  return { id, repository: 'r', branch, revision: `rev${id}`, author: 'Ada', time: 0, message: '', files, source: 'poller' };
}

describe('periodic scheduler', () => {
  test('builds every N seconds from its start, and stops', async () => {
    const d = deps('2026-11-27T00:00:00Z');
    const times: string[] = [];
    const scheduler = periodicScheduler({ name: 'hourly', builders: ['linux'], every: 3600, branch: 'main' }, {
      ...d, submitter: { submit: async (r) => { d.submitter.requests.push(r); times.push(iso(d.clock.now())); } },
    });
    scheduler.start();
    d.clock.advance(HOUR - 1);
    assert.equal(times.length, 0);
    d.clock.advance(1 + 2 * HOUR);
    assert.deepEqual(times, ['2026-11-27T01:00:00.000Z', '2026-11-27T02:00:00.000Z', '2026-11-27T03:00:00.000Z']);
    assert.deepEqual(d.submitter.requests[0], {
      builder: 'linux', scheduler: 'hourly', reason: 'every 3600s', branch: 'main', repository: undefined, changes: [], properties: { scheduler: 'hourly' },
    });
    await scheduler.stop();
    d.clock.advance(10 * HOUR);
    assert.equal(times.length, 3);
  });

  test('refuses a period that is not a positive number', () => {
    const d = deps('2026-11-27T00:00:00Z');
    assert.throws(() => periodicScheduler({ builders: ['linux'], every: 0 }, d), (e: unknown) => e instanceof KeelError && e.code === 'KEEL_ERR_SCHEDULER_INVALID');
  });
});

describe('nightly scheduler', () => {
  test('builds at the cron times, in UTC unless told otherwise', async () => {
    const d = deps('2026-11-27T01:30:00Z');
    const times: string[] = [];
    const scheduler = nightlyScheduler({ name: 'nightly', builders: ['linux', 'mac'], cron: '0 3 * * *', branch: 'main' }, {
      ...d, submitter: { submit: async (r) => { d.submitter.requests.push(r); times.push(`${iso(d.clock.now())} ${r.builder}`); } },
    });
    scheduler.start();
    assert.equal(iso(scheduler.nextRunAt()!), '2026-11-27T03:00:00.000Z');
    await d.clock.advanceAsync(3 * 24 * HOUR);
    assert.deepEqual(times, [
      '2026-11-27T03:00:00.000Z linux', '2026-11-27T03:00:00.000Z mac',
      '2026-11-28T03:00:00.000Z linux', '2026-11-28T03:00:00.000Z mac',
      '2026-11-29T03:00:00.000Z linux', '2026-11-29T03:00:00.000Z mac',
    ]);
    assert.equal(d.submitter.requests[0]!.reason, 'cron 0 3 * * *');
    assert.equal(d.submitter.requests[0]!.branch, 'main');
    await scheduler.stop();
    assert.equal(d.clock.pending, 0);
  });

  test('a time zone moves the build with its clock changes', async () => {
    // 03:00 in New York is 07:00 UTC in summer time, 08:00 in winter; the clocks go back at
    // 02:00 on 2026-11-01.
    const d = deps('2026-10-30T12:00:00Z');
    const scheduler = nightlyScheduler({ builders: ['linux'], cron: '0 3 * * *', timezone: 'America/New_York' }, d);
    scheduler.start();
    const runs: string[] = [];
    for (let i = 0; i < 2; i++) {
      runs.push(iso(scheduler.nextRunAt()!));
      d.clock.advance(scheduler.nextRunAt()! - d.clock.now());
    }
    assert.deepEqual(runs, ['2026-10-31T07:00:00.000Z', '2026-11-01T08:00:00.000Z']);
    await scheduler.stop();
  });

  test('onlyIfChanged skips a night with no important change on its branch, and carries the changes otherwise', async () => {
    const d = deps('2026-11-27T12:00:00Z');
    const scheduler = nightlyScheduler({
      builders: ['linux'], cron: '30 2 * * 1-5', branch: 'main', onlyIfChanged: true, fileIsImportant: (c) => !c.files.every((f) => f.startsWith('docs/')),
    }, d);
    scheduler.start();
    scheduler.addChange(change(1, 'feature'));
    scheduler.addChange(change(2, 'main', ['docs/a.md']));
    await d.clock.advanceAsync(24 * HOUR);  // Friday 27th 12:00 to Saturday 12:00: no weekday 02:30 passes
    assert.equal(d.submitter.requests.length, 0);
    await d.clock.advanceAsync(2 * 24 * HOUR);  // Monday 30th 02:30
    assert.equal(d.submitter.requests.length, 0);
    assert.ok(d.infos.some((m) => m.includes('not building')));
    scheduler.addChange(change(3, 'main'));
    await d.clock.advanceAsync(24 * HOUR);  // Tuesday 1st 02:30
    assert.deepEqual(d.submitter.requests.map((r) => r.changes.map((c) => c.id)), [[3]]);
    await d.clock.advanceAsync(24 * HOUR);
    assert.equal(d.submitter.requests.length, 1);
    await scheduler.stop();
  });

  test('a cron expression that does not parse is refused', () => {
    const d = deps('2026-11-27T00:00:00Z');
    for (const cron of ['61 * * * *', 'every night', '* * *']) {
      assert.throws(() => nightlyScheduler({ builders: ['linux'], cron }, d), (e: unknown) => e instanceof KeelError && e.code === 'KEEL_ERR_SCHEDULER_INVALID' && e.message.includes(cron), cron);
    }
  });
});
