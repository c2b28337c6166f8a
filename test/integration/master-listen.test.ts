// A master that cannot listen says why and exits before it touches the database: starting ends the
// builds its name was running, which a second `keel master` (or `keel up`) started by mistake
// would otherwise do to the master that is running them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openStorage } from '../../src/storage/open-storage.js';
import { KEEL_BIN, tempDir } from './ci-harness.js';

const dir = tempDir('keel-listen-');
after(() => dir.remove());

function runMaster(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KEEL_BIN, 'master', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
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
  const config = join(dir.path, 'keel.config.json');
  writeFileSync(config, JSON.stringify({ workers: [{ name: 'w1', secret: 'pw' }], builders: [{ name: 'b', workers: ['w1'], steps: [{ type: 'shell', command: 'true' }] }] }));

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
  const r = await runMaster(['--config', join(dir.path, 'keel.config.json'), '--db', `sqlite:${join(dir.path, 'db2.sqlite')}`, '--port', '0', '--host', 'no-such-host.invalid']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot listen on no-such-host\.invalid:0: no such host no-such-host\.invalid; check --host \[KEEL_ERR_LISTEN\]/);
});
