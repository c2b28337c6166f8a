// A multi-step build on a real worker process over a real WebSocket: halt/flunk/warn/alwaysRun
// and decodeRC decide the step and build results; logs and properties come through the API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KeelConfig } from '../../src/master/config.js';
import { api, forceAndWait, logText, startCi, tempDir, waitFor, waitForBuildOfRequest } from './ci-harness.js';
import type { CiSetup, RunningMaster } from './ci-harness.js';

const config: KeelConfig = {
  workers: [{ name: 'w1', secret: 'pw1', maxBuilds: 2 }],
  builders: [
    {
      name: 'semantics', workers: ['w1'], env: { GREETING: 'hello' },
      steps: [
        { type: 'shell', name: 'greet', command: 'echo "$GREETING from $KEEL_BUILDER"; echo "version: 1.2.3"', setProperties: { version: '^version: (\\S+)' } },
        { type: 'shell', name: 'warn-only', command: 'exit 1', flunkOnFailure: false, warnOnFailure: true },
        { type: 'shell', name: 'decoded', command: 'exit 5', decodeRC: { 0: 'success', 5: 'warnings' } },
        { type: 'shell', name: 'flunk', command: 'echo broken >&2; exit 2' },
        { type: 'shell', name: 'after-flunk', command: 'echo still runs' },
        { type: 'shell', name: 'halt', command: 'exit 3', haltOnFailure: true },
        { type: 'shell', name: 'skipped', command: 'echo never' },
        { type: 'shell', name: 'cleanup', command: 'echo cleaning', alwaysRun: true },
      ],
    },
    { name: 'green', workers: ['w1'], steps: [{ type: 'shell', command: ['echo', 'all good'] }] },
    { name: 'sleepy', workers: ['w1'], steps: [{ type: 'shell', command: 'sleep 0.5' }] },
  ],
};

describe('build semantics on a real worker', () => {
  let ci: CiSetup;
  let m: RunningMaster;
  const dir = tempDir('keel-semantics-');

  before(async () => {
    ci = await startCi(config, dir, [['w1', 'pw1']]);
    m = ci.m;
  });
  after(() => ci.stop());

  it('a green build is success', async () => {
    const build = await forceAndWait(m, 'green');
    assert.equal(build.result, 'success');
    assert.equal(build.number, 1);
    assert.equal(build.worker, 'w1');
    assert.deepEqual(build.steps.map((s) => [s.name, s.result, s.logs]), [['echo', 'success', ['stdio']]]);
    assert.match(await logText(m, build.id, 0), /all good/);
  });

  it('halt/flunk/warn/alwaysRun/decodeRC give each step and the build the right result', async () => {
    const build = await forceAndWait(m, 'semantics', { reason: 'test', properties: { extra: 1 } });
    assert.deepEqual(build.steps.map((s) => [s.name, s.result]), [
      ['greet', 'success'],
      ['warn-only', 'failure'],
      ['decoded', 'warnings'],
      ['flunk', 'failure'],
      ['after-flunk', 'success'],
      ['halt', 'failure'],
      ['skipped', 'skipped'],
      ['cleanup', 'success'],
    ]);
    assert.equal(build.result, 'failure');
    assert.equal(build.properties['version'], '1.2.3');
    assert.equal(build.properties['extra'], 1);
    assert.equal(build.steps[3]?.reason, 'exit code 2');
    assert.match(await logText(m, build.id, 0), /hello from semantics/);
    const flunk = await api<{ lines: { n: number; stream: string; text: string }[]; total: number; finished: boolean }>(m.url, `/builds/${build.id}/steps/flunk/logs/stdio`);
    assert.equal(flunk.status, 200);
    assert.ok(flunk.body.finished);
    assert.ok(flunk.body.lines.some((l) => l.stream === 'e' && l.text === 'broken'));
    assert.ok(flunk.body.lines.some((l) => l.stream === 'h' && /program finished with exit code 2/.test(l.text)));
    assert.equal(flunk.body.total, flunk.body.lines.length);
  });

  it('a worker runs at most maxBuilds builds at once; the rest wait in the queue, oldest first', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api<{ requestId: number }>(m.url, '/builders/sleepy/force', { method: 'POST', body: {} })).body.requestId);
    await waitFor('two running', () => m.master.registry.get('w1')?.running === 2);
    const workers = await api<{ workers: { runningBuilds: number }[] }>(m.url, '/workers');
    assert.equal(workers.body.workers[0]?.runningBuilds, 2);
    const builder = await api<{ queued: number }>(m.url, '/builders/sleepy');
    assert.equal(builder.body.queued, 1);
    const third = await api<{ buildIds: number[] }>(m.url, `/requests/${ids[2]}`);
    assert.deepEqual(third.body.buildIds, [], 'the newest request waits');
    const builds = await Promise.all(ids.map((id) => waitForBuildOfRequest(m, id)));
    assert.deepEqual(builds.map((b) => b.result), ['success', 'success', 'success']);
    assert.ok(builds[2]!.startedAt >= Math.min(builds[0]!.finishedAt!, builds[1]!.finishedAt!), 'the third started when a slot freed');
  });

  it('lists builds with filters and serves the documented shapes', async () => {
    const all = await api<{ builds: { id: number; result: string }[]; total: number }>(m.url, '/builds?limit=10');
    assert.equal(all.body.total, 5);
    const failed = await api<{ builds: { builder: string }[]; total: number }>(m.url, '/builds?result=failure');
    assert.deepEqual([failed.body.total, failed.body.builds[0]?.builder], [1, 'semantics']);
    const bad = await api<{ error: { code: string } }>(m.url, '/builds?limit=abc');
    assert.deepEqual([bad.status, bad.body.error.code], [400, 'KEEL_ERR_BAD_REQUEST']);
    const workers = await api<{ workers: { name: string; connected: boolean; info: { node?: string } }[]; total: number }>(m.url, '/workers');
    assert.deepEqual(workers.body.workers.map((w) => [w.name, w.connected, w.info.node]), [['w1', true, process.version]]);
    const builders = await api<{ builders: { name: string }[]; total: number }>(m.url, '/builders');
    assert.deepEqual(builders.body.builders.map((b) => b.name), ['semantics', 'green', 'sleepy']);
    assert.equal((await api(m.url, '/builders/nope')).status, 404);
    assert.equal((await api(m.url, '/builds/99999')).status, 404);
    assert.equal((await api(m.url, '/builders/nope/force', { method: 'POST', body: {} })).status, 404);
  });

  it('streams build, step and log events over SSE', async () => {
    const controller = new AbortController();
    const res = await fetch(`${m.url}/api/v1/events`, { signal: controller.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const types: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(piece, { stream: true });
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const data = buffer.slice(0, i).split('\n').find((l) => l.startsWith('data: '));
          buffer = buffer.slice(i + 2);
          if (data) types.push((JSON.parse(data.slice(6)) as { type: string }).type);
          if (types.includes('build.finished')) return;
        }
      }
    })();
    const build = await forceAndWait(m, 'green');
    await reading;
    controller.abort();
    assert.equal(build.result, 'success');
    assert.deepEqual(types.filter((t) => t !== 'log.lines'), ['request.added', 'build.started', 'step.started', 'step.finished', 'build.finished']);
    assert.ok(types.includes('log.lines'));
  });
});
