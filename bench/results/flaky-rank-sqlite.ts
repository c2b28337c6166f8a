// bench/results: the flaky ranking (GET /api/v1/flaky) and the current failures (/failures) over
// 1,000,000 outcomes stored in SQLite, read back through Storage as the API does. Goal ≤ 200 ms.
//
//   npm run build && node build/bench/results/flaky-rank-sqlite.js [--outcomes 1000000] [--rounds 7] [--db PATH]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { rankFlakyTests } from '../../src/insight/flaky-tests.js';
import { rankStoredFlakyTests, storedCurrentFailures } from '../../src/master/test-insight.js';
import { openStorage } from '../../src/storage/open-storage.js';
import type { NewTestOutcome } from '../../src/storage/storage.js';
import { generateHistory } from './flaky-history.js';

const { values } = parseArgs({ options: {
  outcomes: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '7' }, db: { type: 'string' },
} });
const total = Number(values.outcomes);
const rounds = Number(values.rounds);

const dir = values.db === undefined ? mkdtempSync(join(tmpdir(), 'keel-flaky-bench-')) : undefined;
const storage = await openStorage(`sqlite:${values.db ?? join(dir!, 'bench.sqlite')}`);
try {
  const existing = await storage.listInsightOutcomes({});
  if (existing.length === 0) {
    // The same history as flaky-rank.ts, one transaction per build as the build engine stores it.
    const t0 = performance.now();
    const records = generateHistory(total);
    const builds = new Map<number, NewTestOutcome[]>();
    for (const r of records) {
      let rows = builds.get(r.buildId);
      if (rows === undefined) builds.set(r.buildId, (rows = []));
      rows.push({
        buildId: 0, builder: r.builder, branch: r.branch, revision: r.revision, worker: r.worker, step: 'test',
        testId: r.testId, file: r.testId.split('.')[0]!, name: r.testId, outcome: r.outcome, attempt: r.attempt, durationMs: 5,
        message: r.outcome === 'pass' || r.outcome === 'skip' ? null : 'AssertionError: 1 != 2', details: null,
        fingerprint: r.fingerprint ?? null, startedAt: r.startedAt,
      });
    }
    for (const rows of builds.values()) {
      const first = rows[0]!;
      const req = await storage.addBuildRequest({ builder: first.builder, submittedAt: first.startedAt });
      const build = await storage.createBuild({ requestId: req, builder: first.builder, worker: first.worker, master: 'bench', startedAt: first.startedAt });
      for (const row of rows) row.buildId = build.id;
      await storage.addTestOutcomes(rows);
    }
    console.log(`stored ${records.length.toLocaleString('en')} outcomes of ${builds.size} builds in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  // Wall time and the process's CPU time (the wall clock also counts other processes' turns).
  const time = async <T>(fn: () => Promise<T>): Promise<{ value: T; wall: number; cpu: number }> => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const value = await fn();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { value, wall, cpu: (cpu.user + cpu.system) / 1000 };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const show = (xs: number[]) => `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
  const rows = await storage.listInsightOutcomes({ since: 0 });
  console.log(`Node ${process.version}; the failure pass reads ${rows.length.toLocaleString('en')} rows of ${new Set(rows.map((r) => r.testId)).size} tests`);
  const figures = { flaky: { wall: [] as number[], cpu: [] as number[], n: 0 }, failures: { wall: [] as number[], cpu: [] as number[], n: 0 } };
  for (let round = 0; round < rounds; round++) {
    const flaky = await time(() => rankStoredFlakyTests(storage, { since: 0, window: 100 }));
    figures.flaky.wall.push(flaky.wall);
    figures.flaky.cpu.push(flaky.cpu);
    figures.flaky.n = flaky.value.length;
    const failures = await time(() => storedCurrentFailures(storage, { since: 0 }));
    figures.failures.wall.push(failures.wall);
    figures.failures.cpu.push(failures.cpu);
    figures.failures.n = failures.value.length;
  }
  // The stored pass must rank exactly as the in-memory rules do on the same history.
  const stored = (await rankStoredFlakyTests(storage, { since: 0, window: 100 })).map((f) => `${f.testId} ${f.flakes}/${f.runs}`);
  const inMemory = rankFlakyTests(generateHistory(total), { window: 100 }).map((f) => `${f.testId} ${f.flakes}/${f.runs}`);
  console.log(`the same ranking as rankFlakyTests in memory: ${JSON.stringify(stored) === JSON.stringify(inMemory) ? 'yes' : 'NO'}`);
  console.log(`flaky ranking from SQLite, ${figures.flaky.n} tests listed: wall ${show(figures.flaky.wall)}, CPU ${show(figures.flaky.cpu)}; medians of ${rounds} rounds`);
  console.log(`current failures from SQLite, ${figures.failures.n} groups: wall ${show(figures.failures.wall)}, CPU ${show(figures.failures.cpu)}`);
} finally {
  await storage.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}
