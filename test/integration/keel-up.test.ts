// `keel up` as a user runs it, in an empty folder: master, local worker and SQLite under
// ./.keel/, the example project built once; then `keel force --wait` and `keel checkconfig`.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { KEEL_BIN, tempDir, waitFor } from './ci-harness.js';
import type { BuildJson } from './ci-harness.js';

const dir = tempDir('keel-up-');
const up = spawn(process.execPath, [KEEL_BIN, 'up', '--port', '0'], { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
up.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
up.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)));
after(async () => {
  if (up.exitCode === null) up.kill('SIGTERM');
  await exited;
  dir.remove();
});

it('keel up builds the example project and keel force talks to it', async () => {
  const url = await waitFor('keel up to print its URL', () => /Keel is up: (http:\/\/\S+?)\/ /.exec(stdout)?.[1], 20_000);
  assert.match(stdout, new RegExp(`data: +${join(dir.path, '.keel').replace(/[/.]/g, '\\$&')}`));
  assert.ok(existsSync(join(dir.path, '.keel', 'keel.sqlite')));
  // The first run queues one build of the example; it tests a project with a flaky test, so
  // its result may be success, warnings (failed then passed) or, rarely, failure.
  const build = await waitFor('the first build', async () => {
    const res = await fetch(`${url}/api/v1/builds/1`);
    if (!res.ok) return undefined;
    const b = (await res.json()) as BuildJson;
    return b.result !== null ? b : undefined;
  }, 60_000);
  assert.equal(build.builder, 'demo');
  assert.equal(build.worker, 'local');
  assert.deepEqual(build.steps.slice(0, 2).map((s) => s.result), ['success', 'success']);
  assert.ok(['success', 'warnings', 'failure'].includes(build.result ?? ''), String(build.result));
  const log = await (await fetch(`${url}/api/v1/builds/1/steps/test/logs/stdio/raw`)).text();
  assert.match(log, /^Result: /m, 'keel test ran the example suite');

  const forced = spawnSync(process.execPath, [KEEL_BIN, 'force', 'demo', '--master', url, '--reason', 'from the test', '--wait'], { encoding: 'utf8', timeout: 60_000 });
  assert.match(forced.stdout, /request 2 queued for demo\ndemo #2 \(build 2\): (success|warnings|failure)\n/);
  assert.equal(forced.status, /: failure/.test(forced.stdout) ? 1 : 0);
  const missing = spawnSync(process.execPath, [KEEL_BIN, 'force', 'nope', '--master', url], { encoding: 'utf8' });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /404.*no builder named "nope"/);

  up.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(stderr, /worker local disconnected/);
});
