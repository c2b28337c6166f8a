import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PipeReader } from '../../src/worker/pipe-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'keel-pipe-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** Runs `script` with its stdout and stderr on FIFOs read by PipeReaders; what each read gave. */
function run(script: string): { reads: { tag: 'o' | 'e'; data: Buffer; at: number }[]; readers: PipeReader[]; done: Promise<void> } {
  const paths = ['o', 'e'].map((t) => join(dir, `${t}${seq++}`));
  execFileSync('mkfifo', paths);
  const reads = paths.map((p) => openSync(p, constants.O_RDONLY | constants.O_NONBLOCK));
  const writes = paths.map((p) => openSync(p, constants.O_WRONLY));
  for (const p of paths) unlinkSync(p);
  spawn('sh', ['-c', script], { stdio: ['ignore', writes[0]!, writes[1]!] });
  for (const fd of writes) closeSync(fd);
  const out: { tag: 'o' | 'e'; data: Buffer; at: number }[] = [];
  const readers: PipeReader[] = [];
  let open = 2;
  const done = new Promise<void>((resolve) => {
    for (const [i, tag] of (['o', 'e'] as const).entries()) {
      readers.push(new PipeReader(reads[i]!, (data) => out.push({ tag, data: Buffer.from(data), at: Date.now() }), () => --open === 0 && resolve(), readers));
    }
  });
  return { reads: out, readers, done };
}

const bytes = (reads: { data: Buffer }[]) => reads.reduce((n, r) => n + r.data.length, 0);

describe('PipeReader', { skip: process.platform !== 'linux' && 'pipe capacity is Linux-only' }, () => {
  it('reads a fast writer a millisecond at a time once it has printed a megabyte, losing nothing', async () => {
    const { reads, done } = run(`yes "$(printf '%099d' 0)" | head -c ${32 * 1024 * 1024}`);
    await done;
    assert.equal(bytes(reads), 32 * 1024 * 1024);
    const text = Buffer.concat(reads.map((r) => r.data)).toString('latin1');
    assert.equal(text, `${'0'.repeat(99)}\n`.repeat(32 * 1024 * 1024 / 100 + 1).slice(0, 32 * 1024 * 1024));
    // Read as it comes, a 64 KB pipe gives 8-16 KB a wake-up: 2,000-4,000 reads for 32 MB.
    assert.ok(reads.length < 1000, `${reads.length} reads`);
  });

  it('passes a trickling writer\'s lines on at once', async () => {
    const { reads, done } = run('for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done');
    const seen: number[] = [];
    for (let i = 0; i < 80 && seen.length < 5; i++) {
      await sleep(25);
      const text = Buffer.concat(reads.map((r) => r.data)).toString();
      seen.splice(0, seen.length, ...[...text.matchAll(/line (\d)/g)].map((m) => Number(m[1])));
      // Each line arrives well before the next is printed (0.1 s later).
      if (seen.length > 0 && seen.length < 5) assert.ok(Date.now() - reads[reads.length - 1]!.at < 150);
    }
    await done;
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });

  it('reads nothing while paused by the caller, even when its wait ends, and everything after', async () => {
    const { reads, readers, done } = run(`yes "$(printf '%099d' 0)" | head -c ${8 * 1024 * 1024}`);
    while (bytes(reads) < 2 * 1024 * 1024) await sleep(1);
    for (const r of readers) r.pause();
    await sleep(20);
    const held = bytes(reads);
    await sleep(100);
    assert.equal(bytes(reads), held, 'nothing read while paused');
    for (const r of readers) r.resume();
    await done;
    assert.equal(bytes(reads), 8 * 1024 * 1024);
  });

  it('keeps stdout and stderr interleaved within what a pipe holds', async () => {
    // 64 KB of stdout, then a stderr line, 200 times. Which of two pipes was written first is
    // unknowable from their contents; reading both as they come keeps a stderr line within a pipe
    // (1 MB, once grown) of where it was printed, where libuv alone, reading up to 32 buffers of
    // one pipe before looking at the other, could put it 4 MB late.
    const { reads, done } = run(`for i in $(seq 1 200); do head -c 65536 /dev/zero | tr '\\0' o; echo "e $i" >&2; done`);
    await done;
    let out = 0;
    let lines = 0;
    for (const r of reads) {
      if (r.tag === 'o') out += r.data.length;
      else {
        for (const m of r.data.toString().matchAll(/e (\d+)/g)) {
          lines++;
          const printedAfter = Number(m[1]) * 65536;
          assert.ok(Math.abs(out - printedAfter) <= 1.25 * 1024 * 1024, `stderr line ${m[1]} after ${out} bytes of stdout`);
        }
      }
    }
    assert.equal(out, 200 * 65536);
    assert.equal(lines, 200);
  });
});
