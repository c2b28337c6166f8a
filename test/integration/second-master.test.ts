// A second master started by mistake (`keel up` again in the same folder, `keel master` with a
// name already running) says why and exits before it touches the database: starting ends the
// builds its name was running, which it would otherwise do to the master that is running them.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { masterLockPath } from '../../src/cli/master-lock.js';
import { openStorage } from '../../src/storage/open-storage.js';
import { KEEL_BIN, tempDir, waitFor } from './ci-harness.js';

const dir = tempDir('keel-second-master-');
after(() => dir.remove());
const config = join(dir.path, 'keel.config.json');
writeFileSync(config, JSON.stringify({ workers: [{ name: 'w1', secret: 'pw' }], builders: [{ name: 'b', workers: ['w1'], steps: [{ type: 'shell', command: 'true' }] }] }));

function runMaster(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KEEL_BIN, 'master', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A master that should have been refused and runs instead is stopped, and the test fails.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

it('a master whose port is taken exits with KEEL_ERR_LISTEN and leaves the running builds alone', async () => {
  const db = `sqlite:${join(dir.path, 'db.sqlite')}`;
  const storage = await openStorage(db);
  await storage.syncBuilders([{ name: 'b', description: null, tags: [] }]);
  const requestId = await storage.addBuildRequest({ builder: 'b', submittedAt: 1 });
  assert.ok(await storage.claimBuildRequest(['b'], 'm', 2));
  const build = await storage.createBuild({ requestId, builder: 'b', worker: 'w1', master: 'm', startedAt: 2 });
  await storage.close();

  // The running master, as far as the port is concerned.
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  after(() => holder.close());
  const { port } = holder.address() as AddressInfo;

  const second = await runMaster(['--config', config, '--db', db, '--name', 'm', '--port', String(port), '--host', '127.0.0.1', '--workdir', join(dir.path, 'work')]);
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*\\[KEEL_ERR_LISTEN\\]`));

  const after_ = await openStorage(db);
  try {
    const b = await after_.getBuild(build.id);
    assert.equal(b?.result, null, `the running build was ended: ${b?.result} (${b?.reason})`);
  } finally {
    await after_.close();
  }
});

it('a host that is no address of this machine is named in the error', async () => {
  const r = await runMaster(['--config', config, '--db', `sqlite:${join(dir.path, 'db2.sqlite')}`, '--port', '0', '--host', 'no-such-host.invalid']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot listen on no-such-host\.invalid:0: no such host no-such-host\.invalid; check --host \[KEEL_ERR_LISTEN\]/);
});

/** A `keel master` that runs until killed; resolves with its port once it listens. */
async function startMasterProcess(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [KEEL_BIN, 'master', ...args, '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  after(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await waitFor('the master to listen', () => Number(/listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1]) || undefined);
  return { child, port };
}

it('a second master of the same name on the same SQLite file is refused, naming the first', async () => {
  const dbPath = join(dir.path, 'named.sqlite');
  const db = `sqlite:${dbPath}`;
  const common = ['--config', config, '--db', db, '--name', 'm', '--workdir', join(dir.path, 'work2')];
  const first = await startMasterProcess(common);
  assert.ok(existsSync(masterLockPath(dbPath, 'm')));
  // A build the first master is running.
  const storage = await openStorage(db);
  const requestId = await storage.addBuildRequest({ builder: 'b', submittedAt: 1 });
  assert.ok(await storage.claimBuildRequest(['b'], 'm', 2));
  const build = await storage.createBuild({ requestId, builder: 'b', worker: 'w1', master: 'm', startedAt: 2 });

  const second = await runMaster([...common, '--port', '0', '--host', '127.0.0.1']);
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`a master named "m" already runs on this database \\(pid ${first.child.pid}\\).*\\[KEEL_ERR_MASTER_RUNNING\\]`));
  assert.equal((await storage.getBuild(build.id))?.result, null);
  await storage.close();
  assert.equal((await fetch(`http://127.0.0.1:${first.port}/api/v1/builders`)).status, 200);

  first.child.kill('SIGTERM');
  await once(first.child, 'exit');
  assert.equal(existsSync(masterLockPath(dbPath, 'm')), false, 'a clean shutdown removes the lock');
});

it('the lock of a master that died is taken over', async () => {
  const dbPath = join(dir.path, 'stale.sqlite');
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  writeFileSync(masterLockPath(dbPath, 'm'), `${dead}\n${hostname()}\n`);
  const m = await startMasterProcess(['--config', config, '--db', `sqlite:${dbPath}`, '--name', 'm', '--workdir', join(dir.path, 'work3')]);
  m.child.kill('SIGTERM');
  const [code] = await once(m.child, 'exit') as [number | null];
  assert.equal(code, 0);
  assert.equal(existsSync(masterLockPath(dbPath, 'm')), false);
});
