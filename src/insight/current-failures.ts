// What is red right now: the failures of each lane's latest build, grouped by fingerprint across
// builders, so one cause failing on five builders reads as one line (GET /api/v1/failures).
import { groupRunsByTest } from './test-history.js';
import type { BuildRef, TestOutcomeRecord } from './test-history.js';

export interface CurrentFailure {
  testId: string;
  /** The lane's latest build, in which the test failed. */
  build: BuildRef;
  /** The first build of the unbroken run of failures (skips aside) that ends in `build`. */
  since: BuildRef;
}

export interface FailureGroup {
  /** The shared fingerprint; undefined for failures that have none, grouped one per test. */
  fingerprint: string | undefined;
  /** Sorted. */
  tests: string[];
  /** Sorted. */
  builders: string[];
  /** One per test and lane, ordered by builder, branch and test. */
  failures: CurrentFailure[];
  /** The earliest `since` of the group's failures. */
  since: number;
}

/**
 * The failures (red runs: failed or errored on every attempt) in the latest build of every lane
 * (builder and branch), grouped by fingerprint. Groups seen on the most builders come first,
 * then those with the most tests, then the oldest.
 */
export function currentFailures(records: Iterable<TestOutcomeRecord>): FailureGroup[] {
  const list = Array.isArray(records) ? (records as readonly TestOutcomeRecord[]) : [...records];
  // The latest build of each lane is the latest build that stored any outcome there.
  const latest = new Map<string, { buildId: number; startedAt: number }>();
  for (const r of list) {
    const key = `${r.builder}\0${r.branch}`;
    const seen = latest.get(key);
    if (seen === undefined || r.startedAt > seen.startedAt || (r.startedAt === seen.startedAt && r.buildId > seen.buildId)) {
      latest.set(key, { buildId: r.buildId, startedAt: r.startedAt });
    }
  }
  const groups = new Map<string, FailureGroup>();
  for (const [testId, runs] of groupRunsByTest(list, (o) => o === 'fail' || o === 'error')) {
    // Walk each lane backwards from its latest run of this test; skips do not break a streak.
    const lanes = new Map<string, typeof runs>();
    for (const run of runs) {
      if (run.kind === 'skip') continue;
      const lane = lanes.get(run.lane);
      if (lane === undefined) lanes.set(run.lane, [run]);
      else lane.push(run);
    }
    for (const [key, lane] of lanes) {
      const last = lane[lane.length - 1]!;
      if (last.kind !== 'red' || last.build.buildId !== latest.get(key)?.buildId) continue;
      let first = lane.length - 1;
      while (first > 0 && lane[first - 1]!.kind === 'red') first--;
      const failure: CurrentFailure = { testId, build: last.build, since: lane[first]!.build };
      const groupKey = last.fingerprint !== undefined ? `f:${last.fingerprint}` : `t:${testId}`;
      const group = groups.get(groupKey);
      if (group === undefined) {
        groups.set(groupKey, { fingerprint: last.fingerprint, tests: [testId], builders: [last.build.builder], failures: [failure], since: failure.since.startedAt });
      } else {
        if (!group.tests.includes(testId)) group.tests.push(testId);
        if (!group.builders.includes(last.build.builder)) group.builders.push(last.build.builder);
        group.failures.push(failure);
        group.since = Math.min(group.since, failure.since.startedAt);
      }
    }
  }
  const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  for (const g of groups.values()) {
    g.tests.sort(byName);
    g.builders.sort(byName);
    g.failures.sort((a, b) => byName(a.build.builder, b.build.builder) || byName(a.build.branch, b.build.branch) || byName(a.testId, b.testId));
  }
  return [...groups.values()].sort((a, b) =>
    b.builders.length - a.builders.length || b.tests.length - a.tests.length || a.since - b.since || byName(a.tests[0] ?? '', b.tests[0] ?? ''));
}
