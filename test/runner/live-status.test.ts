// On a terminal keel test keeps a status line of the running files; in a log it never does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { LiveStatus } from '../../src/runner/live-status.js';
import { keelBin, makeSuite, removeSuite, runKeel } from '../helpers/keel-cli.js';

const ESC = '\u001b';
const dirs: string[] = [];
after(() => dirs.forEach(removeSuite));

test('the status line is redrawn under each finished line and cut to the width', () => {
  let screen = '';
  const status = new LiveStatus((t) => (screen += t), () => 30);
  status.show('running (2): alpha (1.0 sec), beta (2.0 sec)');
  status.write('[1/2] gamma passed\n');
  status.clear();
  assert.equal(screen, '\r\x1b[Krunning (2): alpha (1.0 sec)…\r\x1b[K[1/2] gamma passed\nrunning (2): alpha (1.0 sec)…\r\x1b[K');
});

test('a run in a pseudo-terminal shows the running files; a run into a pipe shows no escape codes', async () => {
  const dir = makeSuite({
    'test/slow.test.mjs': "import { test } from 'node:test'; test('waits', () => new Promise((r) => setTimeout(r, 1500)));\n",
  });
  dirs.push(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, CI: '' };
  delete env.NODE_TEST_CONTEXT;
  delete env.KEEL_CHANNEL_FD;
  // script(1) gives the command a pseudo-terminal, as a developer's shell would.
  const tty = spawnSync('script', ['-qfec', `${process.execPath} ${keelBin} test`, '/dev/null'], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(tty.status, 0, tty.stdout + tty.stderr);
  assert.match(tty.stdout, new RegExp(`${ESC}\\[K\\d:\\d\\d:\\d\\d( load avg: [\\d.]+)? \\[0/1\\] running \\(1\\): slow \\(`));
  assert.match(tty.stdout, /Result: SUCCESS/);
  const piped = await runKeel(['test'], dir);
  assert.equal(piped.code, 0);
  assert.ok(!piped.stdout.includes(ESC), 'no escape codes in a log');
});
