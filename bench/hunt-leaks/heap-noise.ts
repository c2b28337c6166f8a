// Measures how much a clean test file's heap moves from run to run under `keel test -R`, to
// choose the heap tolerance of leak hunting (docs/keel-test.md, "Leak hunting"). Run with
// `npm run build && node build/bench/hunt-leaks/heap-noise.js [HUNTS]`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HEAP_TOLERANCE } from '../../src/runner/hunt-leaks.js';
import { runTestProcess } from '../../src/runner/test-process.js';

const HUNTS = Number(process.argv[2] ?? 20);
const WARMUPS = 3;
const RUNS = 3;

/** Clean files of different shapes: nothing they allocate outlives a run. */
const FILES: Record<string, string> = {
  'one-test': "import { test } from 'node:test';\ntest('one', () => {});\n",
  'tests-200':
    "import { test, describe } from 'node:test';\nimport assert from 'node:assert/strict';\n" +
    "describe('many', () => { for (let i = 0; i < 200; i++) test('t' + i, () => assert.equal(i + 1, 1 + i)); });\n",
  'tests-1000':
    "import { test } from 'node:test';\nfor (let i = 0; i < 1000; i++) test('t' + i, () => {});\n",
  churn:
    "import { test } from 'node:test';\n" +
    "test('garbage', () => { let keep = 0; for (let i = 0; i < 40; i++) { const a = new Array(20000).fill(i); const m = new Map(a.map((v, j) => [j, { v }])); keep += m.size; } return keep; });\n" +
    "test('json', () => { const big = JSON.stringify(Array.from({ length: 100000 }, (_, i) => ({ i, s: 'x' + i }))); JSON.parse(big); });\n",
  'async-io':
    "import { test } from 'node:test';\nimport { readFile } from 'node:fs/promises';\nimport { createServer } from 'node:http';\n" +
    "test('reads', async () => { for (let i = 0; i < 20; i++) await readFile(new URL(import.meta.url)); });\n" +
    "test('server', async () => { const s = createServer((q, r) => r.end('ok')); await new Promise((r) => s.listen(0, r)); const port = s.address().port; for (let i = 0; i < 10; i++) await (await fetch('http://127.0.0.1:' + port)).text(); await new Promise((r) => s.close(r)); });\n",
};

const dir = mkdtempSync(path.join(tmpdir(), 'keel-heap-noise-'));
try {
  console.log(`Node ${process.version}: ${HUNTS} hunts of -R ${WARMUPS}:${RUNS} per file; heap growth per counted run, KB`);
  for (const [name, source] of Object.entries(FILES)) {
    const file = path.join(dir, `${name}.test.mjs`);
    writeFileSync(file, source);
    const deltas: number[] = [];
    const minima: number[] = [];
    const ratios: number[] = [];
    for (let hunt = 0; hunt < HUNTS; hunt++) {
      const run = await runTestProcess({ name, path: file }, {
        cwd: dir, nodeArgs: [], verbose: false, timeoutMs: 120_000, namePatterns: [], skipPatterns: [],
        selects: () => true, resources: '', attempt: 1, drive: { runs: WARMUPS + RUNS, sample: true },
      });
      const byRun = new Map((run.samples ?? []).map((s) => [s.run, s]));
      const counted: number[] = [];
      for (let r = WARMUPS; r < WARMUPS + RUNS; r++) {
        const after = byRun.get(r)!;
        const before = byRun.get(r - 1)!;
        const grew = after.heapUsed - before.heapUsed;
        counted.push(grew / 1024);
        ratios.push(grew / (HEAP_TOLERANCE.baseBytes + HEAP_TOLERANCE.perTestBytes * (after.tests - before.tests)));
      }
      deltas.push(...counted);
      // The hunt flags the heap only when every counted run grew by the tolerance: the smallest
      // growth of a hunt is what the tolerance must stay above.
      minima.push(Math.min(...counted));
    }
    const sorted = [...deltas].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
    console.log(
      `${name.padEnd(10)} per run: min ${sorted[0]!.toFixed(0)}, median ${pct(50).toFixed(0)}, p95 ${pct(95).toFixed(0)}, max ${sorted.at(-1)!.toFixed(0)}; ` +
        `smallest growth of a hunt: max ${Math.max(...minima).toFixed(0)}; largest growth / tolerance: ${Math.max(...ratios).toFixed(2)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
