// GET /api/v1/flaky, /failures and /regressions on recorded build histories (test/fixtures/insight) stored
// through Storage in SQLite: the same answers as the in-memory rules give on the fixtures.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestOutcome } from '../../src/results/model.js';
import type { NewTestOutcome } from '../../src/storage/storage.js';
import { api, startMaster, tempDir } from './ci-harness.js';

const root = fileURLToPath(new URL('../../../test/fixtures/insight/', import.meta.url));

interface Fixture {
  tests: string[];
  /** Each branch's change log, oldest first. */
  changes?: Record<string, { revision: string; author: string; message: string }[]>;
  builds: { id: number; builder: string; branch: string; revision: string; worker: string; startedAt: string; outcomes: Record<string, string> }[];
  expected: {
    flaky: { testId: string; runs: number; flakes: number; count: number; rerunFlakes: number; revisionFlakes: number; lastBuild: number; builders: string[]; fingerprints: { fingerprint: string; count: number }[] }[];
    currentFailures: { fingerprint: string; tests: string[]; builders: string[]; failures: [string, number, number][] }[];
    regressions: { testId: string; builder: string; branch: string; firstFailing: number; lastPassing: number; latest: number; failingBuilds: number; skippedBuilds: number; noisyBefore: boolean; fingerprints: string[]; changes: string[] }[];
  };
}

interface FlakyJson { testId: string; runs: number; flakes: number; flakeRate: number; count: number; rerunFlakes: number; revisionFlakes: number; lastFlake: { buildId: number }; builders: string[]; fingerprints: { fingerprint: string; count: number }[] }
interface RegressionJson { testId: string; builder: string; branch: string; firstFailing: { buildId: number }; lastPassing: { buildId: number }; latest: { buildId: number }; failingBuilds: number; skippedBuilds: number; noisyBefore: boolean; fingerprints: string[]; changes: unknown[] }
interface GroupJson { fingerprint?: string; tests: string[]; builders: string[]; since: number; failures: { testId: string; build: { buildId: number }; since: { buildId: number } }[] }

describe('flaky and failures endpoints on recorded histories stored in SQLite', () => {
  for (const name of readdirSync(root).filter((f) => f.endsWith('.json')).sort()) {
    it(name, async () => {
      const fixture = JSON.parse(readFileSync(join(root, name), 'utf8')) as Fixture;
      const dir = tempDir('keel-insight-api-');
      const m = await startMaster({ workers: [{ name: 'w', secret: 's' }], builders: [] }, { dbUrl: `sqlite:${join(dir.path, 'db.sqlite')}` });
      try {
        // Each fixture build becomes a stored build, its outcomes stored in one call as the engine does.
        const toFixture = new Map<number, number>();
        // The change log as a poller records it; each build blames the changes of its branch since
        // its builder's previous build, up to its own revision, as the build engine does.
        const logs = new Map<string, { id: number; revision: string }[]>();
        for (const [branch, log] of Object.entries(fixture.changes ?? {})) {
          logs.set(branch, await m.storage.recordChanges(log.map((c, i) => ({ ...c, repository: 'cpython', branch, time: i, files: [], source: 'poller' })), 0));
        }
        const blamedUpTo = new Map<string, number>();
        for (const b of fixture.builds) {
          const startedAt = Date.parse(b.startedAt);
          const req = await m.storage.addBuildRequest({ builder: b.builder, branch: b.branch, revision: b.revision, submittedAt: startedAt });
          const build = await m.storage.createBuild({ requestId: req, builder: b.builder, worker: b.worker, master: 'm', startedAt });
          toFixture.set(build.id, b.id);
          const log = logs.get(b.branch) ?? [];
          const upTo = log.findIndex((c) => c.revision === b.revision);
          const lane = `${b.builder}\0${b.branch}`;
          if (upTo >= 0) {
            await m.storage.setBuildChanges(build.id, log.slice((blamedUpTo.get(lane) ?? upTo - 1) + 1, upTo + 1).map((c) => c.id));
            blamedUpTo.set(lane, upTo);
          }
          const rows: NewTestOutcome[] = [];
          for (const testId of fixture.tests) {
            const spec = b.outcomes[testId] ?? 'pass';
            if (spec === 'none') continue;
            const [outcomes = 'pass', fingerprint] = spec.split(':');
            const attempts = outcomes.split(',') as TestOutcome[];
            attempts.forEach((outcome, i) => rows.push({
              buildId: build.id, builder: b.builder, branch: b.branch, revision: b.revision, worker: b.worker, step: 'test',
              testId, file: testId.split('.')[0]!, name: testId, outcome, attempt: attempts.length > 1 ? i + 1 : outcome === 'flaky' ? 2 : 1,
              durationMs: 1, message: null, details: null, fingerprint: outcome === 'pass' ? null : (fingerprint ?? null), startedAt,
            }));
          }
          await m.storage.addTestOutcomes(rows);
        }
        const flaky = await api<{ flaky: FlakyJson[]; total: number; since: number }>(m.url, '/flaky?since=0');
        assert.equal(flaky.status, 200);
        assert.equal(flaky.body.since, 0);
        assert.equal(flaky.body.total, fixture.expected.flaky.length);
        assert.deepEqual(flaky.body.flaky.map((f) => ({
          testId: f.testId, runs: f.runs, flakes: f.flakes, count: f.count, rerunFlakes: f.rerunFlakes, revisionFlakes: f.revisionFlakes,
          lastBuild: toFixture.get(f.lastFlake.buildId), builders: f.builders, fingerprints: f.fingerprints,
        })), fixture.expected.flaky.map((e) => ({
          testId: e.testId, runs: e.runs, flakes: e.flakes, count: e.count, rerunFlakes: e.rerunFlakes, revisionFlakes: e.revisionFlakes,
          lastBuild: e.lastBuild, builders: e.builders, fingerprints: e.fingerprints,
        })));
        const failures = await api<{ groups: GroupJson[]; total: number }>(m.url, '/failures?since=0');
        assert.equal(failures.status, 200);
        assert.deepEqual(failures.body.groups.map((g) => ({
          fingerprint: g.fingerprint, tests: g.tests, builders: g.builders,
          failures: g.failures.map((f) => [f.testId, toFixture.get(f.build.buildId), toFixture.get(f.since.buildId)]),
        })), fixture.expected.currentFailures);
        // The same regressions, each naming the changes since its last passing build.
        const regressions = await api<{ regressions: RegressionJson[]; total: number }>(m.url, '/regressions?since=0');
        assert.equal(regressions.status, 200);
        assert.deepEqual(regressions.body.regressions.map((r) => ({
          testId: r.testId, builder: r.builder, branch: r.branch, firstFailing: toFixture.get(r.firstFailing.buildId),
          lastPassing: toFixture.get(r.lastPassing.buildId), latest: toFixture.get(r.latest.buildId), failingBuilds: r.failingBuilds,
          skippedBuilds: r.skippedBuilds, noisyBefore: r.noisyBefore, fingerprints: r.fingerprints,
          changes: (r.changes as { revision: string }[]).map((c) => c.revision),
        })), fixture.expected.regressions);
        // Without `since`, the history read is the last 30 days.
        const recent = await api<{ since: number }>(m.url, '/flaky');
        assert.ok(Math.abs(recent.body.since - (Date.now() - 30 * 86_400_000)) < 60_000);
        assert.equal((await api(m.url, '/flaky?window=0')).status, 400);
      } finally {
        await m.stop();
        dir.remove();
      }
    });
  }
});
