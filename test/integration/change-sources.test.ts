// Builds started by changes, end to end: a real git repository in a temp dir, the master's git
// poller, onChange schedulers with treeStableTimer and fileIsImportant, and a real worker whose
// git step checks out what the change named, each build listing its changes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeelConfig } from '../../src/master/config.js';
import type { RecordedChange } from '../../src/master/changes/change.js';
import { api, forceAndWait, logText, spawnWorker, startMaster, tempDir, waitFor } from './ci-harness.js';
import type { BuildJson, RunningMaster, WorkerProcess } from './ci-harness.js';

const dir = tempDir('keel-changes-');
const repo = join(dir.path, 'repo');
const POLL_SECONDS = 1;

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.org', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.org' },
  }).trim();
}

function commit(branch: string, file: string, text: string, message: string): string {
  if (git('symbolic-ref', '--short', 'HEAD') !== branch) git('checkout', '-q', branch);
  mkdirSync(dirname(join(repo, file)), { recursive: true });
  writeFileSync(join(repo, file), text);
  git('add', file);
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

const codeChanged = (c: RecordedChange) => c.files.some((f) => !f.startsWith('docs/'));
const checkout = { type: 'git' as const, repo };
const show = { type: 'shell' as const, name: 'show', command: 'cat version.txt' };
const config: KeelConfig = {
  workers: [{ name: 'w1', secret: 'pw', maxBuilds: 4 }],
  builders: [
    { name: 'main', workers: ['w1'], steps: [checkout, show] },
    { name: 'stable', workers: ['w1'], steps: [checkout, show] },
    { name: 'important', workers: ['w1'], steps: [checkout, show] },
    { name: 'only-important', workers: ['w1'], steps: [checkout, show] },
    // Steps rendered from the build's properties, and a pull request's merge ref.
    { name: 'props', workers: ['w1'], steps: [checkout, { type: 'shell', name: 'echo', command: ({ props }) => `echo "branch=${String(props['branch'])} rev=${String(props['revision'])} sched=${String(props['scheduler'])} n=${String(props['buildnumber'])}"` }] },
  ],
  sources: [{ type: 'gitPoller', repo, branches: 'all', interval: POLL_SECONDS }],
  schedulers: [
    { type: 'onChange', builders: ['main'], branch: 'main' },
    { type: 'onChange', builders: ['stable'], branch: /stable/, treeStableTimer: 2 },
    { type: 'onChange', builders: ['important'], branch: 'docs', fileIsImportant: codeChanged },
    { type: 'onChange', builders: ['only-important'], branch: 'docs', fileIsImportant: codeChanged, onlyImportant: true },
  ],
};

async function builds(m: RunningMaster, builder: string): Promise<BuildJson[]> {
  const list = await api<{ builds: { id: number }[] }>(m.url, `/builds?builder=${builder}&limit=100`);
  return Promise.all(list.body.builds.map(async (b) => (await api<BuildJson>(m.url, `/builds/${b.id}`)).body)).then((all) => all.reverse());
}

async function finishedBuilds(m: RunningMaster, builder: string, count: number): Promise<BuildJson[]> {
  return waitFor(`${count} finished build(s) of ${builder}`, async () => {
    const all = await builds(m, builder);
    return all.length >= count && all.every((b) => b.result !== null) ? all : undefined;
  });
}

describe('changes from a git poller start builds', () => {
  let m: RunningMaster;
  let worker: WorkerProcess;
  const tips: Record<string, string> = {};

  before(async () => {
    mkdirSync(repo);
    git('init', '-q', '-b', 'main');
    tips['main'] = commit('main', 'version.txt', 'v1\n', 'one');
    for (const branch of ['stable', 'docs']) {
      git('branch', branch);
      tips[branch] = tips['main']!;
    }
    m = await startMaster(config, { dbUrl: `sqlite:${join(dir.path, 'db.sqlite')}`, workdir: join(dir.path, 'master') });
    worker = spawnWorker(m.port, 'w1', 'pw', join(dir.path, 'worker'));
    await waitFor('worker', () => m.master.registry.get('w1'));
  });
  after(async () => {
    await worker.stop();
    await m.stop();
    dir.remove();
  });

  it('records each branch tip once on the first poll, as changes the API lists', async () => {
    const listed = await waitFor('the first poll', async () => {
      const res = await api<{ changes: { branch: string; revision: string; author: string; files: string[]; source: string }[]; total: number }>(m.url, '/changes');
      return res.body.total >= 3 ? res.body : undefined;
    });
    assert.equal(listed.total, 3, 'the tips, not the history');
    assert.deepEqual(listed.changes.map((c) => c.branch).sort(), ['docs', 'main', 'stable']);
    for (const c of listed.changes) {
      assert.equal(c.revision, tips['main']);
      assert.deepEqual([c.author, c.files, c.source], ['Ada <ada@example.org>', ['version.txt'], 'poller']);
    }
    const one = await api<{ id: number; message: string }>(m.url, `/changes/${(listed.changes[0] as unknown as { id: number }).id}`);
    assert.equal(one.body.message, 'one');
    assert.equal((await api(m.url, '/changes/999999')).status, 404);
    // The first tip of main builds; so do the others once their schedulers' timers allow.
    const [first] = await finishedBuilds(m, 'main', 1);
    assert.equal(first!.result, 'success');
    assert.deepEqual(first!.changes.map((c) => c.revision), [tips['main']]);
    await finishedBuilds(m, 'stable', 1);
    await finishedBuilds(m, 'important', 1);
    await finishedBuilds(m, 'only-important', 1);
  });

  it('a commit starts a build within the poll interval plus 1 s, at that revision, blaming that commit', async () => {
    const before = (await builds(m, 'main')).length;
    const committedAt = Date.now();
    const rev = commit('main', 'version.txt', 'v2\n', 'two');
    const started = await waitFor('a build of the new commit', async () => {
      const all = await builds(m, 'main');
      return all.length > before ? all[all.length - 1] : undefined;
    });
    const latency = started.startedAt - committedAt;
    assert.ok(latency <= (POLL_SECONDS + 1) * 1000, `the build started ${latency} ms after the commit`);
    const [, done] = await finishedBuilds(m, 'main', before + 1);
    assert.equal(done!.result, 'success');
    assert.equal(done!.properties['got_revision'], rev);
    assert.deepEqual([done!.properties['revision'], done!.properties['branch'], done!.properties['scheduler']], [rev, 'main', 'on-change']);
    assert.deepEqual(done!.changes.map((c) => [c.revision, c.message]), [[rev, 'two']]);
    assert.match(await logText(m, done!.id, 'show'), /^v2$/m);
  });

  it('two commits inside treeStableTimer give one build holding both changes', async () => {
    const before = (await builds(m, 'stable')).length;
    const a = commit('stable', 'version.txt', 'stable-a\n', 'stable a');
    // The second commit lands after the first was polled, so the timer really restarts.
    await sleep(1300);
    const b = commit('stable', 'version.txt', 'stable-b\n', 'stable b');
    const all = await finishedBuilds(m, 'stable', before + 1);
    const build = all[all.length - 1]!;
    assert.deepEqual(build.changes.map((c) => c.revision), [a, b]);
    assert.equal(build.properties['got_revision'], b);
    await sleep(2500);
    assert.equal((await builds(m, 'stable')).length, before + 1, 'one build, not two');
  });

  it('fileIsImportant: a docs-only change starts nothing but rides along; onlyImportant drops it', async () => {
    const before = (await builds(m, 'important')).length;
    const beforeOnly = (await builds(m, 'only-important')).length;
    const docs = commit('docs', 'docs/guide.md', 'words\n', 'docs only');
    await sleep((POLL_SECONDS + 1.5) * 1000);
    assert.equal((await builds(m, 'important')).length, before, 'an unimportant change alone builds nothing');
    assert.equal((await builds(m, 'only-important')).length, beforeOnly);
    const code = commit('docs', 'version.txt', 'v3\n', 'code');
    const important = (await finishedBuilds(m, 'important', before + 1)).at(-1)!;
    const only = (await finishedBuilds(m, 'only-important', beforeOnly + 1)).at(-1)!;
    assert.deepEqual(important.changes.map((c) => c.revision), [docs, code]);
    assert.equal(important.properties['got_revision'], code);
    // Its request held only the code change; the blamelist still names the docs commit, which
    // the build contains: a blamelist is what changed since the builder's previous build.
    const request = await api<{ changeIds: number[] }>(m.url, `/requests/${(important as unknown as { requestId: number }).requestId}`);
    assert.equal(request.body.changeIds.length, 2);
    const onlyRequest = await api<{ changeIds: number[] }>(m.url, `/requests/${(only as unknown as { requestId: number }).requestId}`);
    assert.equal(onlyRequest.body.changeIds.length, 1, 'onlyImportant dropped the docs change from the request');
    assert.deepEqual(only.changes.map((c) => c.revision), [docs, code]);
  });

  it('steps see the build properties; a pull request merge ref is fetched and built at its tip', async () => {
    // A pull request as GitHub keeps it: refs/pull/7/head (the head) and refs/pull/7/merge (a test merge).
    git('checkout', '-q', '-b', 'feature', 'main');
    const head = commit('feature', 'feature.txt', 'f\n', 'feature');
    git('checkout', '-q', '--detach', 'main');
    git('merge', '-q', '--no-ff', '-m', 'test merge', head);
    const merge = git('rev-parse', 'HEAD');
    git('update-ref', 'refs/pull/7/merge', merge);
    git('update-ref', 'refs/pull/7/head', head);
    git('checkout', '-q', 'main');
    const build = await forceAndWait(m, 'props', { branch: 'refs/pull/7/merge', revision: head });
    assert.equal(build.result, 'success', JSON.stringify(build.steps));
    assert.equal(build.properties['got_revision'], merge, 'the merge ref is built, not the head');
    assert.match(await logText(m, build.id, 'echo'), new RegExp(`^branch=refs/pull/7/merge rev=${head} sched=force n=${build.number}$`, 'm'));
    const byHead = await forceAndWait(m, 'props', { branch: 'refs/pull/7/head', revision: head });
    assert.equal(byHead.properties['got_revision'], head);
  });

  it('a restarted master goes on where the last poll stopped: each commit is recorded once', async () => {
    const count = async () => (await api<{ total: number }>(m.url, '/changes?limit=1')).body.total;
    await waitFor('the feature branch recorded', async () => (await api<{ changes: { branch: string }[] }>(m.url, '/changes?branch=feature')).body.changes.length > 0);
    const before = await count();
    await m.stop();
    // Committed while no master runs: the next master's first poll finds it, and only it.
    const rev = commit('docs', 'docs/more.md', 'more\n', 'while down');
    m = await startMaster(config, { dbUrl: `sqlite:${join(dir.path, 'db.sqlite')}`, workdir: join(dir.path, 'master') });
    const after = await waitFor('the new commit recorded', async () => ((await count()) > before ? count() : undefined));
    await sleep((POLL_SECONDS + 0.5) * 1000);
    assert.equal(await count(), after, 'nothing recorded twice by later polls');
    assert.equal(after, before + 1);
    const listed = await api<{ changes: { revision: string; message: string }[] }>(m.url, '/changes?limit=1');
    assert.deepEqual([listed.body.changes[0]!.revision, listed.body.changes[0]!.message], [rev, 'while down']);
  });
});
