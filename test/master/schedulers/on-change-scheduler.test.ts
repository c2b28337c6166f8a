// The on-change scheduler under a fake clock: branch filters, treeStableTimer, fileIsImportant
// and onlyImportant.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RecordedChange } from '../../../src/master/changes/change.js';
import { silentLog } from '../../../src/master/master-deps.js';
import { onChangeScheduler, type OnChangeOptions } from '../../../src/master/schedulers/on-change-scheduler.js';
import { KeelError } from '../../../src/errors.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { recordingSubmitter } from '../../helpers/recording-submitter.js';

let nextId = 1;
function change(branch: string, files: string[] = ['src/a.ts'], repository = 'https://git.example.org/keel'): RecordedChange {
  const id = nextId++;
  return { id, repository, branch, revision: `rev${id}`, author: 'Ada', time: 0, message: `change ${id}`, files, source: 'poller' };
}

function setup(options: Partial<OnChangeOptions> = {}) {
  const clock = new FakeClock();
  const submitter = recordingSubmitter();
  const scheduler = onChangeScheduler({ name: 'main', builders: ['linux', 'mac'], ...options }, { clock, submitter, log: silentLog });
  scheduler.start();
  return { clock, submitter, scheduler };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('onChange scheduler', () => {
  test('without a timer each change starts one request per builder, at its revision', async () => {
    const { submitter, scheduler } = setup({ branch: 'main' });
    const c = change('main');
    scheduler.addChange(c);
    await flush();
    assert.deepEqual(submitter.requests.map((r) => r.builder), ['linux', 'mac']);
    assert.deepEqual(submitter.requests[0], {
      builder: 'linux', scheduler: 'main', reason: '1 change(s) on main', repository: c.repository, branch: 'main',
      revision: c.revision, changes: [c], properties: { scheduler: 'main' },
    });
  });

  test('two changes inside treeStableTimer give one request holding both, at the newest revision', async () => {
    const { submitter, scheduler, clock } = setup({ builders: ['linux'], treeStableTimer: 5 });
    const a = change('main');
    const b = change('main');
    scheduler.addChange(a);
    clock.advance(4_000);
    scheduler.addChange(b);  // restarts the wait
    clock.advance(4_999);
    await flush();
    assert.equal(submitter.requests.length, 0);
    clock.advance(1);
    await flush();
    assert.equal(submitter.requests.length, 1);
    assert.deepEqual(submitter.requests[0]!.changes, [a, b]);
    assert.equal(submitter.requests[0]!.revision, b.revision);
    clock.advance(60_000);
    await flush();
    assert.equal(submitter.requests.length, 1);
  });

  test('each branch waits on its own timer', async () => {
    const { submitter, scheduler, clock } = setup({ builders: ['linux'], treeStableTimer: 5 });
    scheduler.addChange(change('main'));
    clock.advance(3_000);
    scheduler.addChange(change('3.13'));
    clock.advance(2_000);
    await flush();
    assert.deepEqual(submitter.requests.map((r) => r.branch), ['main']);
    clock.advance(3_000);
    await flush();
    assert.deepEqual(submitter.requests.map((r) => r.branch), ['main', '3.13']);
  });

  test('branch as a string, a RegExp over the whole name, or a function', async () => {
    const branches = ['main', '3.13', '3.12', 'old-3.1', 'feature'];
    const seen = async (branch: OnChangeOptions['branch']) => {
      const { submitter, scheduler } = setup({ builders: ['linux'], branch });
      for (const b of branches) scheduler.addChange(change(b));
      await flush();
      return submitter.requests.map((r) => r.branch);
    };
    assert.deepEqual(await seen('main'), ['main']);
    assert.deepEqual(await seen(/3\.\d+/), ['3.13', '3.12']);
    assert.deepEqual(await seen((b) => b.startsWith('f')), ['feature']);
    assert.deepEqual(await seen(undefined), branches);
  });

  test('an unimportant change starts nothing but rides along with the next important one', async () => {
    const docsOnly = (c: RecordedChange) => c.files.some((f) => !f.startsWith('docs/'));
    const { submitter, scheduler, clock } = setup({ builders: ['linux'], treeStableTimer: 5, fileIsImportant: docsOnly });
    const docs = change('main', ['docs/index.md']);
    scheduler.addChange(docs);
    clock.advance(60_000);
    await flush();
    assert.equal(submitter.requests.length, 0);
    const code = change('main', ['src/x.ts', 'docs/x.md']);
    scheduler.addChange(code);
    clock.advance(5_000);
    await flush();
    assert.deepEqual(submitter.requests.map((r) => r.changes.map((c) => c.id)), [[docs.id, code.id]]);
  });

  test('onlyImportant drops unimportant changes from the request', async () => {
    const { submitter, scheduler, clock } = setup({
      builders: ['linux'], treeStableTimer: 5, onlyImportant: true, fileIsImportant: (c) => !c.files.every((f) => f.endsWith('.md')),
    });
    const readme = change('main', ['README.md']);
    const code = change('main', ['src/y.ts']);
    scheduler.addChange(code);
    scheduler.addChange(readme);
    clock.advance(5_000);
    await flush();
    assert.deepEqual(submitter.requests.map((r) => r.changes.map((c) => c.id)), [[code.id]]);
  });

  test('an unimportant change during the wait restarts it: the tree is still moving', async () => {
    const { submitter, scheduler, clock } = setup({ builders: ['linux'], treeStableTimer: 5, fileIsImportant: (c) => !c.files.includes('NEWS') });
    scheduler.addChange(change('main'));
    clock.advance(4_000);
    scheduler.addChange(change('main', ['NEWS']));
    clock.advance(4_000);
    await flush();
    assert.equal(submitter.requests.length, 0);
    clock.advance(1_000);
    await flush();
    assert.equal(submitter.requests[0]!.changes.length, 2);
  });

  test('only the configured repository, and nothing after stop', async () => {
    const { submitter, scheduler, clock } = setup({ builders: ['linux'], repository: 'https://git.example.org/keel', treeStableTimer: 1 });
    scheduler.addChange(change('main', ['a'], 'https://git.example.org/other'));
    scheduler.addChange(change('main'));
    await scheduler.stop();
    assert.equal(clock.pending, 0);
    scheduler.addChange(change('main'));
    clock.advance(10_000);
    await flush();
    assert.deepEqual(submitter.requests, []);
  });

  test('a submission that fails is logged; the scheduler goes on', async () => {
    const clock = new FakeClock();
    const errors: string[] = [];
    let calls = 0;
    const scheduler = onChangeScheduler({ builders: ['linux'] }, {
      clock, log: { ...silentLog, error: (m) => errors.push(m) },
      submitter: { submit: async () => { if (calls++ === 0) throw new Error('database is locked'); } },
    });
    scheduler.start();
    scheduler.addChange(change('main'));
    scheduler.addChange(change('main'));
    await scheduler.stop();
    assert.equal(calls, 2);
    assert.match(errors[0]!, /could not submit a build request for linux: database is locked/);
  });

  test('bad options are refused with KEEL_ERR_SCHEDULER_INVALID', () => {
    const deps = { clock: new FakeClock(), submitter: recordingSubmitter(), log: silentLog };
    const invalid = (err: unknown) => err instanceof KeelError && err.code === 'KEEL_ERR_SCHEDULER_INVALID';
    assert.throws(() => onChangeScheduler({ builders: [] }, deps), invalid);
    assert.throws(() => onChangeScheduler({ builders: ['x'], treeStableTimer: -1 }, deps), invalid);
    assert.throws(() => onChangeScheduler({ builders: ['x'], branch: 3 as unknown as string }, deps), invalid);
  });
});
