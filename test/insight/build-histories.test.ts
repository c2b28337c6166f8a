// Flaky ranking and regression finding on recorded build histories with known answers
// (test/fixtures/insight/*.json: each fixture says what happened and what Keel must conclude).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestOutcome } from '../../src/results/model.js';
import { compareFlakyTests, flakyTestOf, rankFlakyTests } from '../../src/insight/flaky-tests.js';
import type { FlakyOptions, FlakyTest } from '../../src/insight/flaky-tests.js';
import { currentFailures } from '../../src/insight/current-failures.js';
import { changesFromLog, findRegressions, regressionsOfTest, resolveRules } from '../../src/insight/regressions.js';
import type { ChangeSummary, Regression } from '../../src/insight/regressions.js';
import type { Change } from '../../src/master/changes/change.js';
import { foldRuns } from '../../src/insight/test-history.js';
import type { TestOutcomeRecord } from '../../src/insight/test-history.js';

const root = fileURLToPath(new URL('../../../test/fixtures/insight/', import.meta.url));

interface FixtureBuild {
  id: number;
  builder: string;
  branch: string;
  revision: string;
  worker: string;
  startedAt: string;
  /**
   * Outcomes that are not a pass, `outcome[:fingerprint]`; `none` when the test did not run at
   * all; `fail,pass` for a build that stored each attempt as its own record.
   */
  outcomes: Record<string, string>;
}

interface ExpectedFlaky {
  testId: string;
  runs: number;
  flakes: number;
  flakeRate: number;
  count: number;
  rerunFlakes: number;
  revisionFlakes: number;
  firstBuild: number;
  lastBuild: number;
  builders: string[];
  fingerprints: { fingerprint: string; count: number }[];
}

interface ExpectedRegression {
  testId: string;
  builder: string;
  branch: string;
  firstFailing: number;
  lastPassing: number;
  latest: number;
  failingBuilds: number;
  skippedBuilds: number;
  noisyBefore: boolean;
  fingerprints: string[];
  changes: string[];
}

interface ExpectedGroup {
  fingerprint: string;
  tests: string[];
  builders: string[];
  /** [test id, failing build, first failing build of its streak] */
  failures: [string, number, number][];
}

interface Fixture {
  about: string;
  tests: string[];
  changes?: Record<string, ChangeSummary[]>;
  builds: FixtureBuild[];
  expected: { flaky: ExpectedFlaky[]; regressions: ExpectedRegression[]; currentFailures: ExpectedGroup[] } & Record<string, unknown>;
}

function load(name: string): Fixture {
  return JSON.parse(readFileSync(root + name, 'utf8')) as Fixture;
}

/** A fixture's builds as the stored records the master will hand to the insight functions. */
function records(fixture: Fixture, upToBuild = Infinity): TestOutcomeRecord[] {
  const out: TestOutcomeRecord[] = [];
  for (const b of fixture.builds) {
    if (b.id > upToBuild) continue;
    for (const testId of fixture.tests) {
      const spec = b.outcomes[testId] ?? 'pass';
      if (spec === 'none') continue;
      const [outcomes = 'pass', fingerprint] = spec.split(':');
      const attempts = outcomes.split(',') as TestOutcome[];
      attempts.forEach((outcome, i) => {
        out.push({
          testId, buildId: b.id, builder: b.builder, branch: b.branch, revision: b.revision, worker: b.worker,
          startedAt: Date.parse(b.startedAt), outcome,
          attempt: attempts.length > 1 ? i + 1 : outcome === 'flaky' ? 2 : 1,
          fingerprint: outcome === 'pass' ? undefined : fingerprint,
        });
      });
    }
  }
  return out;
}

function buildTime(fixture: Fixture, id: number): number {
  const b = fixture.builds.find((x) => x.id === id);
  assert.ok(b, `build ${id}`);
  return Date.parse(b.startedAt);
}

function checkFlaky(fixture: Fixture, got: FlakyTest[], expected: ExpectedFlaky[], label: string): void {
  assert.deepEqual(got.map((f) => f.testId), expected.map((e) => e.testId), `${label}: ranking`);
  for (const [i, e] of expected.entries()) {
    const f = got[i]!;
    const what = `${label}: ${e.testId}`;
    assert.equal(f.runs, e.runs, `${what}: runs`);
    assert.equal(f.flakes, e.flakes, `${what}: flakes`);
    assert.ok(Math.abs(f.flakeRate - e.flakeRate) < 1e-4, `${what}: rate ${f.flakeRate}`);
    assert.equal(f.count, e.count, `${what}: count`);
    assert.equal(f.rerunFlakes, e.rerunFlakes, `${what}: re-run flakes`);
    assert.equal(f.revisionFlakes, e.revisionFlakes, `${what}: same-revision flakes`);
    assert.equal(f.firstSeen, buildTime(fixture, e.firstBuild), `${what}: first seen`);
    assert.equal(f.lastSeen, buildTime(fixture, e.lastBuild), `${what}: last seen`);
    assert.equal(f.lastFlake.buildId, e.lastBuild, `${what}: last flaky build`);
    assert.deepEqual(f.builders, e.builders, `${what}: builders`);
    assert.deepEqual(f.fingerprints, e.fingerprints, `${what}: fingerprints`);
  }
}

function checkRegressions(got: Regression[], expected: ExpectedRegression[], label: string): void {
  const actual = got.map((r) => ({
    testId: r.testId, builder: r.builder, branch: r.branch,
    firstFailing: r.firstFailing.buildId, lastPassing: r.lastPassing.buildId, latest: r.latest.buildId,
    failingBuilds: r.failingBuilds, skippedBuilds: r.skippedBuilds, noisyBefore: r.noisyBefore,
    fingerprints: r.fingerprints, changes: r.changes.map((c) => c.revision),
  }));
  assert.deepEqual(actual, expected, label);
}

function analyse(fixture: Fixture, upToBuild?: number, flakyOptions: FlakyOptions = {}): { flaky: FlakyTest[]; regressions: Regression[] } {
  const history = records(fixture, upToBuild);
  const changesBetween = changesFromLog(fixture.changes ?? {});
  return { flaky: rankFlakyTests(history, flakyOptions), regressions: findRegressions(history, { changesBetween }) };
}

const fixtureNames = readdirSync(root).filter((f) => f.endsWith('.json')).sort();

test('the fixtures are there', () => {
  assert.deepEqual(fixtureNames, [
    'branches-apart.json', 'flaky-several-builders.json', 'noisy-then-broken.json', 'regression-with-changes.json', 'rerun-flakes-and-skips.json',
  ]);
});

for (const name of fixtureNames) {
  test(`${name}: the flaky ranking and the regressions`, () => {
    const fixture = load(name);
    const { flaky, regressions } = analyse(fixture);
    checkFlaky(fixture, flaky, fixture.expected.flaky, name);
    checkRegressions(regressions, fixture.expected.regressions, name);
    // Nothing regressed is called flaky.
    const regressed = new Set(regressions.map((r) => r.testId));
    for (const f of flaky) assert.ok(!regressed.has(f.testId), `${name}: ${f.testId} is both`);
  });

  test(`${name}: the current failures grouped by fingerprint`, () => {
    const fixture = load(name);
    const groups = currentFailures(records(fixture));
    assert.deepEqual(groups.map((g) => ({
      fingerprint: g.fingerprint, tests: g.tests, builders: g.builders,
      failures: g.failures.map((f) => [f.testId, f.build.buildId, f.since.buildId]),
    })), fixture.expected.currentFailures);
    for (const g of groups) assert.equal(g.since, Math.min(...g.failures.map((f) => f.since.startedAt)));
  });

  test(`${name}: one pass over rows grouped by test (as the SQL version streams them) gives the same answers`, () => {
    const fixture = load(name);
    const changesBetween = changesFromLog(fixture.changes ?? {});
    // ORDER BY test_id, started_at, build_id
    const rows = records(fixture).sort((a, b) => (a.testId < b.testId ? -1 : a.testId > b.testId ? 1 : 0) || a.startedAt - b.startedAt || a.buildId - b.buildId);
    const flaky = [];
    const regressions = [];
    for (let i = 0; i < rows.length;) {
      let j = i;
      while (j < rows.length && rows[j]!.testId === rows[i]!.testId) j++;
      const runs = foldRuns(rows.slice(i, j));
      const f = flakyTestOf(rows[i]!.testId, runs);
      if (f !== undefined) flaky.push(f);
      regressions.push(...regressionsOfTest(rows[i]!.testId, runs, resolveRules(), changesBetween));
      i = j;
    }
    assert.deepEqual(flaky.sort(compareFlakyTests), rankFlakyTests(records(fixture)));
    assert.deepEqual(new Set(regressions), new Set(findRegressions(records(fixture), { changesBetween })));
  });

  test(`${name}: the answers do not depend on the order of the records`, () => {
    const fixture = load(name);
    const history = records(fixture);
    const shuffled = [...history].reverse();
    for (let i = 0; i < shuffled.length; i += 7) shuffled.push(shuffled.splice(i, 1)[0]!);
    const changesBetween = changesFromLog(fixture.changes ?? {});
    assert.deepEqual(rankFlakyTests(shuffled), rankFlakyTests(history));
    assert.deepEqual(findRegressions(shuffled, { changesBetween }), findRegressions(history, { changesBetween }));
    assert.deepEqual(currentFailures(shuffled), currentFailures(history));
  });
}

test('noisy then broken: at build 11 it is still flaky, at build 12 a regression', () => {
  const fixture = load('noisy-then-broken.json');
  const at11 = analyse(fixture, 11);
  checkFlaky(fixture, at11.flaky, fixture.expected['flakyAtBuild11'] as ExpectedFlaky[], 'at build 11');
  checkRegressions(at11.regressions, fixture.expected['regressionsAtBuild11'] as ExpectedRegression[], 'at build 11');
  // Had it not been noisy, two failures would have made it a regression at build 11.
  const lenient = findRegressions(records(fixture, 11), { rules: { minFailuresIfNoisy: 2 } });
  assert.deepEqual(lenient.map((r) => [r.testId, r.firstFailing.buildId]), [['test_asyncio.test_sslproto', 10]]);
});

test('branches apart: the flaky ranking of one branch', () => {
  const fixture = load('branches-apart.json');
  const { flaky } = analyse(fixture, undefined, { branch: 'main' });
  checkFlaky(fixture, flaky, fixture.expected['flakyOnMain'] as ExpectedFlaky[], 'main only');
  // Read as one lane, each branch's passes would hide the other's breakage.
  const mixed = records(fixture).map((r) => ({ ...r, branch: 'any' }));
  assert.deepEqual(findRegressions(mixed), []);
});

test('flaky several builders: the window is the last N runs', () => {
  const fixture = load('flaky-several-builders.json');
  const ranked = rankFlakyTests(records(fixture), { window: 10 });
  // Builds 16–25 hold two flakes of test_ssl (18, 22), test_json's (22) and one of
  // test_asyncio.test_tasks (19): equal rates rank the latest flake first. test_httplib's only
  // flake (build 1) is out of its window.
  assert.deepEqual(ranked.map((f) => [f.testId, f.flakes, f.runs, f.count]), [
    ['test_ssl', 2, 10, 3],
    ['test_json', 1, 10, 1],
    ['test_asyncio.test_tasks', 1, 10, 4],
  ]);
  assert.deepEqual(rankFlakyTests(records(fixture), { minFlakes: 4 }).map((f) => f.testId), ['test_asyncio.test_tasks']);
  // Since build 16: the flakes of builds 18, 19 and 22 only.
  const since = rankFlakyTests(records(fixture), { since: buildTime(fixture, 16) });
  assert.deepEqual(since.map((f) => [f.testId, f.flakes, f.runs, f.count, f.firstSeen]), [
    ['test_ssl', 2, 10, 2, buildTime(fixture, 18)],
    ['test_json', 1, 10, 1, buildTime(fixture, 22)],
    ['test_asyncio.test_tasks', 1, 10, 1, buildTime(fixture, 19)],
  ]);
});

test('regression with changes: without a change log the changes are empty, and a changes function is asked once per regression', () => {
  const fixture = load('regression-with-changes.json');
  assert.ok(findRegressions(records(fixture)).every((r) => r.changes.length === 0));
  const asked: string[] = [];
  findRegressions(records(fixture), { changesBetween: (from, to) => { asked.push(`${from.buildId}->${to.buildId}`); return []; } });
  assert.deepEqual(asked.sort(), ['13->14', '4->5']);
});

test('the master\'s change model goes in as it is and comes back whole', () => {
  const fixture = load('regression-with-changes.json');
  const log: Change[] = (fixture.changes?.['main'] ?? []).map((c, i) => ({
    ...c, repository: 'https://github.com/python/cpython', branch: 'main', time: Date.parse('2026-11-02T09:00:00Z') + i * 3600_000,
    files: ['Lib/json/encoder.py'], source: 'poller',
  }));
  const regressions = findRegressions(records(fixture), { changesBetween: changesFromLog({ main: log }) });
  const changes: readonly Change[] = regressions[0]!.changes;
  assert.deepEqual(changes.map((c) => [c.revision, c.files]), [['70498c6', ['Lib/json/encoder.py']]]);
});

test('changesFromLog: unknown revisions give no changes', () => {
  const log = { main: [{ revision: 'a', author: 'x', message: '1' }, { revision: 'b', author: 'x', message: '2' }, { revision: 'c', author: 'x', message: '3' }] };
  const ref = (revision: string, branch = 'main') => ({ buildId: 1, builder: 'b', branch, revision, worker: 'w', startedAt: 0 });
  const between = changesFromLog(log);
  assert.deepEqual(between(ref('a'), ref('c')).map((c) => c.revision), ['b', 'c']);
  assert.deepEqual(between(ref('z'), ref('c')), []);
  assert.deepEqual(between(ref('a'), ref('c', 'other')), []);
  assert.deepEqual(between(ref('c'), ref('a')), []);
});
