// bench/results: the in-memory flaky ranking (and regression finding) over 1,000,000 generated
// test outcomes, as the master will read them from storage: in build-time order. Prints ms.
// The goal for the stored version (SQLite, issue 6) is ≤ 200 ms; docs/insight.md says how.
//
//   npm run build && node build/bench/results/flaky-rank.js [--outcomes 1000000] [--rounds 5]
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { rankFlakyTests } from '../../src/insight/flaky-tests.js';
import { findRegressions } from '../../src/insight/regressions.js';
import { generateHistory } from './flaky-history.js';

const { values } = parseArgs({ options: { outcomes: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } } });
const total = Number(values.outcomes);
const rounds = Number(values.rounds);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const records = generateHistory(total);
console.log(`${records.length.toLocaleString('en')} outcomes, ${new Set(records.map((r) => r.buildId)).size} builds, Node ${process.version}`);
// Wall time, and the process's CPU time, since on a loaded machine the wall clock also counts
// the time other processes took the CPU away (the garbage collector's threads count as CPU too).
function time<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, wall, cpu: (cpu.user + cpu.system) / 1000 };
}

const runs = { rank: { wall: [] as number[], cpu: [] as number[], n: 0 }, regress: { wall: [] as number[], cpu: [] as number[], n: 0 } };
for (let round = 0; round < rounds; round++) {
  const rank = time(() => rankFlakyTests(records, { window: 100 }).length);
  runs.rank.wall.push(rank.wall);
  runs.rank.cpu.push(rank.cpu);
  runs.rank.n = rank.value;
  const regress = time(() => findRegressions(records).length);
  runs.regress.wall.push(regress.wall);
  runs.regress.cpu.push(regress.cpu);
  runs.regress.n = regress.value;
}
const show = (xs: number[]) => `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
console.log(`flaky ranking, ${runs.rank.n} tests listed: wall ${show(runs.rank.wall)}, CPU ${show(runs.rank.cpu)}; medians of ${rounds} rounds`);
console.log(`regressions, ${runs.regress.n} found: wall ${show(runs.regress.wall)}, CPU ${show(runs.regress.cpu)}`);
