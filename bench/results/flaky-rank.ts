// bench/results: the in-memory flaky ranking (and regression finding) over 1,000,000 generated
// test outcomes, as the master will read them from storage: in build-time order. Prints ms.
// The goal for the stored version (SQLite, issue 6) is ≤ 200 ms; docs/insight.md says how.
//
//   npm run build && node build/bench/results/flaky-rank.js [--outcomes 1000000] [--rounds 5]
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { TestOutcome } from '../../src/results/model.js';
import { rankFlakyTests } from '../../src/insight/flaky-tests.js';
import { findRegressions } from '../../src/insight/regressions.js';
import type { TestOutcomeRecord } from '../../src/insight/test-history.js';

const { values } = parseArgs({ options: { outcomes: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } } });
const total = Number(values.outcomes);
const rounds = Number(values.rounds);

/**
 * A CPython-like history: 20 builders on main, each building the same revisions in turn, 2,000
 * tests a build (so 1,000,000 outcomes are 500 builds). 3 % of the tests flake (each run fails
 * then passes with 2–15 % odds), 1 % are skipped on some builders, 0.5 % are broken on one builder
 * from some build on, a few fail without a re-run. Deterministic, so runs compare.
 */
function generate(outcomes: number): TestOutcomeRecord[] {
  const testsPerBuild = 2000;
  const builders = 20;
  const builds = Math.ceil(outcomes / testsPerBuild);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const tests = Array.from({ length: testsPerBuild }, (_, i) => {
    const r = rand();
    return {
      id: `test_module_${Math.floor(i / 20)}.Tests.test_case_${i % 20}`,
      flakeOdds: r < 0.03 ? 0.02 + rand() * 0.13 : 0,
      skippedOn: r >= 0.03 && r < 0.04 ? Math.floor(rand() * builders) : -1,
      brokenOn: r >= 0.04 && r < 0.045 ? Math.floor(rand() * builders) : -1,
      brokenFrom: Math.floor(rand() * builds),
    };
  });
  const records: TestOutcomeRecord[] = [];
  const start = Date.UTC(2026, 9, 1);
  for (let b = 0; b < builds && records.length < outcomes; b++) {
    const builderIndex = b % builders;
    const builder = `builder-${builderIndex}`;
    const revision = `rev${Math.floor(b / builders).toString(16).padStart(7, '0')}`;
    const startedAt = start + b * 60_000;
    for (const t of tests) {
      if (records.length >= outcomes) break;
      let outcome: TestOutcome = 'pass';
      if (t.skippedOn === builderIndex) outcome = 'skip';
      else if (t.brokenOn === builderIndex && b >= t.brokenFrom) outcome = 'fail';
      else if (t.flakeOdds > 0 && rand() < t.flakeOdds) outcome = 'flaky';
      else if (rand() < 0.0005) outcome = 'fail';
      records.push({
        testId: t.id, buildId: b + 1, builder, revision, branch: 'main', worker: `${builder}-w`, outcome,
        attempt: outcome === 'flaky' ? 2 : 1, startedAt, fingerprint: outcome === 'pass' || outcome === 'skip' ? undefined : `fp-${t.id.length % 7}`,
      });
    }
  }
  return records;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const records = generate(total);
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
