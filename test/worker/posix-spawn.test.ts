// posix_spawn for build commands: a session of their own, default signals, the command's own PATH
// and workdir, exit codes and signals reaped, and no copy-on-write of the worker's memory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { canPosixSpawn, spawnInSession } from '../../src/worker/posix-spawn.js';
import type { SpawnedCommand } from '../../src/worker/posix-spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-posix-spawn-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const PATH = process.env['PATH'] ?? '/usr/bin:/bin';

function ended(c: SpawnedCommand): Promise<[number | null, string | null]> {
  return new Promise((resolve) => c.once('exit', (code, signal) => resolve([code, signal])));
}

/** Runs `script` with sh, its output into a file; resolves with how it ended and what it printed. */
async function sh(script: string, env: Record<string, string> = { PATH }, cwd = dir): Promise<{ code: number | null; signal: string | null; out: string }> {
  const file = join(dir, `out-${Math.random()}`);
  const fd = openSync(file, 'w');
  try {
    const c = spawnInSession({ argv: ['sh', '-c', script], cwd, env, stdout: fd, stderr: fd });
    const [code, signal] = await ended(c);
    return { code, signal, out: readFileSync(file, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

/** Minor page faults of this process so far (/proc/self/stat, field 10). */
function minorFaults(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

describe('spawnInSession', { skip: !canPosixSpawn() && 'posix_spawn is not usable here (not glibc, or no koffi)' }, () => {
  it('runs in the workdir with exactly the env given, and reports the exit code', async () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    const r = await sh('echo "$(pwd) $KEEL_X ${HOME:-nohome}"; exit 7', { PATH, KEEL_X: 'x1' }, sub);
    assert.deepEqual([r.code, r.signal, r.out], [7, null, `${sub} x1 nohome\n`]);
  });

  it('makes the command a session and group leader, with no signal ignored or blocked', async () => {
    // /proc/PID/stat: pid (comm) state ppid pgrp session …; status: SigIgn and SigBlk masks.
    // The masks are read by the command itself (exec, same pid): read from a child of the shell,
    // they could be the shell's while it blocks every signal around its vfork for that child.
    const r = await sh('cut -d" " -f1,5,6 /proc/$$/stat; exec grep -E "^Sig(Ign|Blk)" /proc/self/status');
    const [ids, ...masks] = r.out.trim().split('\n');
    const [pid, pgrp, session] = ids!.split(' ');
    const ign = masks.find((l) => l.startsWith('SigIgn'));
    const blk = masks.find((l) => l.startsWith('SigBlk'));
    assert.deepEqual([pgrp, session], [pid, pid]);
    // Node ignores SIGPIPE; a command that inherited that would not die writing into a closed pipe.
    assert.match(ign!, /^SigIgn:\s+0+$/);
    assert.match(blk!, /^SigBlk:\s+0+$/);
  });

  it('reports the signal that ended a command', async () => {
    const r = await sh('kill -TERM $$; sleep 5');
    assert.deepEqual([r.code, r.signal], [null, 'SIGTERM']);
  });

  it("looks the program up in the command's own PATH, from its workdir", async () => {
    mkdirSync(join(dir, 'tools'));
    writeFileSync(join(dir, 'tools', 'keel-only-here'), '#!/bin/sh\necho found me\n', { mode: 0o755 });
    const fd = openSync(join(dir, 'tools-out'), 'w');
    const c = spawnInSession({ argv: ['keel-only-here'], cwd: dir, env: { PATH: `tools:${PATH}` }, stdout: fd, stderr: fd });
    assert.deepEqual(await ended(c), [0, null]);
    closeSync(fd);
    assert.equal(readFileSync(join(dir, 'tools-out'), 'utf8'), 'found me\n');
  });

  it('throws spawn ENOENT for a program or workdir that does not exist', () => {
    assert.throws(() => spawnInSession({ argv: ['/nonexistent/program'], cwd: dir, env: { PATH }, stdout: 1, stderr: 2 }), /spawn \/nonexistent\/program ENOENT/);
    assert.throws(() => spawnInSession({ argv: ['no-such-program-anywhere'], cwd: dir, env: { PATH }, stdout: 1, stderr: 2 }), /ENOENT/);
    assert.throws(() => spawnInSession({ argv: ['true'], cwd: join(dir, 'missing'), env: { PATH }, stdout: 1, stderr: 2 }), /spawn true ENOENT/);
  });

  it('reaps several commands that end together', async () => {
    const fd = openSync('/dev/null', 'w');
    const codes = await Promise.all([1, 2, 3, 4, 5].map((n) => ended(spawnInSession({ argv: ['sh', '-c', `exit ${n}`], cwd: dir, env: { PATH }, stdout: fd, stderr: fd }))));
    closeSync(fd);
    assert.deepEqual(codes.map(([code]) => code), [1, 2, 3, 4, 5]);
  });

  it("does not make the worker's memory copy-on-write, as Node's fork-based spawn does", async () => {
    const memory = Buffer.alloc(4 * 1024 * 1024, 1);
    const faultsRewriting = async (start: () => Promise<unknown>) => {
      memory.fill(2);
      await start();
      const before = minorFaults();
      memory.fill(3);
      return minorFaults() - before;
    };
    const fd = openSync('/dev/null', 'w');
    const direct = await faultsRewriting(() => ended(spawnInSession({ argv: ['true'], cwd: dir, env: { PATH }, stdout: fd, stderr: fd })));
    const forked = await faultsRewriting(() => new Promise((r) => spawn('true', { stdio: 'ignore' }).on('exit', r)));
    closeSync(fd);
    // 4 MB is 1,024 pages: each faults once after a fork, none after posix_spawn.
    assert.ok(forked > 900, `after Node's spawn: ${forked} faults`);
    assert.ok(direct < 100, `after posix_spawn: ${direct} faults`);
  });
});
