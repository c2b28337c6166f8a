// The webhook handlers behind a real HTTP server on 127.0.0.1, called the way GitHub, GitLab and
// a script call them; a rejected request records nothing.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Change } from '../../../src/master/changes/change.js';
import { handleGenericHook } from '../../../src/master/changes/generic-hook.js';
import { githubSignature, handleGithubHook } from '../../../src/master/changes/github-hook.js';
import { handleGitlabHook } from '../../../src/master/changes/gitlab-hook.js';
import type { WebhookHandler, WebhookResult } from '../../../src/master/changes/webhook-request.js';

const SECRET = 'hook secret';
const NOW = Date.parse('2026-11-27T12:00:00Z');
let recorded: Change[] = [];
let server: Server;
let base: string;

// Each route binds a handler to its options, as the master's config will.
const bind = <O>(handler: WebhookHandler<O>, options: O) => (headers: Parameters<WebhookHandler<O>>[0], raw: Buffer) => handler(headers, raw, options);
const routes: Record<string, (headers: Parameters<WebhookHandler<unknown>>[0], raw: Buffer) => WebhookResult> = {
  '/hooks/github': bind(handleGithubHook, { secret: SECRET, now: () => NOW }),
  '/hooks/github-head': bind(handleGithubHook, { pullRequestRef: 'head', now: () => NOW }),
  '/hooks/gitlab': bind(handleGitlabHook, { token: SECRET, now: () => NOW }),
  '/hooks/generic': bind(handleGenericHook, { tokens: ['t-1', 't-2'], now: () => NOW }),
};

// What the master's /hooks routes do: raw body in, handler, record only what a 200 accepted.
before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const route = routes[req.url ?? ''];
      if (!route) { res.writeHead(404).end(); return; }
      const result: WebhookResult = route(req.headers, raw);
      if (result.status === 200) recorded.push(...result.changes);
      res.writeHead(result.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ reason: result.reason, changes: result.changes.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => { recorded = []; });

async function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; reason: string; changes: number }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const json = (await res.json()) as { reason: string; changes: number };
  return { status: res.status, ...json };
}

function github(event: string, payload: unknown, sign: string | null = SECRET, path = '/hooks/github') {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = { 'x-github-event': event, 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' };
  if (sign !== null) headers['x-hub-signature-256'] = githubSignature(sign, body);
  return post(path, body, headers);
}

const repository = { html_url: 'https://github.com/keel-ci/keel', full_name: 'keel-ci/keel', clone_url: 'https://github.com/keel-ci/keel.git' };
const commitA = {
  id: '1111111111111111111111111111111111111111', message: 'Parse TAP 14', timestamp: '2026-11-27T10:00:00+01:00',
  url: 'https://github.com/keel-ci/keel/commit/1111111', author: { name: 'Ada', email: 'ada@example.org', username: 'ada' },
  committer: { name: 'GitHub', email: 'noreply@github.com' }, added: ['src/tap.ts'], removed: [], modified: ['README.md'],
};
const commitB = { ...commitA, id: '2222222222222222222222222222222222222222', message: 'Fix the summary', added: [], modified: ['src/summary.ts'], removed: ['old.ts'] };
const push = { ref: 'refs/heads/main', before: commitA.id, after: commitB.id, created: false, deleted: false, forced: false, commits: [commitA, commitB], head_commit: commitB, repository, pusher: { name: 'ada' } };
const pullRequest = {
  action: 'opened', number: 42,
  pull_request: {
    number: 42, title: 'Add the nightly scheduler', body: 'Runs at 3am.', html_url: 'https://github.com/keel-ci/keel/pull/42', user: { login: 'ada' },
    head: { sha: '3333333333333333333333333333333333333333', ref: 'nightly', repo: { html_url: 'https://github.com/ada/keel', full_name: 'ada/keel' } },
    base: { ref: 'main', sha: commitB.id, repo: repository },
  },
  repository,
};

describe('GitHub signatures', () => {
  test("match the example in GitHub's documentation", () => {
    assert.equal(githubSignature("It's a Secret to Everybody", 'Hello, World!'), 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17');
    // Signed right, so the handler goes on to read the body, which is not JSON: 400, not 401.
    const result = handleGithubHook({ 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' },
      Buffer.from('Hello, World!'), { secret: "It's a Secret to Everybody" });
    assert.equal(result.status, 400);
    assert.match(result.reason, /not JSON/);
  });
});

describe('/hooks/github', () => {
  test('a signed push records one change per commit', async () => {
    const res = await github('push', push);
    assert.deepEqual(res, { status: 200, reason: '2 change(s) on refs/heads/main', changes: 2 });
    assert.deepEqual(recorded[1], {
      repository: 'https://github.com/keel-ci/keel', branch: 'main', revision: commitB.id, author: 'Ada <ada@example.org>',
      committer: 'GitHub <noreply@github.com>', time: Date.parse('2026-11-27T09:00:00Z'), message: 'Fix the summary',
      files: ['src/summary.ts', 'old.ts'], link: commitB.url, source: 'github', project: 'keel-ci/keel',
    });
  });

  test('a wrong, missing or malformed signature is 401 and nothing is recorded', async () => {
    assert.equal((await github('push', push, 'another secret')).status, 401);
    assert.deepEqual(await github('push', push, null), { status: 401, reason: 'missing X-Hub-Signature-256 header', changes: 0 });
    const body = JSON.stringify(push);
    assert.equal((await post('/hooks/github', body, { 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=zz' })).status, 401);
    // The body changed after signing: one byte more.
    assert.equal((await post('/hooks/github', `${body} `, { 'x-github-event': 'push', 'x-hub-signature-256': githubSignature(SECRET, body) })).status, 401);
    assert.deepEqual(recorded, []);
  });

  test('a malformed body is 400 with the reason, and nothing is recorded', async () => {
    const notJson = await github('push', '{"ref": ');
    assert.equal(notJson.status, 400);
    assert.match(notJson.reason, /^body is not JSON/);
    const noRef = await github('push', { ...push, ref: undefined });
    assert.equal(noRef.status, 400);
    assert.match(noRef.reason, /^malformed push event: ref: /);
    const badCommit = await github('push', { ...push, commits: [{ ...commitA, id: 7 }] });
    assert.match(badCommit.reason, /commits\.0\.id/);
    const noEvent = await post('/hooks/github', JSON.stringify(push), { 'x-hub-signature-256': githubSignature(SECRET, JSON.stringify(push)) });
    assert.deepEqual(noEvent, { status: 400, reason: 'missing X-GitHub-Event header', changes: 0 });
    assert.deepEqual(recorded, []);
  });

  test('ping is answered; other events are accepted and ignored', async () => {
    assert.deepEqual(await github('ping', { zen: 'Keep it logically awesome.', hook_id: 1 }), { status: 200, reason: 'pong', changes: 0 });
    assert.deepEqual(await github('issues', { action: 'opened' }), { status: 200, reason: 'event issues ignored', changes: 0 });
  });

  test('[skip ci] or [ci skip] in the head commit records nothing', async () => {
    for (const message of ['Docs only [skip ci]', 'Typo\n\n[ci skip]', 'Tidy [Skip CI]']) {
      const res = await github('push', { ...push, head_commit: { ...commitB, message } });
      assert.equal(res.status, 200);
      assert.equal(res.changes, 0, message);
    }
    assert.deepEqual(recorded, []);
  });

  test('a deleted branch records nothing; a push with no new commits builds its head commit; tags are marked', async () => {
    assert.deepEqual(await github('push', { ...push, deleted: true, after: '0'.repeat(40), commits: [], head_commit: null }),
      { status: 200, reason: 'refs/heads/main deleted', changes: 0 });
    await github('push', { ...push, ref: 'refs/heads/release', created: true, commits: [] });
    assert.deepEqual(recorded.map((c) => [c.branch, c.revision]), [['release', commitB.id]]);
    recorded = [];
    await github('push', { ...push, ref: 'refs/tags/v1.0', commits: [] });
    assert.deepEqual(recorded.map((c) => [c.branch, c.category]), [['refs/tags/v1.0', 'tag']]);
  });

  test('a form-encoded delivery is read from its payload field', async () => {
    const body = new URLSearchParams({ payload: JSON.stringify(push) }).toString();
    const res = await post('/hooks/github', body, { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'push', 'x-hub-signature-256': githubSignature(SECRET, body) });
    assert.equal(res.changes, 2);
  });

  test('a pull request builds refs/pull/N/merge at its head commit, or refs/pull/N/head when asked', async () => {
    assert.deepEqual(await github('pull_request', pullRequest), { status: 200, reason: 'pull request #42 opened', changes: 1 });
    const change = recorded[0]!;
    assert.equal(change.branch, 'refs/pull/42/merge');
    assert.equal(change.revision, '3333333333333333333333333333333333333333');
    assert.equal(change.repository, 'https://github.com/keel-ci/keel');
    assert.equal(change.category, 'pull-request');
    assert.equal(change.message, '#42: Add the nightly scheduler\n\nRuns at 3am.');
    assert.deepEqual(change.properties, { pullRequest: 42, headSha: change.revision, headBranch: 'nightly', headRepository: 'https://github.com/ada/keel', baseBranch: 'main' });
    await github('pull_request', { ...pullRequest, action: 'synchronize' }, null, '/hooks/github-head');
    assert.equal(recorded[1]!.branch, 'refs/pull/42/head');
  });

  test('pull request actions that bring no code are ignored; an edited base is built', async () => {
    for (const action of ['closed', 'labeled', 'assigned', 'edited']) {
      const res = await github('pull_request', { ...pullRequest, action });
      assert.deepEqual(res, { status: 200, reason: `pull request action ${action} ignored`, changes: 0 });
    }
    assert.equal((await github('pull_request', { ...pullRequest, action: 'edited', changes: { base: { ref: { from: 'old' } } } })).changes, 1);
  });
});

describe('/hooks/gitlab', () => {
  const project = { web_url: 'https://gitlab.example.org/keel/keel', path_with_namespace: 'keel/keel' };
  const glCommit = {
    id: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', message: 'Add the poller\n', title: 'Add the poller', timestamp: '2026-11-27T11:00:00+00:00',
    url: 'https://gitlab.example.org/keel/keel/-/commit/aaaaaaa', author: { name: 'Ada', email: 'ada@example.org' },
    added: ['src/poller.ts'], modified: [], removed: [],
  };
  const glPush = { object_kind: 'push', ref: 'refs/heads/main', before: '0'.repeat(40), after: glCommit.id, checkout_sha: glCommit.id, user_name: 'Ada', commits: [glCommit], total_commits_count: 1, project };
  const mr = {
    object_kind: 'merge_request', user: { username: 'ada', name: 'Ada' }, project,
    object_attributes: {
      iid: 7, action: 'open', title: 'Nightly builds', description: 'cron', url: 'https://gitlab.example.org/keel/keel/-/merge_requests/7',
      source_branch: 'nightly', target_branch: 'main', source: project, target: project, last_commit: glCommit,
    },
  };
  const gitlab = (event: string, payload: unknown, token: string | null = SECRET) =>
    post('/hooks/gitlab', JSON.stringify(payload), { 'x-gitlab-event': event, ...(token === null ? {} : { 'x-gitlab-token': token }) });

  test('a push with the right token records its commits', async () => {
    assert.deepEqual(await gitlab('Push Hook', glPush), { status: 200, reason: '1 change(s) on refs/heads/main', changes: 1 });
    assert.deepEqual(recorded[0], {
      repository: project.web_url, branch: 'main', revision: glCommit.id, author: 'Ada <ada@example.org>', time: Date.parse(glCommit.timestamp),
      message: 'Add the poller\n', files: ['src/poller.ts'], link: glCommit.url, source: 'gitlab', project: 'keel/keel',
    });
  });

  test('a wrong or missing token is 401; a malformed body 400; nothing recorded', async () => {
    assert.deepEqual(await gitlab('Push Hook', glPush, 'nope'), { status: 401, reason: 'X-Gitlab-Token is wrong', changes: 0 });
    assert.equal((await gitlab('Push Hook', glPush, null)).status, 401);
    const bad = await gitlab('Push Hook', { ...glPush, project: {} });
    assert.equal(bad.status, 400);
    assert.match(bad.reason, /project\.web_url/);
    assert.deepEqual(recorded, []);
  });

  test('merge requests: open and update with new commits build refs/merge-requests/N/head; others are ignored', async () => {
    assert.equal((await gitlab('Merge Request Hook', mr)).changes, 1);
    assert.equal(recorded[0]!.branch, 'refs/merge-requests/7/head');
    assert.equal(recorded[0]!.revision, glCommit.id);
    assert.deepEqual(recorded[0]!.properties, { mergeRequest: 7, sourceBranch: 'nightly', targetBranch: 'main', sourceRepository: project.web_url });
    const retitled = await gitlab('Merge Request Hook', { ...mr, object_attributes: { ...mr.object_attributes, action: 'update' } });
    assert.equal(retitled.changes, 0);
    const pushed = await gitlab('Merge Request Hook', { ...mr, object_attributes: { ...mr.object_attributes, action: 'update', oldrev: 'b'.repeat(40) } });
    assert.equal(pushed.changes, 1);
    assert.equal((await gitlab('Merge Request Hook', { ...mr, object_attributes: { ...mr.object_attributes, action: 'merge' } })).changes, 0);
  });

  test('[skip ci] in the head commit records nothing', async () => {
    const res = await gitlab('Push Hook', { ...glPush, commits: [{ ...glCommit, message: 'Docs [skip ci]' }] });
    assert.deepEqual([res.status, res.changes], [200, 0]);
  });
});

describe('/hooks/generic', () => {
  const change = { repository: 'https://git.example.org/keel.git', branch: 'main', revision: 'c0ffee', author: 'Ada <ada@example.org>', files: ['a.ts'], time: '2026-11-27T08:00:00Z' };
  const generic = (body: unknown, token: string | null = 't-2') =>
    post('/hooks/generic', typeof body === 'string' ? body : JSON.stringify(body), token === null ? {} : { authorization: `Bearer ${token}` });

  test('a documented body with a known bearer token records its changes', async () => {
    assert.deepEqual(await generic({ changes: [change, { repository: 'r', branch: 'b', revision: 'r2', time: 5 }] }), { status: 200, reason: '2 change(s)', changes: 2 });
    assert.deepEqual(recorded[0], { ...change, message: '', time: Date.parse('2026-11-27T08:00:00Z'), source: 'generic' });
    assert.equal(recorded[1]!.time, 5);
    await generic({ changes: [{ repository: 'r', branch: 'b', revision: 'r3' }] });
    assert.equal(recorded[2]!.time, NOW);
  });

  test('a missing or unknown token is 401; a malformed body 400 naming the fields', async () => {
    assert.equal((await generic({ changes: [change] }, null)).status, 401);
    assert.deepEqual(await generic({ changes: [change] }, 'guess'), { status: 401, reason: 'bearer token is not accepted', changes: 0 });
    const missing = await generic({ changes: [{ repository: 'r', revision: 'x', colour: 'red' }] });
    assert.equal(missing.status, 400);
    assert.match(missing.reason, /changes\.0\.branch/);
    assert.match(missing.reason, /colour/);
    assert.match((await generic({ changes: [] })).reason, /at least one change/);
    assert.equal((await generic('[1,')).status, 400);
    assert.equal((await generic({ changes: [{ ...change, time: 'yesterday' }] })).status, 400);
    assert.deepEqual(recorded, []);
  });

  test('no configured token refuses everything', () => {
    assert.equal(handleGenericHook({ authorization: 'Bearer x' }, JSON.stringify({ changes: [change] }), { tokens: [] }).status, 401);
  });
});
