// A test's history as the insight rules read it: stored outcomes folded into one run per build,
// ordered by build time, split into lanes (one builder on one branch), with its failure streaks.
import type { TestOutcome } from '../results/model.js';

/**
 * One stored outcome of one test in one build: the row the master writes for every test of
 * every build (issue 6 part 4). `startedAt` is the build's start, in epoch milliseconds, so
 * every test of a build sorts at the same moment.
 */
export interface TestOutcomeRecord {
  testId: string;
  buildId: number;
  builder: string;
  revision: string;
  branch: string;
  worker: string;
  outcome: TestOutcome;
  /** 1 for the first run; a re-run that decided the outcome has 2 and up. */
  attempt: number;
  startedAt: number;
  fingerprint?: string | undefined;
}

/** A build as the reports name it. */
export interface BuildRef {
  buildId: number;
  builder: string;
  branch: string;
  revision: string;
  worker: string;
  startedAt: number;
}

/**
 * What one build says of one test. `green`: it passed (or failed as expected); `red`: it failed
 * or errored on every attempt; `flaky`: it failed and then passed in that build; `skip`: it did
 * not run, which says nothing either way.
 */
export type RunKind = 'green' | 'red' | 'flaky' | 'skip';

export function runKind(outcome: TestOutcome): RunKind {
  switch (outcome) {
    case 'pass':
    case 'xfail':
      return 'green';
    case 'fail':
    case 'error':
      return 'red';
    case 'flaky':
      return 'flaky';
    case 'skip':
      return 'skip';
  }
}

/** One test in one build, after folding. */
export interface TestRun {
  /** Shared by every run of the same build. */
  build: BuildRef;
  /** laneKey(build), computed once per build. */
  lane: string;
  kind: RunKind;
  /** The fingerprint of the failure, for red and flaky runs that have one. */
  fingerprint?: string | undefined;
}

export function buildRef(r: TestOutcomeRecord): BuildRef {
  return { buildId: r.buildId, builder: r.builder, branch: r.branch, revision: r.revision, worker: r.worker, startedAt: r.startedAt };
}

/**
 * Two records of one test in one build (a store that keeps each attempt as its own row)
 * fold into what the build said: a failure and a pass make it flaky; a skip says nothing.
 */
function foldKinds(a: RunKind, b: RunKind): RunKind {
  if (a === b) return a;
  if (a === 'skip') return b;
  if (b === 'skip') return a;
  return 'flaky';
}

const byBuildTime = (a: TestOutcomeRecord, b: TestOutcomeRecord): number =>
  a.startedAt - b.startedAt || a.buildId - b.buildId || a.attempt - b.attempt;

/**
 * Groups records by test: each test's runs, one per build, in build-time order (then build id).
 * Records already in that order (as `ORDER BY started_at, build_id` returns them) cost no sort.
 * With `onlyTestsWith`, only the tests that have at least one such outcome are grouped: most
 * tests of a suite only ever pass, and reading them into runs is most of the cost.
 */
export function groupRunsByTest(records: Iterable<TestOutcomeRecord>, onlyTestsWith?: (outcome: TestOutcome) => boolean): Map<string, TestRun[]> {
  const list = Array.isArray(records) ? (records as readonly TestOutcomeRecord[]) : [...records];
  let wanted: Set<string> | undefined;
  if (onlyTestsWith !== undefined) {
    wanted = new Set();
    for (const r of list) if (onlyTestsWith(r.outcome)) wanted.add(r.testId);
  }
  const byTest = new Map<string, TestOutcomeRecord[]>();
  for (const r of list) {
    if (wanted !== undefined && !wanted.has(r.testId)) continue;
    const runs = byTest.get(r.testId);
    if (runs === undefined) byTest.set(r.testId, [r]);
    else runs.push(r);
  }
  const out = new Map<string, TestRun[]>();
  // One BuildRef per build rather than one per record: a million records are a few hundred builds.
  const builds = new Map<number, { build: BuildRef; lane: string }>();
  for (const [testId, list] of byTest) out.set(testId, foldRuns(list, builds));
  return out;
}

/** One test's records into runs: sorted by build time, one run per build. */
export function foldRuns(records: TestOutcomeRecord[], builds = new Map<number, { build: BuildRef; lane: string }>()): TestRun[] {
  let sorted = true;
  for (let i = 1; i < records.length && sorted; i++) sorted = byBuildTime(records[i - 1]!, records[i]!) <= 0;
  if (!sorted) records.sort(byBuildTime);
  const runs: TestRun[] = [];
  let last: TestRun | undefined;
  for (const r of records) {
    const kind = runKind(r.outcome);
    if (last !== undefined && last.build.buildId === r.buildId) {
      last.kind = foldKinds(last.kind, kind);
      last.fingerprint ??= r.fingerprint;
      continue;
    }
    let ref = builds.get(r.buildId);
    if (ref === undefined) {
      const build = buildRef(r);
      ref = { build, lane: laneKey(build) };
      builds.set(r.buildId, ref);
    }
    last = { build: ref.build, lane: ref.lane, kind, fingerprint: kind === 'red' || kind === 'flaky' ? r.fingerprint : undefined };
    runs.push(last);
  }
  return runs;
}

/** One builder on one branch: the line along which "steadily" and "since build X" are read. */
export function laneKey(build: Pick<BuildRef, 'builder' | 'branch'>): string {
  return `${build.builder}\0${build.branch}`;
}

/** Splits a test's runs into lanes, leaving skips out: a test that did not run is no evidence. */
export function runsByLane(runs: readonly TestRun[]): Map<string, TestRun[]> {
  const lanes = new Map<string, TestRun[]>();
  for (const run of runs) {
    if (run.kind === 'skip') continue;
    const lane = lanes.get(run.lane);
    if (lane === undefined) lanes.set(run.lane, [run]);
    else lane.push(run);
  }
  return lanes;
}
