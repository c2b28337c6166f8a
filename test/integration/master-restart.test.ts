// A `keel master` process killed with SIGKILL mid-build and started again on the same database:
// the interrupted build ends RETRY, every queued request is kept and built, the worker reconnects.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { KEEL_BIN, spawnWorker, tempDir, waitFor } from './ci-harness.js';
import type { BuildJson, WorkerProcess } from './ci-harness.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const dir = tempDir('keel-restart-');
const children: ChildProcess[] = [];
let worker: WorkerProcess | undefined;
after(async () => {
  await worker?.stop();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  dir.remove();
});

function startMasterProcess(port: number): ChildProcess {
  const child = spawn(process.execPath, [KEEL_BIN, 'master', '--config', join(dir.path, 'keel.config.json'), '--db', `sqlite:${join(dir.path, 'db.sqlite')}`, '--port', String(port), '--host', '127.0.0.1'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function get<T>(port: number, path: string): Promise<T | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`);
    return res.ok ? ((await res.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

async function post(port: number, path: string, body: unknown): Promise<{ requestId: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 201);
  return (await res.json()) as { requestId: number };
}

it('a killed master restarts with its queue intact and its workers back', async () => {
  const gate = join(dir.path, 'gate');
  writeFileSync(join(dir.path, 'keel.config.json'), JSON.stringify({
    workers: [{ name: 'w1', secret: 'pw' }],
    builders: [{ name: 'b', workers: ['w1'], env: { GATE: gate }, steps: [
      // The first build (branch "slow") waits for the gate file, which appears after the restart.
      { type: 'shell', command: 'if [ "$KEEL_BRANCH" = slow ]; then echo waiting; while [ ! -f "$GATE" ]; do sleep 0.1; done; fi; echo built $KEEL_BRANCH' },
    ] }],
  }));
  const port = await freePort();
  const first = startMasterProcess(port);
  await waitFor('master up', () => get(port, '/builders'));
  worker = spawnWorker(port, 'w1', 'pw', join(dir.path, 'w1'));
  await waitFor('worker connected', async () => (await get<{ workers: { connected: boolean }[] }>(port, '/workers'))?.workers[0]?.connected);
  const slow = await post(port, '/builders/b/force', { branch: 'slow' });
  const queued = [await post(port, '/builders/b/force', { branch: 'q1' }), await post(port, '/builders/b/force', { branch: 'q2' })];
  const runningId = await waitFor('slow build running', async () => (await get<{ buildIds: number[] }>(port, `/requests/${slow.requestId}`))?.buildIds[0]);

  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  startMasterProcess(port);
  await waitFor('master back', () => get(port, '/builders'));
  writeFileSync(gate, '');

  const interrupted = await waitFor('interrupted build', () => get<BuildJson>(port, `/builds/${runningId}`));
  assert.equal(interrupted.result, 'retry');
  assert.equal(interrupted.reason, 'master restarted');
  await waitFor('worker reconnected', async () => (await get<{ workers: { connected: boolean }[] }>(port, '/workers'))?.workers[0]?.connected, 30_000);
  for (const r of [slow, ...queued]) {
    const done = await waitFor(`request ${r.requestId} built`, async () => {
      const req = await get<{ result: string | null; buildIds: number[] }>(port, `/requests/${r.requestId}`);
      return req?.result ? req : undefined;
    }, 30_000);
    assert.equal(done.result, 'success');
  }
  const slowReq = await get<{ buildIds: number[] }>(port, `/requests/${slow.requestId}`);
  assert.equal(slowReq?.buildIds.length, 2, 'the interrupted request was built again');
  assert.equal(slowReq?.buildIds[0], runningId);
});
