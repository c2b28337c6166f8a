// Regression finding: a test that passed steadily on a builder and branch and has failed on
// every build since build X. Names X, the last passing build and the changes in between.
import { groupRunsByTest, runsByLane } from './test-history.js';
import type { BuildRef, TestOutcomeRecord, TestRun } from './test-history.js';

/**
 * The rules' numbers (docs/insight.md says why each is what it is). Lanes are one builder on
 * one branch, runs in build-time order, skips left out.
 */
export interface RegressionRules {
  /** Green runs (passed, or flaky: it passed in the end) right before the first failure: "steadily". */
  minPasses: number;
  /** Failing builds in a row that make a steady test a regression. */
  minFailures: number;
  /** Failing builds in a row needed when the test was noisy before: flaked or failed lately. */
  minFailuresIfNoisy: number;
  /** How many runs before the first failure are looked at to call a test noisy. */
  noisyLookback: number;
}

export const DEFAULT_REGRESSION_RULES: Readonly<RegressionRules> = {
  minPasses: 3,
  minFailures: 2,
  minFailuresIfNoisy: 3,
  noisyLookback: 10,
};

/**
 * What the regression rules need of a change. The master's change model (with repository,
 * time, files …) fits it as it is, and comes back whole: the types below are generic in it.
 */
export interface ChangeSummary {
  revision: string;
  author: string;
  message: string;
}

/**
 * The changes that a build at `to` has and the build at `from` did not have, oldest first:
 * after `from.revision`, up to and including `to.revision`, on their branch.
 */
export type ChangesBetween<C extends ChangeSummary = ChangeSummary> = (from: BuildRef, to: BuildRef) => readonly C[];

export interface Regression<C extends ChangeSummary = ChangeSummary> {
  testId: string;
  builder: string;
  branch: string;
  /** X: the first build of the unbroken run of failures that reaches the latest build. */
  firstFailing: BuildRef;
  /** The last build, before X, in which the test passed (or passed on a re-run). */
  lastPassing: BuildRef;
  /** The latest build, which failed too. */
  latest: BuildRef;
  /** Builds that ran the test and failed, from X to the latest. */
  failingBuilds: number;
  /** Builds between the last pass and the latest that skipped the test (they say nothing). */
  skippedBuilds: number;
  /** The test flaked or failed in the lookback before X: it needed minFailuresIfNoisy failures. */
  noisyBefore: boolean;
  /** Distinct failure fingerprints of the failing builds, in the order they first appear. */
  fingerprints: string[];
  /** The changes since the last passing build, up to X; empty when none are known. */
  changes: readonly C[];
}

export interface RegressionOptions<C extends ChangeSummary = ChangeSummary> {
  rules?: Partial<RegressionRules>;
  changesBetween?: ChangesBetween<C>;
}

/**
 * The place of a run of consecutive failures in its lane:
 * - `regression`: it followed steady passes and is long enough (current when it is `open`);
 * - `broken`: at least minFailuresIfNoisy long without steady passes before (a test that
 *   never passed on a builder, a noisy one that broke for a while);
 * - `pending`: it reaches the latest run but is not (yet) a regression; undecided;
 * - `isolated`: a short run of failures that ended: only these can be flakes.
 */
export type StreakKind = 'regression' | 'broken' | 'pending' | 'isolated';

export interface FailureStreak {
  /** Index of the first and one past the last failing run in the lane. */
  start: number;
  end: number;
  kind: StreakKind;
  /** It reaches the latest run of the lane. */
  open: boolean;
  noisyBefore: boolean;
}

export function resolveRules(rules?: Partial<RegressionRules>): RegressionRules {
  return { ...DEFAULT_REGRESSION_RULES, ...rules };
}

/** The failure streaks of one lane (skips already left out), each classified. */
export function failureStreaks(lane: readonly TestRun[], rules: RegressionRules): FailureStreak[] {
  const streaks: FailureStreak[] = [];
  let i = 0;
  while (i < lane.length) {
    if (lane[i]!.kind !== 'red') {
      i++;
      continue;
    }
    const start = i;
    while (i < lane.length && lane[i]!.kind === 'red') i++;
    streaks.push(classifyStreak(lane, start, i, rules));
  }
  return streaks;
}

function classifyStreak(lane: readonly TestRun[], start: number, end: number, rules: RegressionRules): FailureStreak {
  const open = end === lane.length;
  let greenBefore = 0;
  for (let j = start - 1; j >= 0 && lane[j]!.kind !== 'red' && greenBefore < rules.minPasses; j--) greenBefore++;
  let noisyBefore = false;
  for (let j = start - 1; j >= 0 && j >= start - rules.noisyLookback && !noisyBefore; j--) noisyBefore = lane[j]!.kind !== 'green';
  const length = end - start;
  const needed = noisyBefore ? rules.minFailuresIfNoisy : rules.minFailures;
  let kind: StreakKind;
  if (greenBefore >= rules.minPasses && length >= needed) kind = 'regression';
  else if (length >= rules.minFailuresIfNoisy) kind = 'broken';
  else if (open) kind = 'pending';
  else kind = 'isolated';
  return { start, end, kind, open, noisyBefore };
}

/**
 * The current regressions in a history of outcomes: one per test and lane whose latest failures
 * make a regression. Ordered by first failing build (oldest first), then builder and test, so
 * the regressions one change caused on several builders come together.
 */
export function findRegressions<C extends ChangeSummary = ChangeSummary>(
  records: Iterable<TestOutcomeRecord>,
  options: RegressionOptions<C> = {},
): Regression<C>[] {
  const rules = resolveRules(options.rules);
  const found: Regression<C>[] = [];
  for (const [testId, runs] of groupRunsByTest(records, (o) => o === 'fail' || o === 'error')) found.push(...regressionsOfTest(testId, runs, rules, options.changesBetween));
  return found.sort((a, b) =>
    a.firstFailing.startedAt - b.firstFailing.startedAt || cmp(a.builder, b.builder) || cmp(a.branch, b.branch) || cmp(a.testId, b.testId));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The current regressions of one test, from its runs in build-time order (skips included). */
export function regressionsOfTest<C extends ChangeSummary = ChangeSummary>(
  testId: string,
  runs: readonly TestRun[],
  rules: RegressionRules,
  changesBetween?: ChangesBetween<C>,
): Regression<C>[] {
  const out: Regression<C>[] = [];
  for (const lane of runsByLane(runs).values()) {
    const streaks = failureStreaks(lane, rules);
    const last = streaks[streaks.length - 1];
    if (last === undefined || !last.open || last.kind !== 'regression') continue;
    const first = lane[last.start]!;
    const pass = lane[last.start - 1]!;
    const latest = lane[lane.length - 1]!;
    const fingerprints: string[] = [];
    for (let i = last.start; i < last.end; i++) {
      const fp = lane[i]!.fingerprint;
      if (fp !== undefined && !fingerprints.includes(fp)) fingerprints.push(fp);
    }
    out.push({
      testId,
      builder: first.build.builder,
      branch: first.build.branch,
      firstFailing: first.build,
      lastPassing: pass.build,
      latest: latest.build,
      failingBuilds: last.end - last.start,
      skippedBuilds: countSkips(runs, pass.build, latest.build),
      noisyBefore: last.noisyBefore,
      fingerprints,
      changes: changesBetween ? changesBetween(pass.build, first.build) : [],
    });
  }
  return out;
}

function countSkips(runs: readonly TestRun[], after: BuildRef, upTo: BuildRef): number {
  let n = 0;
  for (const r of runs) {
    if (r.kind !== 'skip' || r.build.builder !== after.builder || r.build.branch !== after.branch) continue;
    if (r.build.startedAt > after.startedAt && r.build.startedAt <= upTo.startedAt) n++;
  }
  return n;
}

/**
 * `changesBetween` from each branch's change log, oldest first (as a git poller records them):
 * the changes after the last passing revision up to and including the first failing one. A
 * revision the log does not know gives no changes rather than a guess.
 */
export function changesFromLog<C extends ChangeSummary>(logs: Readonly<Record<string, readonly C[]>>): ChangesBetween<C> {
  return (from, to) => {
    const log = logs[to.branch] ?? [];
    const start = log.findIndex((c) => c.revision === from.revision);
    const end = log.findIndex((c) => c.revision === to.revision);
    if (start < 0 || end < 0 || end <= start) return [];
    return log.slice(start + 1, end + 1);
  };
}
