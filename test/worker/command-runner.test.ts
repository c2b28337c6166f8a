// The command runner with real processes: output, exit codes, the no-output timeout and maxTime
// killing the whole process group (checked by pid), SIGKILL after the grace period.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandRunner } from '../../src/worker/command-runner.js';
import { alive } from '../helpers/processes.js';
import type { CommandSpec } from '../../src/worker/command-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(argv: string[], extra: Partial<CommandSpec> = {}) {
  const out: [string, string][] = [];
  const runner = new CommandRunner({ argv, cwd: dir, env: { PATH: process.env['PATH'] ?? '' }, timeout: 30, killGraceMs: 1000, ...extra }, (s, d) => out.push([s, d.toString()]));
  const text = (stream?: string) => out.filter(([s]) => !stream || s === stream).map(([, d]) => d).join('');
  return { runner, out, text };
}

describe('CommandRunner', () => {
  it('streams stdout and stderr and reports the exit code', async () => {
    const { runner, text } = run(['sh', '-c', 'echo out; echo err >&2; pwd; exit 3']);
    const outcome = await runner.done;
    assert.deepEqual([outcome.exitCode, outcome.reason, outcome.signal], [3, 'exited', null]);
    assert.equal(text('o'), `out\n${dir}\n`);
    assert.equal(text('e'), 'err\n');
  });

  it('kills a silent command and all its children after the no-output timeout', async () => {
    const { runner, text } = run(['sh', '-c', 'sleep 1000 & echo child $!; sleep 1000'], { timeout: 0.5 });
    const outcome = await runner.done;
    assert.equal(outcome.reason, 'timeout');
    assert.match(outcome.message ?? '', /0.5 seconds without output/);
    assert.equal(outcome.signal, 'SIGTERM');
    const child = Number(/child (\d+)/.exec(text('o'))?.[1]);
    assert.ok(child > 0);
    assert.equal(await alive(child), false, 'the background sleep was killed too');
    assert.equal(await alive(runner.pid ?? -1), false);
    assert.match(text('h'), /sending SIGTERM to process group/);
    assert.ok(outcome.durationMs >= 450 && outcome.durationMs < 5000, String(outcome.durationMs));
  });

  it('sends SIGKILL to a group that ignores SIGTERM, after the grace period', async () => {
    const { runner, text } = run(['sh', '-c', 'trap "" TERM; sleep 1000 & echo child $!; wait'], { timeout: 0.3, killGraceMs: 300 });
    const outcome = await runner.done;
    assert.equal(outcome.reason, 'timeout');
    assert.equal(outcome.signal, 'SIGKILL');
    assert.match(text('h'), /sending SIGKILL/);
    assert.equal(await alive(Number(/child (\d+)/.exec(text('o'))?.[1])), false);
  });

  it('kills a chatty command at maxTime', async () => {
    const { runner, text } = run(['sh', '-c', 'while true; do echo tick; sleep 0.05; done'], { timeout: 10, maxTime: 0.5 });
    const outcome = await runner.done;
    assert.equal(outcome.reason, 'maxTime');
    assert.ok(text('o').split('\n').length > 3, 'it did print before being killed');
    assert.ok(outcome.durationMs < 3000);
  });

  it('stops reading while paused and passes every byte on, in order, after resume', async () => {
    // The runner reads each pipe into one reused buffer: the copies here are what was read.
    const { runner, text } = run(['sh', '-c', 'seq 1 400000; echo end >&2']);
    const received = () => text('o').length;
    while (received() === 0) await sleep(5);
    runner.pause();
    await sleep(100);
    const paused = received();
    await sleep(300);
    assert.equal(received(), paused, 'nothing is read while paused');
    assert.ok(paused < 2_000_000, `the command blocked on the full pipe: ${paused} bytes read`);
    runner.resume();
    const outcome = await runner.done;
    assert.equal(outcome.exitCode, 0);
    assert.equal(text('o'), `${Array.from({ length: 400_000 }, (_, i) => i + 1).join('\n')}\n`);
    assert.equal(text('e'), 'end\n');
  });

  it('kill() interrupts and records the reason', async () => {
    const { runner } = run(['sleep', '1000']);
    setTimeout(() => runner.kill('interrupted', 'stopped by alice'), 100);
    const outcome = await runner.done;
    assert.deepEqual([outcome.reason, outcome.message], ['interrupted', 'stopped by alice']);
  });

  it('reports a command that cannot start', async () => {
    const { runner } = run(['/nonexistent/program']);
    const outcome = await runner.done;
    assert.equal(outcome.reason, 'spawnFailed');
    assert.match(outcome.message ?? '', /ENOENT/);
  });

  it('does not wait forever for a background child holding the pipes', async () => {
    const { runner, text } = run(['sh', '-c', 'sleep 1000 & echo bg $!; exit 0']);
    const outcome = await runner.done;
    assert.deepEqual([outcome.exitCode, outcome.reason], [0, 'exited']);
    assert.equal(await alive(Number(/bg (\d+)/.exec(text('o'))?.[1])), false);
  });
});
