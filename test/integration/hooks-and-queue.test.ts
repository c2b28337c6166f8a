// The master's webhooks, force parameters and queue policy, over real HTTP with a real worker:
// signed GitHub pushes start builds and every rejection records nothing; `keel force --param`
// goes through the force scheduler; queued requests of a branch merge; cancelSuperseded stops a
// running build; periodic and nightly schedulers run on a fake clock inside the master.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { KeelConfig } from '../../src/master/config.js';
import { githubSignature } from '../../src/master/changes/github-hook.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { api, forceAndWait, KEEL_BIN, logText, startCi, tempDir, waitFor, waitForBuildOfRequest } from './ci-harness.js';
import type { BuildJson, CiSetup, RunningMaster } from './ci-harness.js';

const run = promisify(execFile);
const dir = tempDir('keel-hooks-');
const SECRET = "It's a Secret to Everybody";
const REPO = 'https://github.com/octo/keel';
const clock = new FakeClock('2026-11-27T00:00:00Z');

const quick = { type: 'shell' as const, name: 'say', command: ({ props }: { props: Readonly<Record<string, unknown>> }) => `echo "rev=${String(props['revision'])} py=${String(props['python'])} jobs=${String(props['jobs'])} owner=${String(props['owner'])}"` };
const config: KeelConfig = {
  workers: [{ name: 'w1', secret: 'pw', maxBuilds: 1 }, { name: 'w2', secret: 'pw2', maxBuilds: 2 }],
  builders: [
    { name: 'hooked', workers: ['w2'], steps: [quick] },
    { name: 'param', workers: ['w2'], steps: [quick] },
    // w1 has one slot: while `hold` runs, requests of `merging` and `apart` queue behind it.
    { name: 'hold', workers: ['w1'], steps: [{ type: 'shell', command: 'sleep 1.5' }] },
    { name: 'merging', workers: ['w1'], steps: [quick] },
    { name: 'apart', workers: ['w1'], collapse: false, steps: [quick] },
    { name: 'superseded', workers: ['w2'], cancelSuperseded: true, steps: [{ type: 'shell', command: 'sleep 30' }] },
    // Apart, so that the three timed requests cannot merge when they queue together.
    { name: 'timed', workers: ['w2'], collapse: false, steps: [quick] },
    { name: 'broken', workers: ['w2'], steps: [
      { type: 'shell', name: 'render', command: ({ props }) => { throw new Error(`no python for ${String(props['branch'])}`); } },
      { type: 'shell', name: 'later', command: 'echo later' },
    ] },
  ],
  sources: [
    { type: 'githubHook', secret: SECRET },
    { type: 'gitlabHook', token: 'gl-token' },
    { type: 'genericHook', tokens: ['gen-token'] },
  ],
  schedulers: [
    { type: 'onChange', builders: ['hooked'], repository: REPO },
    { type: 'onChange', builders: ['merging', 'apart'], repository: 'queue' },
    { type: 'onChange', builders: ['superseded'], repository: 'cancel' },
    {
      type: 'force', builders: ['param'], params: [
        { type: 'choice', name: 'python', choices: ['3.12', '3.13'] },
        { type: 'int', name: 'jobs', default: 2, min: 1, max: 64 },
      ],
    },
    { type: 'periodic', name: 'hourly', builders: ['timed'], every: 3600, branch: 'main' },
    { type: 'nightly', name: 'night', builders: ['timed'], cron: '30 2 * * *', branch: 'main' },
  ],
  auth: { tokens: ['api-token'] },
};

const push = (message: string, id = 'a'.repeat(40)) => ({
  ref: 'refs/heads/main', after: id,
  repository: { html_url: REPO, full_name: 'octo/keel' },
  commits: [{ id, message, timestamp: '2026-11-27T08:00:00Z', author: { name: 'Ada', email: 'ada@example.org' }, added: ['a.txt'], modified: [], removed: [] }],
  head_commit: { id, message },
});

async function hook(m: RunningMaster, provider: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: { reason?: string; changes?: number; error?: { code: string; message: string } } }> {
  const res = await fetch(`${m.url}/hooks/${provider}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, body: (await res.json()) as never };
}

const changeCount = async (m: RunningMaster) => (await api<{ total: number }>(m.url, '/changes')).body.total;

async function buildsOf(m: RunningMaster, builder: string): Promise<BuildJson[]> {
  const list = await api<{ builds: { id: number }[] }>(m.url, `/builds?builder=${builder}&limit=100`);
  return (await Promise.all(list.body.builds.map(async (b) => (await api<BuildJson>(m.url, `/builds/${b.id}`)).body))).reverse();
}

describe('webhooks, force parameters and the queue policy on a running master', () => {
  let ci: CiSetup;
  let m: RunningMaster;

  before(async () => {
    ci = await startCi(config, dir, [['w1', 'pw'], ['w2', 'pw2']], { timers: clock, workdir: join(dir.path, 'master') });
    m = ci.m;
  });
  after(() => ci.stop());

  it('a push signed as GitHub signs it is recorded and builds; every bad request gets its status and records nothing', async () => {
    const body = JSON.stringify(push('Fix the parser'));
    const sign = (b: string) => githubSignature(SECRET, b);
    // Refused: no signature, a wrong one, a body changed after signing, a malformed body, a missing field.
    const refused = [
      await hook(m, 'github', body, { 'x-github-event': 'push' }),
      await hook(m, 'github', body, { 'x-github-event': 'push', 'x-hub-signature-256': githubSignature('wrong', body) }),
      await hook(m, 'github', body.replace('Fix', 'Fax'), { 'x-github-event': 'push', 'x-hub-signature-256': sign(body) }),
      await hook(m, 'github', '{"ref": ', { 'x-github-event': 'push', 'x-hub-signature-256': sign('{"ref": ') }),
      await hook(m, 'github', '{"ref": "refs/heads/x"}', { 'x-github-event': 'push', 'x-hub-signature-256': sign('{"ref": "refs/heads/x"}') }),
    ];
    assert.deepEqual(refused.map((r) => r.status), [401, 401, 401, 400, 400]);
    assert.match(refused[0]!.body.error!.message, /missing X-Hub-Signature-256/);
    assert.match(refused[3]!.body.error!.message, /body is not JSON/);
    assert.match(refused[4]!.body.error!.message, /after/);
    assert.equal(await changeCount(m), 0, 'nothing from a rejected request is recorded');
    assert.ok(m.logs.some((l) => /\/hooks\/github refused a request .*401/.test(l)));

    const ping = await hook(m, 'github', '{"zen":"Keep it simple."}', { 'x-github-event': 'ping', 'x-hub-signature-256': sign('{"zen":"Keep it simple."}') });
    assert.deepEqual([ping.status, ping.body.reason], [200, 'pong']);
    const skipBody = JSON.stringify(push('Typo [skip ci]', 'b'.repeat(40)));
    const skip = await hook(m, 'github', skipBody, { 'x-github-event': 'push', 'x-hub-signature-256': sign(skipBody) });
    assert.deepEqual([skip.status, skip.body.changes], [200, 0]);
    assert.equal(await changeCount(m), 0);

    const ok = await hook(m, 'github', body, { 'x-github-event': 'push', 'x-hub-signature-256': sign(body) });
    assert.deepEqual([ok.status, ok.body.changes], [200, 1]);
    const build = await waitFor('the pushed commit built', async () => (await buildsOf(m, 'hooked')).find((b) => b.result !== null));
    assert.equal(build.result, 'success');
    assert.deepEqual(build.changes.map((c) => [c.revision, c.message, c.files]), [['a'.repeat(40), 'Fix the parser', ['a.txt']]]);
    assert.deepEqual([build.properties['repository'], build.properties['branch'], build.properties['scheduler']], [REPO, 'main', 'on-change']);

    // The form encoding GitHub also offers, signed over the bytes as sent.
    const form = `payload=${encodeURIComponent(JSON.stringify(push('Form', 'c'.repeat(40))))}`;
    const viaForm = await fetch(`${m.url}/hooks/github`, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'push', 'x-hub-signature-256': sign(form) } });
    assert.equal(viaForm.status, 200);
    assert.equal(await changeCount(m), 2);
  });

  it('GitLab and generic hooks check their tokens; a hook not in the config is 404', async () => {
    const glBody = JSON.stringify({
      object_kind: 'push', ref: 'refs/heads/dev', after: 'd'.repeat(40), checkout_sha: 'd'.repeat(40),
      project: { web_url: 'https://gitlab.com/o/p' }, commits: [{ id: 'd'.repeat(40), message: 'gl', author: { name: 'B', email: 'b@example.org' } }],
    });
    const before = await changeCount(m);
    assert.equal((await hook(m, 'gitlab', glBody, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'nope' })).status, 401);
    assert.equal((await hook(m, 'gitlab', glBody, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'gl-token' })).status, 200);
    const generic = JSON.stringify({ changes: [{ repository: 'elsewhere', branch: 'main', revision: 'e'.repeat(40), message: 'generic' }] });
    assert.equal((await hook(m, 'generic', generic, {})).status, 401);
    assert.equal((await hook(m, 'generic', generic, { authorization: 'Bearer wrong' })).status, 401);
    const bad = await hook(m, 'generic', '{"changes": [{"branch": "main"}]}', { authorization: 'Bearer gen-token' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!.message, /repository/);
    assert.equal((await hook(m, 'generic', generic, { authorization: 'Bearer gen-token' })).status, 200);
    assert.equal(await changeCount(m), before + 2);
    const missing = await hook(m, 'bitbucket', '{}', {});
    assert.equal(missing.status, 404);
    const listed = await api<{ changes: { source: string; repository: string }[] }>(m.url, '/changes?limit=2');
    assert.deepEqual(listed.body.changes.map((c) => c.source), ['generic', 'gitlab'], 'newest first');
  });

  it('force parameters are checked and given to the build; keel force --param goes the same way', async () => {
    const bad = await api<{ error: { code: string; message: string } }>(m.url, '/builders/param/force', { method: 'POST', token: 'api-token', body: { params: { python: '2.7', jobs: 'many', colour: 'red' } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'KEEL_ERR_FORCE_PARAMS');
    for (const part of [/colour: no such parameter/, /python: one of 3\.12, 3\.13/, /jobs: an integer/]) assert.match(bad.body.error.message, part);
    assert.equal((await buildsOf(m, 'param')).length, 0, 'nothing queued');

    const forced = await api<{ requestId: number }>(m.url, '/builders/param/force', { method: 'POST', token: 'api-token', body: { params: { python: '3.13' }, owner: 'ada' } });
    assert.equal(forced.status, 201);
    const build = await waitForBuildOfRequest(m, forced.body.requestId);
    assert.deepEqual([build.properties['python'], build.properties['jobs'], build.properties['owner'], build.properties['scheduler']], ['3.13', 2, 'ada', 'force']);
    assert.match(await logText(m, build.id, 'say'), /py=3\.13 jobs=2 owner=ada$/m);

    const cli = await run(process.execPath, [KEEL_BIN, 'force', 'param', '--master', m.url, '--token', 'api-token', '--param', 'python=3.12', '--param', 'jobs=8', '--owner', 'bob', '--wait']);
    assert.match(cli.stdout, /param #\d+ \(build \d+\): success/);
    const last = (await buildsOf(m, 'param')).at(-1)!;
    assert.deepEqual([last.properties['python'], last.properties['jobs'], last.properties['owner']], ['3.12', 8, 'bob']);
    const refused = await run(process.execPath, [KEEL_BIN, 'force', 'param', '--master', m.url, '--token', 'api-token', '--param', 'jobs=0']).then(() => undefined, (err: { code: number; stderr: string }) => err);
    assert.ok(refused, 'an invalid --param fails');
    assert.match(refused.stderr, /jobs: at least 1/);
    assert.match(refused.stderr, /python: required/);
    const noEquals = await run(process.execPath, [KEEL_BIN, 'force', 'param', '--master', m.url, '--param', 'python']).then(() => undefined, (err: { code: number; stderr: string }) => err);
    assert.equal(noEquals?.code, 2);
    assert.match(noEquals!.stderr, /write NAME=VALUE/);
  });

  it('a command function that throws ends its step in EXCEPTION with the reason in its log', async () => {
    const build = await forceAndWait(m, 'broken', { branch: 'dev' }, 'api-token');
    assert.equal(build.result, 'exception');
    assert.deepEqual(build.steps.map((s) => s.result), ['exception', 'skipped']);
    assert.match(build.steps[0]!.reason ?? '', /the step's command function threw: no python for dev/);
    assert.match(await logText(m, build.id, 'render'), /threw: no python for dev/);
  });

  it('queued requests of one branch merge into one build of the newest revision holding every change; collapse: false keeps them apart', async () => {
    const hold = await api<{ requestId: number }>(m.url, '/builders/hold/force', { method: 'POST', token: 'api-token', body: {} });
    await waitFor('hold running', async () => (await api<{ buildIds: number[] }>(m.url, `/requests/${hold.body.requestId}`)).body.buildIds.length > 0);
    const revs = ['1', '2', '3'].map((d) => d.repeat(40));
    const stored = await m.master.triggers.addChanges(revs.map((revision, i) => ({
      repository: 'queue', branch: 'main', revision, author: 'A <a@example.org>', time: i, message: `c${i}`, files: [], source: 'api' as const,
    })));
    await waitForBuildOfRequest(m, hold.body.requestId);
    const merged = await waitFor('the merged build', async () => (await buildsOf(m, 'merging')).find((b) => b.result !== null));
    assert.equal(merged.properties['revision'], revs[2]);
    assert.deepEqual(merged.changes.map((c) => c.id), stored.map((c) => c.id));
    assert.match(await logText(m, merged.id, 'say'), new RegExp(`rev=${revs[2]}`));
    const request = await api<{ changeIds: number[] }>(m.url, `/requests/${(merged as unknown as { requestId: number }).requestId}`);
    assert.deepEqual(request.body.changeIds, stored.map((c) => c.id));
    const queue = await m.storage.listQueuedRequests('merging');
    assert.equal(queue.length, 0);
    const apart = await waitFor('three builds of apart', async () => {
      const all = await buildsOf(m, 'apart');
      return all.length === 3 && all.every((b) => b.result !== null) ? all : undefined;
    });
    assert.deepEqual(apart.map((b) => b.properties['revision']), revs);
    assert.equal((await buildsOf(m, 'merging')).length, 1, 'one build for three requests');
  });

  it('cancelSuperseded: a newer change of the branch stops the running build', async () => {
    const change = (revision: string) => ({ repository: 'cancel', branch: 'main', revision, author: '', time: 0, message: '', files: [], source: 'api' as const });
    await m.master.triggers.addChanges([change('4'.repeat(40))]);
    const first = await waitFor('the first build running', async () => (await buildsOf(m, 'superseded'))[0]);
    await m.master.triggers.addChanges([change('5'.repeat(40))]);
    const stopped = await waitFor('the first build stopped', async () => {
      const b = (await api<BuildJson>(m.url, `/builds/${first.id}`)).body;
      return b.result !== null ? b : undefined;
    });
    assert.equal(stopped.result, 'cancelled');
    assert.match(stopped.reason ?? '', /superseded by request \d+/);
    const second = await waitFor('the newer build running', async () => (await buildsOf(m, 'superseded'))[1]);
    assert.equal(second.properties['revision'], '5'.repeat(40));
    await api(m.url, `/builds/${second.id}/stop`, { method: 'POST', token: 'api-token' });
  });

  it('periodic and nightly schedulers submit on the fake clock, with their names as the scheduler property', async () => {
    assert.equal((await buildsOf(m, 'timed')).length, 0);
    await clock.advanceAsync(2 * 3600_000 + 31 * 60_000); // 02:31: two periods and the nightly time
    const builds = await waitFor('three timed builds', async () => {
      const all = await buildsOf(m, 'timed');
      return all.length >= 3 && all.every((b) => b.result !== null) ? all : undefined;
    });
    assert.deepEqual(builds.map((b) => b.properties['scheduler']).sort(), ['hourly', 'hourly', 'night'].sort());
    for (const b of builds) assert.equal(b.properties['branch'], 'main');
  });
});
