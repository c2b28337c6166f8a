// `keel bisect`: CPython's test.bisect_cmd for node:test files. Given test files whose tests fail
// when run together in one process, finds a smallest subset of their tests that still fails:
// random halves first, then (when halves stop failing) smaller and smaller slices, as delta
// debugging does, until no single test can be left out or the iteration budget is spent.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KeelError } from '../errors.js';
import { NAME_SEPARATOR } from '../results/model.js';
import { discoverTests, readNameList, seededRandom, selectTests } from './discover.js';
import { FAILING_STATES, type FileRun } from './file-result.js';
import { formatDuration, plural } from './format.js';
import { buildNameFilter, exactNameFilter, type NameFilter } from './name-filter.js';
import { runTestProcess } from './test-process.js';

/** Exit codes of keel bisect (bisect_cmd exits 1 whatever happened). */
const BISECT_EXIT = {
  /** A subset was found from which no test can be left out (or it reached --max-tests). */
  FOUND: 0,
  /** The iteration budget ran out: the subset printed still fails but may not be the smallest. */
  LIMIT: 1,
  /** The tests passed when run together: nothing to bisect. */
  NO_FAILURE: 3,
  INTERRUPTED: 130,
} as const;

export interface BisectOptions {
  cwd: string;
  testDir: string;
  /** Test file names or folders, as for keel test; at least one. */
  tests: string[];
  match: string[];
  ignore: string[];
  matchFile?: string;
  resources: string[];
  nodeArgs: string[];
  timeoutSec: number | null;
  /** At most this many runs of a subset (-n). */
  maxIterations: number;
  /** Stop once the subset has this many tests or fewer. */
  maxTests: number;
  /** Write the final subset here, as globs for `keel test --matchfile`. */
  output?: string;
  seed?: number;
  write: (text: string) => void;
  signal?: AbortSignal;
}

export interface BisectResult {
  exitCode: number;
  /** The tests of the final subset (file name and name parts), in the order they run. */
  tests: BisectTest[];
  iterations: number;
}

export interface BisectTest {
  file: string;
  names: string[];
}

/**
 * A test's full name as a glob that `keel test -m`/`--matchfile` matches exactly: the glob
 * characters `*`, `?` and `[` are put in brackets, and so is `#` (it starts a comment in a name
 * list) and a space at either end (name lists are trimmed).
 */
export function nameToGlob(names: readonly string[]): string {
  const glob = names.join(NAME_SEPARATOR).replace(/[*?[#]/g, (c) => `[${c}]`);
  return glob.replace(/^ /, '[ ]').replace(/ $/, '[ ]');
}

export async function runBisect(opts: BisectOptions): Promise<BisectResult> {
  const started = performance.now();
  const out = (line = '') => opts.write(line + '\n');
  if (!opts.tests.length) throw new KeelError('KEEL_ERR_USAGE', 'keel bisect needs the test files to bisect, e.g. keel bisect core/cache');
  if (opts.maxIterations < 1) throw new KeelError('KEEL_ERR_USAGE', '-n/--max-iterations must be at least 1');

  const testDir = path.resolve(opts.cwd, opts.testDir);
  const files = selectTests(discoverTests(testDir), { names: opts.tests, exclude: false });
  const match = [...opts.match, ...(opts.matchFile ? readNameList(path.resolve(opts.cwd, opts.matchFile)) : [])];
  const filter = buildNameFilter({ match, ignore: opts.ignore });
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  const random = seededRandom(seed);
  const suites = new Set<string>();

  const runTogether = async (f: NameFilter): Promise<FileRun> => {
    const run = await runTestProcess(files[0]!, {
      cwd: opts.cwd,
      nodeArgs: opts.nodeArgs,
      verbose: false,
      timeoutMs: opts.timeoutSec !== null ? opts.timeoutSec * 1000 : null,
      namePatterns: f.namePatterns,
      skipPatterns: f.skipPatterns,
      selects: f.selects,
      resources: opts.resources.join(','),
      attempt: 1,
      drive: { runs: 1, sample: false, files },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    for (const s of run.suites) suites.add(s);
    return run;
  };
  const fileOf = (t: { file?: string }) => t.file ?? files[0]!.name;
  const failedIn = (run: FileRun) =>
    run.tests.filter((t) => t.outcome === 'fail' || t.outcome === 'error').map((t) => (t.names.length ? t.names.join(NAME_SEPARATOR) : `${fileOf(t)} (the file itself)`));

  out(`Using random seed: ${seed}`);
  out(`Run ${plural(files.length, 'test file')} together in one process to list the tests: ${files.map((f) => f.name).join(' ')}`);
  const first = await runTogether(filter);
  if (opts.signal?.aborted) return interrupted(out, [], 0);
  const all: BisectTest[] = first.tests
    .filter((t) => t.outcome !== 'skip' && t.outcome !== 'todo' && t.names.length > 0)
    .map((t) => ({ file: fileOf(t), names: t.names }));
  if (!FAILING_STATES.has(first.state)) {
    out(`The ${plural(all.length, 'test')} passed when run together (${first.state}): nothing to bisect.`);
    return { exitCode: BISECT_EXIT.NO_FAILURE, tests: all, iterations: 0 };
  }

  out(`Start bisection with ${plural(all.length, 'test')} (failed: ${failedIn(first).join(', ')})`);
  out(
    `Bisection will stop when getting ${opts.maxTests} or fewer tests (--max-tests), when no test can be left out, or after ${plural(opts.maxIterations, 'iteration')} (-n)`,
  );

  let current = all;
  let iterations = 0;
  let minimal = false;
  // Random halves while they keep failing, as bisect_cmd does. When two halves in a row pass
  // (the culprits sit in both), leave out one slice of N at a time instead, N growing from 4 to
  // one test per slice: delta debugging, which always ends with a subset from which no single
  // test can be left out.
  let slices: number | null = null;
  let halvesMissed = 0;
  const budgetLeft = () => iterations < opts.maxIterations && !opts.signal?.aborted;

  /** Runs one subset; true when it still fails. */
  const attempt = async (subset: BisectTest[]): Promise<boolean> => {
    iterations++;
    out();
    out(`[+] Iteration ${iterations}/${opts.maxIterations}: run ${subset.length} tests/${current.length}`);
    const run = await runTogether(exactNameFilter(subset.map((t) => t.names), suites));
    if (opts.signal?.aborted) return false;
    const failing = FAILING_STATES.has(run.state);
    if (failing) {
      out(`[+] bisect: ${subset.length}/${all.length} tests still fail (failed: ${failedIn(run).join(', ')})`);
    } else {
      out(`    ${plural(subset.length, 'test')} passed: keeping the ${current.length}`);
    }
    return failing;
  };

  while (current.length > opts.maxTests && budgetLeft()) {
    if (slices === null) {
      // The other half is tried too: it is just as likely to hold the culprits.
      const chosen = new Set(sample(current.length, Math.floor(current.length / 2), random));
      const half = current.filter((_, i) => chosen.has(i));
      const rest = current.filter((_, i) => !chosen.has(i));
      let reduced = false;
      for (const subset of [half, rest]) {
        if (!budgetLeft()) break;
        if (await attempt(subset)) {
          current = subset;
          reduced = true;
          break;
        }
      }
      halvesMissed = reduced ? 0 : halvesMissed + 1;
      if (halvesMissed >= 2 || current.length <= 2) slices = Math.min(4, current.length);
      continue;
    }
    let reduced = false;
    for (const left of slice(current, slices)) {
      if (!budgetLeft()) break;
      const subset = current.filter((t) => !left.includes(t));
      if (await attempt(subset)) {
        current = subset;
        reduced = true;
        break;
      }
    }
    if (reduced) {
      slices = Math.max(2, Math.min(slices - 1, current.length));
    } else if (budgetLeft()) {
      if (slices >= current.length) minimal = true;
      else slices = Math.min(current.length, slices * 2);
    }
    if (minimal) break;
  }
  if (opts.signal?.aborted) return interrupted(out, current, iterations);

  const done = minimal || current.length <= opts.maxTests;
  out();
  out(`Tests (${current.length}):`);
  for (const t of current) out(`* ${t.file}${NAME_SEPARATOR}${t.names.join(NAME_SEPARATOR)}`);
  out();
  if (opts.output) {
    const file = path.resolve(opts.cwd, opts.output);
    const header = `# keel bisect: ${plural(current.length, 'test')} of ${files.map((f) => f.name).join(' ')} that fail together; run them with keel test --matchfile ${opts.output} ${files.map((f) => f.name).join(' ')}\n`;
    writeFileSync(file, header + current.map((t) => nameToGlob(t.names) + '\n').join(''));
    out(`Output written into ${opts.output}`);
  }
  const took = formatDuration((performance.now() - started) / 1000);
  if (done) {
    out(`Bisection completed in ${plural(iterations, 'iteration')} and ${took}${minimal ? ': leaving out any one of these tests makes the failure go away' : ''}`);
    return { exitCode: BISECT_EXIT.FOUND, tests: current, iterations };
  }
  out(`Bisection stopped after ${plural(iterations, 'iteration')} and ${took}: these tests still fail, but fewer may (raise -n)`);
  return { exitCode: BISECT_EXIT.LIMIT, tests: current, iterations };
}

function interrupted(out: (line?: string) => void, tests: BisectTest[], iterations: number): BisectResult {
  out();
  out('Bisection interrupted.');
  return { exitCode: BISECT_EXIT.INTERRUPTED, tests, iterations };
}

/** k distinct indices below n, chosen at random. */
function sample(n: number, k: number, random: () => number): number[] {
  const indices = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    [indices[i], indices[j]] = [indices[j]!, indices[i]!];
  }
  return indices.slice(0, k);
}

/** Cuts items into n slices of nearly equal size, in order. */
function slice<T>(items: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * items.length) / n);
    const to = Math.floor(((i + 1) * items.length) / n);
    if (to > from) out.push(items.slice(from, to));
  }
  return out;
}
