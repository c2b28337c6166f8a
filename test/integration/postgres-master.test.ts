// The master on PostgreSQL (a fresh schema, dropped afterwards) with a real worker: builds,
// steps and logs go through pg exactly as through SQLite.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { api, forceAndWait, logText, spawnWorker, startMaster, tempDir, waitFor } from './ci-harness.js';
import type { RunningMaster, WorkerProcess } from './ci-harness.js';

const url = process.env['KEEL_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `keel_it_${randomBytes(6).toString('hex')}`;

describe('master on PostgreSQL', () => {
  let m: RunningMaster;
  let worker: WorkerProcess;
  const dir = tempDir('keel-pg-');

  before(async () => {
    m = await startMaster({
      workers: [{ name: 'w1', secret: 'pw', maxBuilds: 2 }],
      builders: [{ name: 'pg', workers: ['w1'], steps: [
        { type: 'shell', name: 'lines', command: 'for i in $(seq 1 20000); do echo "line $i"; done; echo oops >&2' },
        { type: 'shell', name: 'fail', command: 'exit 1', flunkOnFailure: false, warnOnFailure: true },
      ] }],
    }, { dbUrl: url, schema });
    worker = spawnWorker(m.port, 'w1', 'pw', join(dir.path, 'w1'));
    await waitFor('worker', () => m.master.registry.get('w1'));
  });
  after(async () => {
    await worker.stop();
    await m.stop();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
    dir.remove();
  });

  it('runs builds and serves their logs', async () => {
    const [a, b] = await Promise.all([forceAndWait(m, 'pg'), forceAndWait(m, 'pg')]);
    assert.deepEqual([a.result, b.result], ['warnings', 'warnings']);
    assert.deepEqual([a.number, b.number].sort(), [1, 2]);
    const text = await logText(m, a.id, 'lines');
    assert.match(text, /^line 1\nline 2\n/m);
    assert.match(text, /^line 20000$/m);
    const page = await api<{ lines: { n: number; stream: string; text: string }[]; total: number }>(m.url, `/builds/${a.id}/steps/lines/logs/stdio?offset=10000&limit=3`);
    assert.deepEqual(page.body.lines.map((l) => l.n), [10000, 10001, 10002]);
    assert.ok(page.body.lines.every((l) => /^line \d+$/.test(l.text)));
    assert.ok(page.body.total > 20000);
    const list = await api<{ total: number }>(m.url, '/builds?builder=pg&result=warnings');
    assert.equal(list.body.total, 2);
  });
});
