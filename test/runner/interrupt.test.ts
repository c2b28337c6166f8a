// Ctrl-C (or a cancelled CI job's SIGTERM) in the middle of a run: running files are killed,
// finished results are summarised, the state is INTERRUPTED and the exit code 130.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { closingLines, collect, makeSuite, removeSuite, startKeel } from '../helpers/keel-cli.js';
import { running } from '../helpers/processes.js';

const dirs: string[] = [];
after(() => dirs.forEach(removeSuite));

for (const signal of ['SIGINT', 'SIGTERM'] as const) test(`${signal} kills running files and summarises the finished ones`, async () => {
  const dir = makeSuite({
    'test/a_quick.test.mjs': "import { test } from 'node:test'; test('quick', () => {});\n",
    'test/b_slow.test.mjs':
      "import { test } from 'node:test'; import { writeFileSync } from 'node:fs';\ntest('waits', async () => { writeFileSync(new URL('../slow.pid', import.meta.url), String(process.pid)); await new Promise((r) => setTimeout(r, 60000)); });\n",
    'test/c_never.test.mjs': "import { test } from 'node:test'; test('never runs', () => {});\n",
  });
  dirs.push(dir);
  const child = startKeel(['test'], dir);
  const result = collect(child);
  let seen = '';
  await new Promise<void>((resolve) => {
    child.stdout!.on('data', (b: Buffer) => {
      seen += b.toString();
      if (/a_quick passed/.test(seen)) resolve();
    });
  });
  // Wait until the slow file is really running before interrupting it.
  const pidFile = path.join(dir, 'slow.pid');
  for (let i = 0; i < 100; i++) {
    try {
      readFileSync(pidFile);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const slowPid = Number(readFileSync(pidFile, 'utf8'));
  child.kill(signal);
  const r = await result;
  assert.equal(r.code, 130, r.stdout + r.stderr);
  assert.equal(closingLines(r.stdout).result, 'INTERRUPTED');
  assert.match(r.stdout, /2 test files omitted:\n {4}b_slow c_never\n/);
  assert.match(r.stdout, new RegExp(`Test suite interrupted by signal ${signal}\\.`));
  assert.match(r.stdout, /Tests: 1 passed, 0 failed, 0 skipped/);
  assert.equal(running(slowPid), false, 'the running test process was killed');
});
