// bench/ci/sqlite-checkpoints: how long the master's log writes hold its event loop, with SQLite's
// WAL checkpoints inside the commits (SQLite's default) and on their own thread (Keel's).
// Writes KEEL_BENCH_MB (default 64) of incompressible 128 KB log chunks, one transaction each,
// KEEL_BENCH_GAP_MS (default 1) apart: a master storing many builds' output at once.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStorage } from '../../src/storage/open-storage.js';

const MB = Number(process.env['KEEL_BENCH_MB'] ?? 64);
const GAP_MS = Number(process.env['KEEL_BENCH_GAP_MS'] ?? 1);
const ROUNDS = Number(process.env['KEEL_BENCH_ROUNDS'] ?? 3);
const CHUNK = 128 * 1024;

async function ingest(checkpointThread: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-wal-'));
  try {
    const path = join(dir, 'keel.sqlite');
    const storage = await openStorage(`sqlite:${path}`, { checkpointThread });
    const req = await storage.addBuildRequest({ builder: 'b', submittedAt: 1 });
    const build = await storage.createBuild({ requestId: req, builder: 'b', worker: 'w', master: 'm', startedAt: 1 });
    const step = await storage.addStep(build.id, 0, 's');
    const log = await storage.createLog(step.id, 'stdio');
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const ms: number[] = [];
    for (let i = 0, line = 0; i < (MB * 1024 * 1024) / CHUNK; i++, line += 1000) {
      const t0 = performance.now();
      await storage.appendLogChunks(log.id, [{ firstLine: line, lastLine: line + 999, content: randomBytes(CHUNK), rawBytes: CHUNK, streams: 'o1000' }]);
      ms.push(performance.now() - t0);
      await sleep(GAP_MS);
    }
    loop.disable();
    const walMb = statSync(`${path}-wal`).size / 1024 / 1024;
    await storage.close();
    ms.sort((a, b) => a - b);
    const at = (q: number) => ms[Math.floor(q * (ms.length - 1))]!.toFixed(1);
    const over = ms.filter((x) => x > 5);
    return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms; ${over.length} over 5 ms (${over.reduce((a, b) => a + b, 0).toFixed(0)} ms in all); event loop held up to ${(loop.max / 1e6).toFixed(0)} ms; WAL ${walMb.toFixed(0)} MB at the end`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`bench/ci/sqlite-checkpoints on ${process.version}: ${MB} MB of log chunks in 128 KB transactions, ${GAP_MS} ms apart\n\n`);
process.stdout.write('| checkpoints | one commit of a chunk |\n|---|---|\n');
for (let round = 0; round < ROUNDS; round++) {
  process.stdout.write(`| in the commits (SQLite's default) | ${await ingest(false)} |\n`);
  process.stdout.write(`| on a thread (Keel) | ${await ingest(true)} |\n`);
}
