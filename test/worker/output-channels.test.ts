// How a command's output reaches the worker: FIFOs from a pool under the worker's basedir (what a
// shell pipeline gives a program, and far cheaper to read than Node's socket pairs), their folder
// gone with the process and a dead process's left behind removed; Node's pipes where no FIFO can
// be made.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CommandRunner } from '../../src/worker/command-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-channels-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const runnerModule = fileURLToPath(new URL('../../src/worker/command-runner.js', import.meta.url));

// What the command's stdout and stderr are, as the command itself sees them.
const KINDS = 'for fd in 1 2; do if [ -p /proc/self/fd/$fd ]; then echo fifo; elif [ -S /proc/self/fd/$fd ]; then echo socket; else echo other; fi; done';

async function kinds(fifoRoot: string): Promise<string> {
  let out = '';
  const runner = new CommandRunner({ argv: ['/bin/sh', '-c', `${KINDS} 2>&1`], cwd: dir, env: {}, timeout: 30, killGraceMs: 1000, fifoRoot }, (_s, d) => (out += d.toString()));
  await runner.done;
  return out;
}

describe('output channels', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, () => {
  it('gives the command FIFOs, unlinked once open, from a pool under the given folder', async () => {
    const root = join(dir, 'pool');
    assert.equal(await kinds(root), 'fifo\nfifo\n');
    const own = join(root, String(process.pid));
    const left = readdirSync(own).length;
    assert.ok(left > 0 && left < 64, 'the pool holds the FIFOs not yet used');
    assert.equal(await kinds(root), 'fifo\nfifo\n');
    assert.equal(readdirSync(own).length, left - 2, 'each command took two and unlinked them');
  });

  it('a process removes its FIFOs when it exits, and those of dead processes when it starts', () => {
    const root = join(dir, 'exit');
    const stale = join(root, '999999999');
    mkdirSync(stale, { recursive: true });
    const script = `import { CommandRunner } from ${JSON.stringify(runnerModule)};
      await new CommandRunner({ argv: ['/bin/true'], cwd: '/', env: {}, timeout: 10, killGraceMs: 100, fifoRoot: ${JSON.stringify(root)} }, () => {}).done;`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script]);
    assert.equal(existsSync(stale), false, 'a dead process\'s folder is removed');
    assert.equal(existsSync(root), false, 'the pool folder is gone with the process');
  });

  it('falls back to Node\'s pipes where mkfifo cannot be run, and the output still arrives', () => {
    const script = `import { CommandRunner } from ${JSON.stringify(runnerModule)};
      let out = '';
      const r = new CommandRunner({ argv: ['/bin/sh', '-c', ${JSON.stringify(`${KINDS}; echo done >&2`)}], cwd: '/', env: {}, timeout: 10, killGraceMs: 100, fifoRoot: ${JSON.stringify(join(dir, 'nofifo'))} }, (s, d) => (out += s + ':' + d));
      await r.done;
      process.stdout.write(out);`;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: '/nonexistent' }, encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /o:socket\nsocket\n/);
    assert.match(res.stdout, /e:done\n/);
  });
});
