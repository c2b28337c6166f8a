// The git poller against real repositories made in temp dirs: first poll, new commits once,
// restarts, force-pushes, new and deleted branches, merges, an unreachable repository.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gitPoller, type GitPollerOptions } from '../../../src/master/changes/git-poller.js';
import { systemTimerClock } from '../../../src/master/timer-clock.js';
import { memoryChangeSink, type MemoryChangeSink } from '../../../src/master/changes/memory-change-sink.js';
import type { MasterLog } from '../../../src/master/master-deps.js';
import { FakeClock } from '../../helpers/fake-clock.js';

let root: string;
let counter = 0;
before(() => { root = mkdtempSync(path.join(tmpdir(), 'keel-poller-')); });
after(() => rmSync(root, { recursive: true, force: true }));

const env = {
  ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.org',
  GIT_COMMITTER_NAME: 'Bob', GIT_COMMITTER_EMAIL: 'bob@example.org', GIT_CONFIG_NOSYSTEM: '1', HOME: tmpdir(),
};
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

function newRepo(): string {
  const dir = path.join(root, `repo-${++counter}`);
  mkdirSync(dir);
  git(dir, 'init', '-q', '-b', 'main');
  return dir;
}

function commit(dir: string, message: string, files: Record<string, string> = { [`f${++counter}.txt`]: message }): string {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

interface Logged { level: string; message: string }
function memoryLog(): MasterLog & { lines: Logged[] } {
  const lines: Logged[] = [];
  return { lines, info: (m) => lines.push({ level: 'info', message: m }), warn: (m) => lines.push({ level: 'warn', message: m }), error: (m) => lines.push({ level: 'error', message: m }) };
}

function setup(repo: string, options: Partial<GitPollerOptions> = {}, sink: MemoryChangeSink = memoryChangeSink()) {
  const log = memoryLog();
  const clock = new FakeClock();
  const workdir = path.join(root, `work-${++counter}`);
  const make = () => gitPoller({ repo, branches: ['main'], interval: 30, ...options }, { sink, clock, log, workdir });
  return { sink, log, clock, workdir, poller: make(), make };
}

describe('git poller', () => {
  test('the first poll records only the branch tips, with author, committer, message and files', async () => {
    const repo = newRepo();
    commit(repo, 'one');
    commit(repo, 'two');
    const tip = commit(repo, 'three\n\nwith a body', { 'src/a b.txt': 'x', 'docs/readme.md': 'y' });
    const { poller, sink } = setup(repo);
    assert.deepEqual(await poller.poll(), { ok: true, changes: 1 });
    assert.equal(sink.changes.length, 1);
    const change = sink.changes[0]!;
    assert.equal(change.revision, tip);
    assert.equal(change.branch, 'main');
    assert.equal(change.repository, repo);
    assert.equal(change.author, 'Ada <ada@example.org>');
    assert.equal(change.committer, 'Bob <bob@example.org>');
    assert.equal(change.message, 'three\n\nwith a body');
    assert.deepEqual([...change.files].sort(), ['docs/readme.md', 'src/a b.txt']);
    assert.equal(change.source, 'poller');
    assert.ok(Math.abs(change.time - Date.now()) < 120_000);
    assert.deepEqual(await sink.lastRevisions(repo), { main: tip });
  });

  test('new commits are recorded once each, oldest first; a restarted poller goes on from the sink', async () => {
    const repo = newRepo();
    commit(repo, 'base');
    const { poller, sink, make } = setup(repo);
    await poller.poll();
    const a = commit(repo, 'a');
    const b = commit(repo, 'b');
    assert.deepEqual(await poller.poll(), { ok: true, changes: 2 });
    assert.deepEqual(sink.changes.slice(1).map((c) => c.revision), [a, b]);
    assert.deepEqual(await poller.poll(), { ok: true, changes: 0 });

    const restarted = make();  // same sink, new poller object, as after a master restart
    assert.deepEqual(await restarted.poll(), { ok: true, changes: 0 });
    const c = commit(repo, 'c');
    assert.deepEqual(await restarted.poll(), { ok: true, changes: 1 });
    assert.deepEqual(sink.changes.map((ch) => ch.id), [1, 2, 3, 4]);
    assert.equal(sink.changes[3]!.revision, c);
  });

  test('two pollers of one repository sharing a sink (two masters, one database): each commit is recorded once', async () => {
    const repo = newRepo();
    commit(repo, 'one');
    const a = setup(repo);
    const b = setup(repo, {}, a.sink);
    const both = async () => Promise.all([a.poller.poll(), b.poller.poll()]);
    const first = await both();
    assert.deepEqual(first.map((o) => o.ok).sort(), [false, true], 'one poll recorded, the other found the tips moved');
    const lost = first.find((o) => !o.ok);
    assert.equal(lost && !lost.ok ? lost.error.code : undefined, 'KEEL_ERR_CONFLICT');
    const two = commit(repo, 'two');
    await both();
    // Whichever lost goes on from the other's tips at its next poll: nothing twice, nothing lost.
    await both();
    assert.deepEqual(a.sink.changes.map((c) => c.message), ['one', 'two']);
    assert.equal(a.sink.changes[1]!.revision, two);
  });

  test('a force-push reports only the rewritten commits; a reset to a known commit reports nothing', async () => {
    const repo = newRepo();
    commit(repo, 'base');
    const keep = commit(repo, 'keep');
    commit(repo, 'doomed');
    const { poller, sink } = setup(repo);
    await poller.poll();
    git(repo, 'reset', '-q', '--hard', keep);
    const rewritten = commit(repo, 'rewritten');
    assert.deepEqual(await poller.poll(), { ok: true, changes: 1 });
    assert.equal(sink.changes.at(-1)!.revision, rewritten);
    git(repo, 'reset', '-q', '--hard', keep);
    assert.deepEqual(await poller.poll(), { ok: true, changes: 0 });
    assert.deepEqual(await sink.lastRevisions(repo), { main: keep });
  });

  test("new branches report their own commits, a branch at a known commit reports its tip, deleted branches are forgotten", async () => {
    const repo = newRepo();
    commit(repo, 'base');
    const mainTip = commit(repo, 'main work');
    const { poller, sink } = setup(repo, { branches: 'all' });
    await poller.poll();
    git(repo, 'checkout', '-q', '-b', 'feature');
    const f1 = commit(repo, 'feature 1');
    const f2 = commit(repo, 'feature 2');
    git(repo, 'branch', 'release', mainTip);
    const before = sink.changes.length;
    assert.deepEqual(await poller.poll(), { ok: true, changes: 3 });
    const added = sink.changes.slice(before).map((c) => [c.branch, c.revision]);
    assert.deepEqual(added.filter(([b]) => b === 'feature'), [['feature', f1], ['feature', f2]]);
    assert.deepEqual(added.filter(([b]) => b === 'release'), [['release', mainTip]]);

    git(repo, 'checkout', '-q', 'main');
    git(repo, 'branch', '-q', '-D', 'release');
    assert.deepEqual(await poller.poll(), { ok: true, changes: 0 });
    assert.deepEqual(await sink.lastRevisions(repo), { main: mainTip, feature: f2 });
  });

  test('a merge of a known branch reports the merge only, with its files against the first parent', async () => {
    const repo = newRepo();
    commit(repo, 'base');
    git(repo, 'checkout', '-q', '-b', 'topic');
    commit(repo, 'topic work', { 'topic.txt': 't' });
    git(repo, 'checkout', '-q', 'main');
    commit(repo, 'main work', { 'main.txt': 'm' });
    const { poller, sink } = setup(repo, { branches: (b) => b === 'main' || b === 'topic' });
    await poller.poll();
    git(repo, 'merge', '-q', '--no-edit', 'topic');
    const merge = git(repo, 'rev-parse', 'HEAD');
    const before = sink.changes.length;
    assert.deepEqual(await poller.poll(), { ok: true, changes: 1 });
    const change = sink.changes[before]!;
    assert.equal(change.revision, merge);
    assert.deepEqual(change.files, ['topic.txt']);
  });

  test('without branches it follows the branch HEAD points at; github URLs get a commit link', async () => {
    const repo = newRepo();
    commit(repo, 'base');
    git(repo, 'branch', 'other');
    const { poller, sink } = setup(repo, { branches: undefined, revlink: (sha) => `https://example.org/c/${sha}` });
    await poller.poll();
    assert.deepEqual(Object.keys((await sink.lastRevisions(repo))!), ['main']);
    assert.equal(sink.changes[0]!.link, `https://example.org/c/${sink.changes[0]!.revision}`);
  });

  test('an unreachable repository is logged and retried, never thrown; it is picked up once it exists', async () => {
    const repo = path.join(root, `missing-${++counter}`);
    const { poller, sink, log, clock } = setup(repo);
    poller.start();
    const first = await poller.poll();
    assert.equal(first.ok, false);
    assert.equal(!first.ok && first.error.code, 'KEEL_ERR_GIT_POLL');
    assert.ok(log.lines.some((l) => l.level === 'warn' && l.message.includes('trying again in 30s')), JSON.stringify(log.lines));
    assert.equal(sink.changes.length, 0);
    assert.equal(clock.pending, 1);

    mkdirSync(repo);
    git(repo, 'init', '-q', '-b', 'main');
    commit(repo, 'born');
    clock.advance(29_000);
    assert.equal(sink.changes.length, 0);
    clock.advance(1_000);  // the retry starts now
    assert.deepEqual(await poller.poll(), { ok: true, changes: 1 });
    assert.ok(log.lines.some((l) => l.message.includes('reachable again')));
    await poller.stop();
    assert.equal(clock.pending, 0);
  });

  test('the interval timer polls again after each poll, and stop cancels it', async () => {
    const repo = newRepo();
    commit(repo, 'base');
    const { poller, sink, clock } = setup(repo);
    poller.start();
    await poller.poll();
    assert.equal(sink.changes.length, 1);
    commit(repo, 'next');
    clock.advance(30_000);
    await poller.poll();
    assert.equal(sink.changes.length, 2);
    await poller.stop();
    assert.equal(clock.pending, 0);
  });

  test('a repository that was empty reports only the tip of its first push', async () => {
    const repo = newRepo();
    const { poller, sink } = setup(repo);
    assert.deepEqual(await poller.poll(), { ok: true, changes: 0 });
    assert.deepEqual(await sink.lastRevisions(repo), {});
    commit(repo, 'one');
    const tip = commit(repo, 'two');
    assert.deepEqual(await poller.poll(), { ok: true, changes: 1 });
    assert.equal(sink.changes[0]!.revision, tip);
  });

  test('on the real clock, a commit is recorded within the interval plus a second', async () => {
    const repo = newRepo();
    commit(repo, 'base');
    let seen: (() => void) | undefined;
    const sink = memoryChangeSink(() => seen?.());
    const poller = gitPoller({ repo, branches: ['main'], interval: 0.3 }, { sink, clock: systemTimerClock, log: memoryLog(), workdir: path.join(root, `work-${++counter}`) });
    poller.start();
    await poller.poll();
    const next = commit(repo, 'next');
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no change recorded within 1.3 s')), 1_300);
      seen = () => { clearTimeout(timer); resolve(); };
    });
    assert.ok(Date.now() - started < 1_300);
    assert.equal(sink.changes.at(-1)!.revision, next);
    await poller.stop();
  });

  test('a wiped work dir: new commits are still told from old ones; a rewrite while it was away reports the tip', async () => {
    const repo = newRepo();
    commit(repo, 'base');
    const kept = commit(repo, 'kept');
    const { poller, sink, log, clock, workdir } = setup(repo);
    await poller.poll();
    const added = commit(repo, 'added while away');
    rmSync(workdir, { recursive: true, force: true });
    const again = gitPoller({ repo, branches: ['main'], interval: 30 }, { sink, clock, log, workdir });
    assert.deepEqual(await again.poll(), { ok: true, changes: 1 });
    assert.equal(sink.changes.at(-1)!.revision, added);

    git(repo, 'reset', '-q', '--hard', kept);
    git(repo, 'commit', '-q', '--amend', '-m', 'kept, reworded');
    const rewritten = commit(repo, 'after the rewrite');
    rmSync(workdir, { recursive: true, force: true });
    assert.deepEqual(await again.poll(), { ok: true, changes: 1 });
    assert.equal(sink.changes.at(-1)!.revision, rewritten);
  });
});
