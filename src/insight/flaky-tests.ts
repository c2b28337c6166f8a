// Flaky tests, found and ranked from a history of outcomes: failed then passed in one build, or
// failed where the same revision passed in another build; a broken or regressed test is not flaky.
import { failureStreaks, resolveRules } from './regressions.js';
import type { RegressionRules } from './regressions.js';
import { groupRunsByTest, runsByLane } from './test-history.js';
import type { BuildRef, TestOutcomeRecord, TestRun } from './test-history.js';

export interface FlakyOptions {
  /** The flake rate is taken over each test's last `window` runs (skips not counted). */
  window?: number;
  /** Only this branch's builds; all branches when absent. */
  branch?: string;
  /** Only builds started at or after this (epoch ms): `count`, `firstSeen` and the evidence are then over that span. */
  since?: number;
  /** A test is listed when it flaked at least this often in its window. */
  minFlakes?: number;
  /** The regression rules, which also decide which failures are breakage rather than flakes. */
  rules?: Partial<RegressionRules>;
}

export const DEFAULT_FLAKY_WINDOW = 100;

/** Why a run counts as a flake. */
export type FlakeEvidence = 'rerun' | 'revision';

export interface FlakyTest {
  testId: string;
  /** Runs in the window (builds that ran the test, across builders). */
  runs: number;
  /** Flaky runs in the window. */
  flakes: number;
  /** flakes / runs, 0 to 1. */
  flakeRate: number;
  /** Flaky runs in the whole history given, and how they were known. */
  count: number;
  rerunFlakes: number;
  revisionFlakes: number;
  /** Build start of the first and the last flaky run. */
  firstSeen: number;
  lastSeen: number;
  /** Builders it flaked on, sorted. */
  builders: string[];
  /** The last flaky run's build. */
  lastFlake: BuildRef;
  /** Fingerprints of the flaky failures, most frequent first. */
  fingerprints: { fingerprint: string; count: number }[];
}

/**
 * Every test that flaked in its window, worst first: by flake rate, then flakes in the window,
 * then the most recent flake, then test id. Tests with a current regression on any builder are
 * left out: a broken test must be seen as broken, not excused as flaky.
 */
export function rankFlakyTests(records: Iterable<TestOutcomeRecord>, options: FlakyOptions = {}): FlakyTest[] {
  const minFlakes = options.minFlakes ?? 1;
  const { branch, since } = options;
  const input = branch === undefined && since === undefined
    ? records
    : filter(records, (r) => (branch === undefined || r.branch === branch) && (since === undefined || r.startedAt >= since));
  const ranked: FlakyTest[] = [];
  for (const [testId, runs] of groupRunsByTest(input, (o) => o === 'flaky' || o === 'fail' || o === 'error')) {
    const flaky = flakyTestOf(testId, runs, options);
    if (flaky !== undefined && flaky.flakes >= minFlakes) ranked.push(flaky);
  }
  return ranked.sort(compareFlakyTests);
}

/** The ranking order: flake rate, flakes in the window, latest flake, test id. */
export function compareFlakyTests(a: FlakyTest, b: FlakyTest): number {
  return b.flakeRate - a.flakeRate || b.flakes - a.flakes || b.lastSeen - a.lastSeen || (a.testId < b.testId ? -1 : a.testId > b.testId ? 1 : 0);
}

function filter<T>(items: Iterable<T>, keep: (item: T) => boolean): T[] {
  const out: T[] = [];
  for (const item of items) if (keep(item)) out.push(item);
  return out;
}

/**
 * The flakes among one test's runs (build-time order, skips included): each flaky run, and each
 * failure in an isolated streak whose revision passed in another build. Undefined for a test
 * that has a current regression.
 */
export function flakeEvidence(runs: readonly TestRun[], rules: RegressionRules): Map<TestRun, FlakeEvidence> | undefined {
  const evidence = new Map<TestRun, FlakeEvidence>();
  const greenRevisions = new Set<string>();
  let hasRed = false;
  for (const run of runs) {
    if (run.kind === 'green' || run.kind === 'flaky') greenRevisions.add(run.build.revision);
    if (run.kind === 'flaky') evidence.set(run, 'rerun');
    else if (run.kind === 'red') hasRed = true;
  }
  if (!hasRed) return evidence;
  for (const lane of runsByLane(runs).values()) {
    for (const streak of failureStreaks(lane, rules)) {
      if (streak.kind === 'regression' && streak.open) return undefined;
      if (streak.kind !== 'isolated') continue;
      for (let i = streak.start; i < streak.end; i++) {
        const run = lane[i]!;
        if (greenRevisions.has(run.build.revision)) evidence.set(run, 'revision');
      }
    }
  }
  return evidence;
}

/**
 * One test's flakiness from its runs (build-time order, skips included; `foldRuns` makes them
 * from stored rows), or undefined when it has no flake or a current regression. This is the
 * per-test step of rankFlakyTests, for a caller that streams rows grouped by test.
 * `options.branch`, `options.since` and `options.minFlakes` are the caller's to apply.
 */
export function flakyTestOf(testId: string, runs: readonly TestRun[], options: FlakyOptions = {}): FlakyTest | undefined {
  const window = options.window ?? DEFAULT_FLAKY_WINDOW;
  const rules = resolveRules(options.rules);
  const evidence = flakeEvidence(runs, rules);
  if (evidence === undefined || evidence.size === 0) return undefined;
  let inWindow = 0;
  let flakes = 0;
  for (let i = runs.length - 1; i >= 0 && inWindow < window; i--) {
    const run = runs[i]!;
    if (run.kind === 'skip') continue;
    inWindow++;
    if (evidence.has(run)) flakes++;
  }
  let first: TestRun | undefined;
  let last: TestRun | undefined;
  let rerunFlakes = 0;
  const builders = new Set<string>();
  const fingerprints = new Map<string, number>();
  // The map keeps insertion order, which is not time order (re-runs first), so walk the runs.
  for (const run of runs) {
    const how = evidence.get(run);
    if (how === undefined) continue;
    first ??= run;
    last = run;
    if (how === 'rerun') rerunFlakes++;
    builders.add(run.build.builder);
    if (run.fingerprint !== undefined) fingerprints.set(run.fingerprint, (fingerprints.get(run.fingerprint) ?? 0) + 1);
  }
  if (first === undefined || last === undefined) return undefined;
  return {
    testId,
    runs: inWindow,
    flakes,
    flakeRate: inWindow === 0 ? 0 : flakes / inWindow,
    count: evidence.size,
    rerunFlakes,
    revisionFlakes: evidence.size - rerunFlakes,
    firstSeen: first.build.startedAt,
    lastSeen: last.build.startedAt,
    builders: [...builders].sort(),
    lastFlake: last.build,
    fingerprints: [...fingerprints].map(([fingerprint, count]) => ({ fingerprint, count }))
      .sort((a, b) => b.count - a.count || (a.fingerprint < b.fingerprint ? -1 : 1)),
  };
}
