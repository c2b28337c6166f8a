// Failure paths with real worker processes over real WebSockets: no-output timeout and maxTime
// (no orphans, checked by pid), stop and rebuild through the API with bearer tokens, a worker
// SIGKILLed mid-build (RETRY, rebuilt on a second worker), a bad secret, a malformed frame.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { KeelConfig } from '../../src/master/config.js';
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import { alive } from '../helpers/processes.js';
import { api, forceAndWait, logText, spawnWorker, startMaster, tempDir, waitFor, waitForBuildOfRequest } from './ci-harness.js';
import type { BuildJson, RunningMaster, WorkerProcess } from './ci-harness.js';

const TOKEN = 'tok-123';

const config: KeelConfig = {
  workers: [{ name: 'w1', secret: 'pw1' }, { name: 'w2', secret: 'pw2' }, { name: 'w3', secret: 'pw3' }],
  builders: [
    { name: 'silent', workers: ['w1'], steps: [
      { type: 'shell', name: 'hang', command: 'sleep 1000 & echo child $!; echo self $$; sleep 1000', timeout: 1 },
      { type: 'shell', name: 'after', command: 'echo after' },
    ] },
    { name: 'chatty', workers: ['w1'], steps: [{ type: 'shell', command: 'while true; do echo tick; sleep 0.1; done', maxTime: 1 }] },
    { name: 'long', workers: ['w1'], steps: [
      { type: 'shell', name: 'wait', command: 'echo waiting; sleep 1000' },
      { type: 'shell', name: 'next', command: 'echo next' },
      { type: 'shell', name: 'cleanup', command: 'sleep 0.2; echo cleaned', alwaysRun: true },
    ] },
    { name: 'moving', workers: ['w1', 'w2'], steps: [
      { type: 'shell', name: 'work', command: 'echo "on $KEEL_WORKER pgid $$"; if [ "$KEEL_WORKER" = w1 ]; then sleep 1000; fi; echo finished' },
    ] },
  ],
  auth: { tokens: [TOKEN] },
};

describe('failures on real workers', () => {
  let m: RunningMaster;
  let w1: WorkerProcess;
  const dir = tempDir('keel-failures-');
  const extra: WorkerProcess[] = [];
  const groupsToKill: number[] = [];

  before(async () => {
    m = await startMaster(config, { dbUrl: `sqlite:${join(dir.path, 'db.sqlite')}` });
    w1 = spawnWorker(m.port, 'w1', 'pw1', join(dir.path, 'w1'));
    await waitFor('w1 connected', () => m.master.registry.get('w1'));
  });
  after(async () => {
    for (const pgid of groupsToKill) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.all([w1, ...extra].map((w) => w.stop()));
    await m.stop();
    dir.remove();
  });

  it('a no-output timeout kills the command and its children, and the build goes on', async () => {
    const build = await forceAndWait(m, 'silent', {}, TOKEN);
    assert.deepEqual(build.steps.map((s) => s.result), ['failure', 'success']);
    assert.match(build.steps[0]?.reason ?? '', /timed out: 1 seconds without output/);
    const log = await logText(m, build.id, 'hang');
    const child = Number(/child (\d+)/.exec(log)?.[1]);
    const self = Number(/self (\d+)/.exec(log)?.[1]);
    assert.ok(child > 0 && self > 0);
    assert.equal(await alive(child), false, 'background sleep killed');
    assert.equal(await alive(self), false, 'shell killed');
    assert.match(log, /sending SIGTERM to process group/);
  });

  it('maxTime kills a command that keeps printing', async () => {
    const build = await forceAndWait(m, 'chatty', {}, TOKEN);
    assert.equal(build.result, 'failure');
    assert.match(build.steps[0]?.reason ?? '', /maxTime of 1 seconds/);
    assert.ok((build.finishedAt ?? 0) - build.startedAt < 5000);
  });

  it('writes need a token; stop cancels a running build; rebuild queues it again', async () => {
    assert.equal((await api(m.url, '/builders/long/force', { method: 'POST', body: {} })).status, 401);
    assert.equal((await api(m.url, '/builders/long/force', { method: 'POST', body: {}, token: 'wrong' })).status, 401);
    const forced = await api<{ requestId: number }>(m.url, '/builders/long/force', { method: 'POST', body: { branch: 'main' }, token: TOKEN });
    assert.equal(forced.status, 201);
    const buildId = await waitFor('build started', async () => (await api<{ buildIds: number[] }>(m.url, `/requests/${forced.body.requestId}`)).body.buildIds[0]);
    await waitFor('step output', async () => (await logText(m, buildId, 'wait')).includes('waiting'));
    assert.equal((await api(m.url, `/builds/${buildId}/stop`, { method: 'POST' })).status, 401);
    const stop = await api<{ stopped: boolean }>(m.url, `/builds/${buildId}/stop`, { method: 'POST', token: TOKEN });
    assert.deepEqual(stop.body, { stopped: true });
    const build = await waitForBuildOfRequest(m, forced.body.requestId);
    assert.equal(build.result, 'cancelled');
    assert.deepEqual(build.steps.map((s) => s.result), ['cancelled', 'skipped', 'success']);
    assert.match(await logText(m, buildId, 'cleanup'), /^cleaned$/m, 'an alwaysRun step runs to its end after a stop');
    const req = await api<{ result: string }>(m.url, `/requests/${forced.body.requestId}`);
    assert.equal(req.body.result, 'cancelled');
    const again = await api<{ requestId: number }>(m.url, `/builds/${buildId}/rebuild`, { method: 'POST', token: TOKEN });
    assert.equal(again.status, 201);
    const rebuiltId = await waitFor('rebuild started', async () => (await api<{ buildIds: number[] }>(m.url, `/requests/${again.body.requestId}`)).body.buildIds[0]);
    const rebuilt = (await api<BuildJson>(m.url, `/builds/${rebuiltId}`)).body;
    assert.equal(rebuilt.number, build.number + 1);
    assert.equal(rebuilt.properties['branch'], 'main');
    await api(m.url, `/builds/${rebuiltId}/stop`, { method: 'POST', token: TOKEN });
    assert.equal((await waitForBuildOfRequest(m, again.body.requestId)).result, 'cancelled');
  });

  it('a worker killed with SIGKILL mid-build ends the build in RETRY; a second worker builds the request', async () => {
    const forced = await api<{ requestId: number }>(m.url, '/builders/moving/force', { method: 'POST', body: {}, token: TOKEN });
    const firstId = await waitFor('build on w1', async () => (await api<{ buildIds: number[] }>(m.url, `/requests/${forced.body.requestId}`)).body.buildIds[0]);
    const log = await waitFor('output from w1', async () => {
      const text = await logText(m, firstId, 'work');
      return text.includes('on w1') ? text : undefined;
    });
    groupsToKill.push(Number(/pgid (\d+)/.exec(log)?.[1]));
    w1.child.kill('SIGKILL');
    await w1.stop();
    const first = await waitFor('first build ended', async () => {
      const b = (await api<BuildJson>(m.url, `/builds/${firstId}`)).body;
      return b.result !== null ? b : undefined;
    });
    assert.equal(first.result, 'retry');
    assert.match(first.reason ?? '', /worker w1 lost/);
    assert.match(await logText(m, firstId, 'work'), /on w1/, 'what was received before the loss is kept');
    const queued = await api<{ result: string | null; buildIds: number[] }>(m.url, `/requests/${forced.body.requestId}`);
    assert.equal(queued.body.result, null, 'the request is queued again, not completed');
    extra.push(spawnWorker(m.port, 'w2', 'pw2', join(dir.path, 'w2')));
    const second = await waitForBuildOfRequest(m, forced.body.requestId);
    assert.equal(second.worker, 'w2');
    assert.equal(second.result, 'success');
    assert.notEqual(second.id, firstId);
    const req = await api<{ result: string; buildIds: number[] }>(m.url, `/requests/${forced.body.requestId}`);
    assert.deepEqual([req.body.result, req.body.buildIds], ['success', [firstId, second.id]]);
    // The killed worker could not stop its command; started again on its basedir, it does.
    const pgid = groupsToKill[groupsToKill.length - 1]!;
    assert.equal(await alive(pgid), true, 'the orphan outlived its worker');
    const again = spawnWorker(m.port, 'w1', 'pw1', join(dir.path, 'w1'));
    extra.push(again);
    await waitFor('w1 back', () => m.master.registry.get('w1'));
    assert.equal(await alive(pgid), false, 'the new run of w1 killed its previous run\'s orphans');
    assert.match(again.output(), /killed 2 process\(es\) left running by a previous run/);
  });

  it('a worker with a bad secret is refused and exits', async () => {
    const bad = spawnWorker(m.port, 'w1', 'not-the-secret', join(dir.path, 'bad'));
    extra.push(bad);
    const code = await new Promise<number | null>((r) => bad.child.once('exit', (c) => r(c)));
    assert.notEqual(code, 0);
    assert.match(bad.output(), /refused.*wrong secret/);
    assert.ok(m.logs.some((l) => /refused worker connection .*wrong secret/.test(l)));
  });

  it('a worker connecting again under its name replaces its previous connection', async () => {
    const real = await waitFor('w2 connected', () => m.master.registry.get('w2'));
    const fake = new WebSocket(`ws://127.0.0.1:${m.port}/ws/worker`);
    await new Promise((r) => fake.once('open', r));
    const closed = new Promise<number>((r) => fake.once('close', (code) => r(code)));
    fake.send(JSON.stringify({ type: 'hello', seq: 1, protocol: PROTOCOL_VERSION, name: 'w2', secret: 'pw2', info: { hostname: 'fake', os: 'x', arch: 'x', node: 'x', cpus: 1, keel: 'x' } }));
    await waitFor('the fake took over', () => m.master.registry.get('w2')?.info.hostname === 'fake');
    assert.notEqual(m.master.registry.get('w2'), real);
    // The real worker, cut off, reconnects and takes its name back.
    assert.equal(await closed, 4004);
    await waitFor('the real w2 back', () => m.master.registry.get('w2') !== undefined && m.master.registry.get('w2')?.info.hostname !== 'fake');
  });

  it('a malformed frame is refused and logged; the master keeps serving', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${m.port}/ws/worker`);
    await new Promise((r) => ws.once('open', r));
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(d.toString()));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send('{"type":"hello", "seq": 1, "protocol": "one"');
    assert.equal(await closed, 4003);
    assert.equal(JSON.parse(frames[0] ?? '{}').code, 'KEEL_ERR_PROTOCOL');
    assert.ok(m.logs.some((l) => /refused frame: frame is not JSON/.test(l)));
    // After the handshake a bad frame is answered, and the connection and master carry on.
    const ws2 = new WebSocket(`ws://127.0.0.1:${m.port}/ws/worker`);
    await new Promise((r) => ws2.once('open', r));
    const got: { type: string; code?: string }[] = [];
    ws2.on('message', (d) => got.push(JSON.parse(d.toString()) as { type: string }));
    ws2.send(JSON.stringify({ type: 'hello', seq: 1, protocol: PROTOCOL_VERSION, name: 'w3', secret: 'pw3', maxBuilds: 1, info: { hostname: 'x', os: 'x', arch: 'x', node: 'x', cpus: 1, keel: 'x' } }));
    await waitFor('welcome', () => got.some((g) => g.type === 'welcome'));
    ws2.send(JSON.stringify({ type: 'command.output', seq: 2, commandId: 'nope', chunks: 'bad' }));
    await waitFor('error reply', () => got.some((g) => g.type === 'error' && g.code === 'KEEL_ERR_PROTOCOL'));
    assert.equal(ws2.readyState, WebSocket.OPEN);
    ws2.close();
    await waitFor('fake w3 gone', () => !m.master.registry.get('w3'));
    const builders = await api(m.url, '/builders');
    assert.equal(builders.status, 200);
  });
});
