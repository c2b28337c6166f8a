// --timeout with real processes: a hung file gets its stack dumped, is killed with its whole
// process tree and reported as timed out; the run goes on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { closingLines, makeSuite, removeSuite, runKeel } from '../helpers/keel-cli.js';
import { running } from '../helpers/processes.js';

describe('keel test --timeout', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeSuite));

  test('a busy hang is dumped with its JavaScript stack and killed with its children', async () => {
    const dir = makeSuite({
      'test/hang.test.mjs': `
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
test('spins forever', () => {
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  writeFileSync(new URL('../grandchild.pid', import.meta.url), String(child.pid));
  spinForever();
});
function spinForever() { for (;;) {} }
`,
      'test/good.test.mjs': "import { test } from 'node:test'; test('ok', () => {});\n",
    });
    dirs.push(dir);
    const r = await runKeel(['test', '-j2', '--timeout', '1.5'], dir);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stdout, /hang timed out \(\d/);
    assert.match(r.stdout, /Timeout: timed out after 1\.5 sec while running: spins forever/);
    assert.match(r.stdout, /JavaScript stack of the main thread \(most recent call first\):\n {4}at spinForever \(file:\/\/.*hang\.test\.mjs:10:/);
    assert.match(r.stdout, /good passed/);
    assert.deepEqual(closingLines(r.stdout), { result: 'FAILURE', tests: '1 passed, 1 failed, 0 skipped' });
    const grandchild = Number(readFileSync(path.join(dir, 'grandchild.pid'), 'utf8'));
    assert.equal(running(grandchild), false, 'the sleep started by the hung test was killed too');
  });

  test('the stack is dumped even after a flood of output', async () => {
    const dir = makeSuite({
      'test/loud.test.mjs': "import { test } from 'node:test';\ntest('shouts then spins', () => { for (let i = 0; i < 400; i++) process.stderr.write('x'.repeat(1000) + '\\n'); for (;;) {} });\n",
    });
    dirs.push(dir);
    const r = await runKeel(['test', '--timeout', '1'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /JavaScript stack of the main thread \(most recent call first\):\n {4}at <anonymous> \(file:\/\/.*loud\.test\.mjs:2:/);
  });

  test('an idle hang names what the event loop waits on', async () => {
    const dir = makeSuite({
      'test/wait.test.mjs': "import { test } from 'node:test'; import net from 'node:net';\ntest('waits for a peer', async () => { const s = net.createServer().listen(0); await new Promise(() => {}); s.close(); });\n",
    });
    dirs.push(dir);
    const r = await runKeel(['test', '--timeout', '1'], dir);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /wait timed out/);
    assert.match(r.stdout, /No JavaScript was running: the event loop is idle, waiting on .*TCPServerWrap/);
  });
});
