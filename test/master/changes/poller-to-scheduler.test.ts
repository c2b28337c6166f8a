// A real repository, the git poller, a change sink and an on-change scheduler put together as
// the master will: commits become build requests, a burst inside treeStableTimer becomes one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gitPoller } from '../../../src/master/changes/git-poller.js';
import { memoryChangeSink } from '../../../src/master/changes/memory-change-sink.js';
import { silentLog } from '../../../src/master/master-deps.js';
import { onChangeScheduler } from '../../../src/master/schedulers/on-change-scheduler.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { recordingSubmitter } from '../../helpers/recording-submitter.js';

const root = mkdtempSync(path.join(tmpdir(), 'keel-poll-sched-'));
after(() => rmSync(root, { recursive: true, force: true }));
const env = { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.org', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.org', GIT_CONFIG_NOSYSTEM: '1', HOME: tmpdir() };
const repo = path.join(root, 'repo');
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env, encoding: 'utf8' }).trim();
function commit(file: string): string {
  writeFileSync(path.join(repo, file), file);
  git('add', file);
  git('commit', '-q', '-m', `add ${file}`);
  return git('rev-parse', 'HEAD');
}

test('commits polled within the interval start builds; two inside treeStableTimer give one request with both, docs alone none', async () => {
  execFileSync('git', ['init', '-q', '-b', 'main', repo], { env });
  const first = commit('a.c');
  const clock = new FakeClock();
  const submitter = recordingSubmitter();
  const scheduler = onChangeScheduler({
    name: 'main', builders: ['linux'], branch: 'main', treeStableTimer: 5,
    fileIsImportant: (c) => c.files.some((f) => !f.endsWith('.md')),
  }, { clock, submitter, log: silentLog });
  const sink = memoryChangeSink((change) => scheduler.addChange(change));
  const poller = gitPoller({ repo, branches: ['main'], interval: 60 }, { sink, clock, log: silentLog, workdir: path.join(root, 'work') });
  scheduler.start();
  poller.start();
  await poller.poll();
  await clock.advanceAsync(5_000);
  assert.deepEqual(submitter.requests.map((r) => r.revision), [first], 'the first poll builds the tip');

  const b = commit('b.c');
  const c = commit('c.md');
  const d = commit('d.c');
  await clock.advanceAsync(60_000);  // the next poll sees all three
  await poller.poll();
  await clock.advanceAsync(5_000);
  assert.equal(submitter.requests.length, 2);
  assert.deepEqual(submitter.requests[1]!.changes.map((ch) => ch.revision), [b, c, d]);
  assert.equal(submitter.requests[1]!.revision, d);

  commit('README.md');
  await clock.advanceAsync(60_000);
  await poller.poll();
  await clock.advanceAsync(60_000);
  assert.equal(submitter.requests.length, 2, 'a docs-only commit starts nothing');

  await poller.stop();
  await scheduler.stop();
  assert.equal(clock.pending, 0);
});
