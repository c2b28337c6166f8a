// The git step on a real worker against a real repository in a temp dir: clone, update,
// branch and revision checkout, got_revision, incremental keeps untracked files, full does not.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KeelConfig } from '../../src/master/config.js';
import { forceAndWait, logText, startCi, tempDir } from './ci-harness.js';
import type { CiSetup, RunningMaster } from './ci-harness.js';

const dir = tempDir('keel-git-');
const repo = join(dir.path, 'repo');

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.org' },
  }).trim();
}

function commit(file: string, text: string, message: string): string {
  writeFileSync(join(repo, file), text);
  git('add', file);
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

const show = { type: 'shell' as const, name: 'show', command: 'cat version.txt; ls' };
const config: KeelConfig = {
  workers: [{ name: 'w1', secret: 'pw' }],
  builders: [
    { name: 'inc', workers: ['w1'], steps: [{ type: 'git', repo, branch: 'main' }, { ...show, command: 'cat version.txt; ls; touch untracked.o' }] },
    { name: 'full', workers: ['w1'], steps: [{ type: 'git', repo, mode: 'full' }, { ...show, command: 'cat version.txt; ls; touch untracked.o' }] },
  ],
};

describe('git step', () => {
  let ci: CiSetup;
  let m: RunningMaster;
  let first: string;

  before(async () => {
    mkdirSync(repo);
    git('init', '-q', '-b', 'main');
    first = commit('version.txt', 'v1\n', 'one');
    ci = await startCi(config, dir, [['w1', 'pw']]);
    m = ci.m;
  });
  after(() => ci.stop());

  it('clones, then updates incrementally, keeping untracked build products', async () => {
    const b1 = await forceAndWait(m, 'inc');
    assert.equal(b1.result, 'success');
    assert.equal(b1.properties['got_revision'], first);
    assert.match(await logText(m, b1.id, 'show'), /^v1$/m);
    const second = commit('version.txt', 'v2\n', 'two');
    const b2 = await forceAndWait(m, 'inc');
    assert.equal(b2.properties['got_revision'], second);
    const log = await logText(m, b2.id, 'show');
    assert.match(log, /^v2$/m);
    assert.match(log, /^untracked\.o$/m, 'incremental mode keeps what the last build left');
  });

  it('checks out a requested revision and a requested branch', async () => {
    const old = await forceAndWait(m, 'inc', { revision: first });
    assert.equal(old.properties['got_revision'], first);
    assert.match(await logText(m, old.id, 'show'), /^v1$/m);
    git('checkout', '-q', '-b', 'feature');
    const feature = commit('version.txt', 'feature\n', 'feature');
    git('checkout', '-q', 'main');
    const b = await forceAndWait(m, 'inc', { branch: 'feature' });
    assert.equal(b.properties['got_revision'], feature);
    assert.match(await logText(m, b.id, 'show'), /^feature$/m);
  });

  it('full mode starts from an empty folder; a bad revision fails the step', async () => {
    await forceAndWait(m, 'full');
    const b = await forceAndWait(m, 'full');
    assert.equal(b.result, 'success');
    assert.doesNotMatch(await logText(m, b.id, 'show'), /^untracked\.o$/m);
    const bad = await forceAndWait(m, 'full', { revision: 'deadbeef' });
    assert.equal(bad.result, 'failure');
    assert.deepEqual(bad.steps.map((s) => s.result), ['failure', 'success']);
  });
});
