// bench/runner: `keel test -jN` against `node --test --test-concurrency=N` (and vitest, when it
// is installed) on two generated suites, side by side in one run. Prints wall-clock medians and
// the ratio keel / node --test; the goal is ≤ 1.0× on both.
//
//   npm run bench:runner [-- --jobs 2 --rounds 3]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { jobs: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } } });
const jobs = Number(values.jobs);
const rounds = Number(values.rounds);
const keelBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

interface Suite {
  name: string;
  dir: string;
}

function makeSuite(name: string, files: number, body: (i: number) => string): Suite {
  const dir = mkdtempSync(path.join(tmpdir(), `keel-bench-${name}-`));
  mkdirSync(path.join(dir, 'test'));
  for (let i = 0; i < files; i++) writeFileSync(path.join(dir, 'test', `f${String(i).padStart(3, '0')}.test.mjs`), body(i));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  return { name, dir };
}

const trivial = makeSuite('trivial', 400, () => {
  const lines = ["import { test } from 'node:test';"];
  for (let t = 0; t < 25; t++) lines.push(`test('t${t}', () => {});`);
  return lines.join('\n') + '\n';
});
const sleeping = makeSuite('sleep', 50, () => "import { test } from 'node:test';\ntest('sleeps 200 ms', () => new Promise((resolve) => setTimeout(resolve, 200)));\n");

function vitestBin(): string | null {
  try {
    return createRequire(import.meta.url).resolve('vitest/vitest.mjs');
  } catch {
    return null;
  }
}

type Tool = { name: string; command: (suite: Suite) => string[] };
const tools: Tool[] = [
  { name: 'keel test', command: () => [process.execPath, keelBin, 'test', `-j${jobs}`, '-q'] },
  { name: 'node --test', command: () => [process.execPath, '--test', `--test-concurrency=${jobs}`, '--test-reporter=dot', 'test/'] },
];
const vitest = vitestBin();
if (vitest) tools.push({ name: 'vitest', command: () => [process.execPath, vitest, 'run', '--pool=forks', `--maxWorkers=${jobs}`, '--reporter=dot', 'test/'] });

function time(argv: string[], cwd: string): number {
  const started = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024, env: { ...process.env, NODE_TEST_CONTEXT: undefined } });
  const elapsed = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed in ${cwd}: exit ${r.status}\n${String(r.stdout).slice(-5000)}\n${r.stderr}`);
  return elapsed;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`bench/runner: node ${process.version}, -j${jobs}, ${rounds} rounds (median wall time), tools alternate within each round`);
if (!vitest) console.log('vitest: not installed, left out');
const results: Record<string, Record<string, number>> = {};
try {
  for (const suite of [trivial, sleeping]) {
    const samples: Record<string, number[]> = Object.fromEntries(tools.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) for (const tool of tools) samples[tool.name]!.push(time(tool.command(suite), suite.dir));
    results[suite.name] = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  }
} finally {
  rmSync(trivial.dir, { recursive: true, force: true });
  rmSync(sleeping.dir, { recursive: true, force: true });
}

const label = { trivial: '400 files x 25 trivial tests', sleep: '50 files x 1 test sleeping 200 ms' } as Record<string, string>;
for (const [suite, byTool] of Object.entries(results)) {
  const base = byTool['node --test']!;
  console.log(`\n${label[suite]}:`);
  for (const [tool, secs] of Object.entries(byTool)) {
    console.log(`  ${tool.padEnd(12)} ${secs.toFixed(2).padStart(7)} s   ${(secs / base).toFixed(2)}x node --test`);
  }
}
