// The insight rules (src/insight) over stored outcomes: what GET /api/v1/flaky and /failures
// answer. Storage reads only the tests that ever failed, errored or flaked (docs/insight.md).
import { currentFailures } from '../insight/current-failures.js';
import type { FailureGroup } from '../insight/current-failures.js';
import { compareFlakyTests, flakyTestOf } from '../insight/flaky-tests.js';
import type { FlakyOptions, FlakyTest } from '../insight/flaky-tests.js';
import { findRegressions } from '../insight/regressions.js';
import type { Regression } from '../insight/regressions.js';
import { foldRuns } from '../insight/test-history.js';
import type { BuildRef, TestOutcomeRecord } from '../insight/test-history.js';
import type { ChangeRecord, InsightQuery, Storage } from '../storage/storage.js';
import type { EventBus } from './events.js';

/** How far back /flaky and /failures look when the caller does not say. */
export const DEFAULT_INSIGHT_DAYS = 30;

export interface FlakyQuery extends InsightQuery {
  /** Runs per test the flake rate is taken over (default 100). */
  window?: number;
}

/** Flaky tests, worst first, over the builds started since `query.since` (on `query.branch`). */
export async function rankStoredFlakyTests(storage: Pick<Storage, 'listInsightOutcomes'>, query: FlakyQuery): Promise<FlakyTest[]> {
  const rows = await storage.listInsightOutcomes(query);
  // Storage has applied since and branch, and gives each test's rows together: so one pass,
  // test by test, as docs/insight.md describes, with no grouping map (build-histories.test.ts
  // checks this gives rankFlakyTests' answers).
  const options: FlakyOptions = query.window !== undefined ? { window: query.window } : {};
  const builds = new Map<number, { build: BuildRef; lane: string }>();
  const ranked: FlakyTest[] = [];
  for (let i = 0; i < rows.length;) {
    const testId = rows[i]!.testId;
    let j = i + 1;
    while (j < rows.length && rows[j]!.testId === testId) j++;
    const flaky = flakyTestOf(testId, foldRuns(rows.slice(i, j), builds), options);
    // Listed when it flaked within its window, as rankFlakyTests' minFlakes of 1.
    if (flaky !== undefined && flaky.flakes >= 1) ranked.push(flaky);
    i = j;
  }
  return ranked.sort(compareFlakyTests);
}

/**
 * The current regressions (docs/insight.md, "Regressions"), oldest first, each with the changes
 * since its last passing build up to the first failing one: the blamelists of the lane's builds
 * in between, as the build engine stored them.
 */
export async function storedRegressions(storage: Pick<Storage, 'listInsightOutcomes' | 'listBlamelistsBetween'>, query: InsightQuery): Promise<Regression<ChangeRecord>[]> {
  const found = findRegressions(await storage.listInsightOutcomes(query));
  return Promise.all(found.map(async (r) => ({
    ...r,
    changes: await storage.listBlamelistsBetween(r.builder, r.branch, r.lastPassing.buildId, r.firstFailing.buildId),
  })));
}

/**
 * Quarantines a test or lifts its quarantine, then says so on the event bus. Returns whether
 * anything changed (false: it already was, or was not, quarantined).
 */
export async function setQuarantine(
  deps: { storage: Pick<Storage, 'quarantineTest' | 'unquarantineTest'>; events: EventBus },
  testId: string, quarantined: boolean, reason: string | null, now: number,
): Promise<boolean> {
  const changed = quarantined ? await deps.storage.quarantineTest(testId, reason, now) : await deps.storage.unquarantineTest(testId);
  if (changed) deps.events.publish({ type: 'test.quarantine', testId, quarantined });
  return changed;
}

/** A test id no parser makes (parsers never emit NUL), for the lane markers below. */
const LANE_MARKER = '\0lane';

/**
 * What is red now, grouped by fingerprint. currentFailures takes each lane's latest build from
 * the records it is given, and storage gives only the tests that ever failed: a lane whose
 * latest build passed everything would look older than it is. So each lane's latest build is
 * added as one skipped record of a test that does not exist, which says nothing of any test.
 */
export async function storedCurrentFailures(storage: Pick<Storage, 'listInsightOutcomes' | 'latestLaneBuilds'>, query: InsightQuery): Promise<FailureGroup[]> {
  // Only a test red in some lane's latest build can be red now: those tests' rows are read.
  const lanes = await storage.latestLaneBuilds(query);
  const records: TestOutcomeRecord[] = await storage.listInsightOutcomes({ ...query, failedIn: lanes.map((l) => l.buildId) });
  for (const lane of lanes) {
    records.push({
      testId: LANE_MARKER, buildId: lane.buildId, builder: lane.builder, branch: lane.branch, revision: lane.revision,
      worker: lane.worker, outcome: 'skip', attempt: 1, startedAt: lane.startedAt,
    });
  }
  return currentFailures(records);
}
