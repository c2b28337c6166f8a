// The storage conformance suite: one set of cases every backend must pass. Each backend's test
// file calls `storageConformance` with a factory that opens a fresh, empty database.
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { LogWriter } from '../../src/storage/log-writer.js';
import { CHUNK_TARGET_BYTES } from '../../src/storage/log-chunks.js';
import { KyselyStorage } from '../../src/storage/kysely-storage.js';
import { MAX_STORED_DETAILS } from '../../src/storage/storage.js';
import type { BuildRecord, ChangeRecord, NewChange, NewTestOutcome, Storage } from '../../src/storage/storage.js';

export function storageConformance(name: string, open: () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>): void {
  describe(`storage conformance: ${name}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;
    before(async () => ({ storage, cleanup } = await open()));
    after(async () => {
      await storage.close();
      await cleanup();
    });

    it('stores workers and their connection state', async () => {
      await storage.upsertWorker('w1', { os: 'linux', node: 'v20' }, true, 1000);
      await storage.upsertWorker('w2', {}, false, 1000);
      await storage.upsertWorker('w1', { os: 'linux', node: 'v24' }, true, 2000);
      let workers = await storage.listWorkers();
      assert.deepEqual(workers.map((w) => [w.name, w.connected, w.info['node']]), [['w1', true, 'v24'], ['w2', false, undefined]]);
      assert.equal(workers[0]?.lastSeen, 2000);
      await storage.setWorkerConnected('w1', false, 3000);
      await storage.upsertWorker('w2', {}, true, 3000);
      await storage.disconnectAllWorkers();
      workers = await storage.listWorkers();
      assert.deepEqual(workers.map((w) => w.connected), [false, false]);
    });

    it('syncs builders from the config', async () => {
      await storage.syncBuilders([{ name: 'b', description: 'second', tags: ['x'] }, { name: 'a', description: null, tags: [] }]);
      await storage.syncBuilders([{ name: 'b', description: 'changed', tags: ['y', 'z'] }]);
      assert.deepEqual(await storage.listBuilders(), [
        { name: 'a', description: null, tags: [] },
        { name: 'b', description: 'changed', tags: ['y', 'z'] },
      ]);
      assert.equal(await storage.getBuilder('nope'), undefined);
    });

    it('queues requests and claims the oldest of the given builders, once', async () => {
      const r1 = await storage.addBuildRequest({ builder: 'q1', submittedAt: 10, branch: 'main', properties: { a: 1 } });
      const r2 = await storage.addBuildRequest({ builder: 'q2', submittedAt: 11 });
      const r3 = await storage.addBuildRequest({ builder: 'q1', submittedAt: 12, revision: 'abc' });
      assert.deepEqual((await storage.listQueuedRequests('q1')).map((r) => r.id), [r1, r3]);
      const got = await storage.claimBuildRequest(['q1', 'q2'], 'm1', 100);
      assert.equal(got?.id, r1);
      assert.equal(got?.claimedBy, 'm1');
      assert.deepEqual(got?.properties, { a: 1 });
      // Concurrent claimers never get the same request.
      const claims = await Promise.all([0, 1, 2, 3].map((i) => storage.claimBuildRequest(['q1', 'q2'], `m${i}`, 101)));
      const ids = claims.filter((c) => c !== undefined).map((c) => c.id).sort((a, b) => a - b);
      assert.deepEqual(ids, [r2, r3]);
      assert.equal(await storage.claimBuildRequest(['q1'], 'm1', 102), undefined);
      await storage.unclaimBuildRequest(r1);
      assert.equal((await storage.claimBuildRequest(['q1'], 'm2', 103))?.id, r1);
      await storage.completeBuildRequest(r1, 'success', 200);
      const done = await storage.getBuildRequest(r1);
      assert.equal(done?.result, 'success');
      assert.equal(done?.completedAt, 200);
      assert.equal(await storage.getBuildRequest(999999), undefined);
    });

    it('numbers builds per builder and lists them newest first with filters', async () => {
      const req = await storage.addBuildRequest({ builder: 'nb', submittedAt: 1 });
      const b1 = await storage.createBuild({ requestId: req, builder: 'nb', worker: 'w1', master: 'm', startedAt: 5 });
      const [b2, b3] = await Promise.all([
        storage.createBuild({ requestId: req, builder: 'nb', worker: 'w1', master: 'm', startedAt: 6 }),
        storage.createBuild({ requestId: req, builder: 'nb', worker: 'w2', master: 'm', startedAt: 7 }),
      ]);
      assert.equal(b1.number, 1);
      assert.deepEqual([b2.number, b3.number].sort(), [2, 3]);
      assert.equal(b1.result, null);
      await storage.finishBuild(b1.id, 'failure', 9, 'because');
      await storage.setBuildProperties(b1.id, { got_revision: 'abc' });
      const got = await storage.getBuild(b1.id);
      assert.deepEqual([got?.result, got?.finishedAt, got?.reason, got?.properties], ['failure', 9, 'because', { got_revision: 'abc' }]);
      const all = await storage.listBuilds({ builder: 'nb' });
      assert.equal(all.total, 3);
      assert.deepEqual(all.builds.map((b) => b.id), [b3.id, b2.id, b1.id].sort((a, b) => b - a));
      const failed = await storage.listBuilds({ builder: 'nb', result: 'failure' });
      assert.deepEqual([failed.total, failed.builds[0]?.id], [1, b1.id]);
      const page = await storage.listBuilds({ builder: 'nb', limit: 1, offset: 1 });
      assert.deepEqual([page.total, page.builds.length], [3, 1]);
      assert.deepEqual(await storage.listBuildIdsForRequest(req), [b1.id, b2.id, b3.id].sort((a, b) => a - b));
    });

    it('records steps and logs', async () => {
      const req = await storage.addBuildRequest({ builder: 'st', submittedAt: 1 });
      const build = await storage.createBuild({ requestId: req, builder: 'st', worker: 'w', master: 'm', startedAt: 1 });
      const s0 = await storage.addStep(build.id, 0, 'checkout');
      const s1 = await storage.addStep(build.id, 1, 'test');
      await storage.startStep(s0.id, 2);
      await storage.finishStep(s0.id, 'success', 3);
      await storage.finishStep(s1.id, 'skipped', 3, 'halted');
      const steps = await storage.listSteps(build.id);
      assert.deepEqual(steps.map((s) => [s.name, s.result, s.startedAt, s.reason]), [['checkout', 'success', 2, null], ['test', 'skipped', null, 'halted']]);
      const log = await storage.createLog(s0.id, 'stdio');
      await storage.createLog(s0.id, 'summary');
      assert.deepEqual((await storage.listLogs([s0.id, s1.id])).map((l) => l.name), ['stdio', 'summary']);
      assert.equal((await storage.getLog(s0.id, 'stdio'))?.id, log.id);
      assert.equal(await storage.getLog(s1.id, 'stdio'), undefined);
    });

    it('a master restart ends its running builds and requeues their requests', async () => {
      const req = await storage.addBuildRequest({ builder: 'rs', submittedAt: 1 });
      const other = await storage.addBuildRequest({ builder: 'rs2', submittedAt: 1 });
      await storage.claimBuildRequest(['rs'], 'crashed', 2);
      await storage.claimBuildRequest(['rs2'], 'alive', 2);
      const build = await storage.createBuild({ requestId: req, builder: 'rs', worker: 'w', master: 'crashed', startedAt: 2 });
      const step = await storage.addStep(build.id, 0, 's');
      await storage.startStep(step.id, 3);
      const ended = await storage.releaseMaster('crashed', 'retry', 'master restarted', 10);
      assert.deepEqual(ended, [build.id]);
      const b = await storage.getBuild(build.id);
      assert.deepEqual([b?.result, b?.reason, b?.finishedAt], ['retry', 'master restarted', 10]);
      assert.equal((await storage.listSteps(build.id))[0]?.result, 'retry');
      assert.equal((await storage.getBuildRequest(req))?.claimedBy, null);
      assert.equal((await storage.getBuildRequest(other))?.claimedBy, 'alive');
    });

    it('drops the carriage returns that end lines, also when split across pieces', async () => {
      const req = await storage.addBuildRequest({ builder: 'cr', submittedAt: 1 });
      const build = await storage.createBuild({ requestId: req, builder: 'cr', worker: 'w', master: 'm', startedAt: 1 });
      const step = await storage.addStep(build.id, 0, 's');
      const log = await storage.createLog(step.id, 'stdio');
      const seen: string[] = [];
      const writer = new LogWriter(storage, log.id);
      await writer.append('o', 'windows\r');
      await writer.append('o', Buffer.from('\nkeep\rinside\r\r\nplain\n'));
      await writer.append('e', 'no end\r');
      await writer.finish();
      const lines = await storage.readLogLines(log.id, 0, 10);
      assert.deepEqual(lines.map((l) => [l.stream, l.text]), [['o', 'windows'], ['o', 'keep\rinside'], ['o', 'plain'], ['e', 'no end']]);
      const observed = new LogWriter(storage, (await storage.createLog(step.id, 'observed')).id, 0, (s, t) => seen.push(`${s}:${t}`));
      await observed.append('o', 'a\r\nb');
      await observed.append('o', 'c\n');
      await observed.finish();
      assert.deepEqual(seen, ['o:a', 'o:bc']);
    });

    it('stores logs in compressed line-indexed chunks and reads any range', async () => {
      const req = await storage.addBuildRequest({ builder: 'lg', submittedAt: 1 });
      const build = await storage.createBuild({ requestId: req, builder: 'lg', worker: 'w', master: 'm', startedAt: 1 });
      const step = await storage.addStep(build.id, 0, 'big');
      const log = await storage.createLog(step.id, 'stdio');
      const writer = new LogWriter(storage, log.id);
      await writer.append('h', 'header line\n');
      // Pieces cut mid-line and stdout/stderr interleaved: lines are joined per stream.
      // Enough lines for several chunks, whatever the chunk size.
      const total = Math.ceil((5 * CHUNK_TARGET_BYTES) / 50);
      const expected = ['header line'];
      for (let i = 0; i < total; i++) {
        const text = `line ${i} ` + 'x'.repeat(40) + ' ü';
        await writer.append('o', text.slice(0, 7));
        await writer.append('o', text.slice(7) + '\n');
        expected.push(text);
        if (i % 1000 === 0) {
          await writer.append('e', `err ${i}\n`);
          expected.push(`err ${i}`);
        }
      }
      await writer.append('o', 'no newline at end');
      expected.push('no newline at end');
      await writer.finish();
      const rec = await storage.getLog(step.id, 'stdio');
      assert.equal(rec?.numLines, expected.length);
      assert.equal(rec?.finished, true);
      // The log spans several chunks, so a range read crosses chunk boundaries.
      assert.ok(expected.length * 50 > 4 * CHUNK_TARGET_BYTES);
      const mid = await storage.readLogLines(log.id, total - 2500, 1500);
      assert.equal(mid.length, 1500);
      assert.deepEqual(mid.map((l) => l.text), expected.slice(total - 2500, total - 1000));
      assert.deepEqual(mid.map((l) => l.n), Array.from({ length: 1500 }, (_, i) => total - 2500 + i));
      const head = await storage.readLogLines(log.id, 0, 3);
      assert.deepEqual(head.map((l) => [l.stream, l.text]), [['h', 'header line'], ['o', expected[1]], ['e', 'err 0']]);
      const tail = await storage.readLogLines(log.id, expected.length - 2, 10);
      assert.deepEqual(tail.map((l) => l.text), expected.slice(-2));
      assert.deepEqual(await storage.readLogLines(log.id, expected.length + 5, 10), []);
      let raw = '';
      let pieces = 0;
      for await (const piece of storage.streamLogText(log.id)) {
        raw += piece.toString('utf8');
        pieces++;
      }
      assert.ok(pieces > 1, 'the raw text comes in several pieces');
      assert.equal(raw, expected.join('\n') + '\n');
      // Reading a range touches only the chunks that hold it: with the first chunk destroyed,
      // the last lines still read, and the first do not.
      assert.ok(storage instanceof KyselyStorage);
      await storage.db.updateTable('log_chunks').set({ content: Buffer.from('not deflate data') })
        .where('log_id', '=', log.id).where('first_line', '=', 0).execute();
      assert.deepEqual((await storage.readLogLines(log.id, expected.length - 2, 2)).map((l) => l.text), expected.slice(-2));
      await assert.rejects(storage.readLogLines(log.id, 0, 1));
    });

    it('stores a build\'s test outcomes in one go and reads them back by build, test and failure', async () => {
      const req = await storage.addBuildRequest({ builder: 'to', submittedAt: 1 });
      const builds: BuildRecord[] = [];
      for (let i = 0; i < 4; i++) builds.push(await storage.createBuild({ requestId: req, builder: i === 3 ? 'to-b' : 'to', worker: 'w', master: 'm', startedAt: 100 + i }));
      const row = (build: number, testId: string, outcome: NewTestOutcome['outcome'], extra: Partial<NewTestOutcome> = {}): NewTestOutcome => ({
        buildId: builds[build]!.id, builder: builds[build]!.builder, branch: 'main', revision: `r${build}`, worker: 'w', step: 'test',
        testId, file: testId.split(' > ')[0]!, name: testId.split(' > ').slice(1).join(' > '), outcome, attempt: outcome === 'flaky' ? 2 : 1,
        durationMs: 12.6, message: null, details: null, fingerprint: null, startedAt: 100 + build, ...extra,
      });
      // More rows than one INSERT batch, with a test id full of spaces, '>' and slashes.
      const many = Array.from({ length: 250 }, (_, i) => row(0, `suite/a.test.ts > case ${i}`, 'pass'));
      const odd = 'dir/sub dir/x.test.ts > describe > it "quoted" / ünïcode';
      await storage.addTestOutcomes([...many, row(0, odd, 'fail', { message: 'AssertionError: 1 != 2', details: 'x'.repeat(MAX_STORED_DETAILS + 10), fingerprint: 'abc' })]);
      await storage.addTestOutcomes([row(1, odd, 'flaky', { fingerprint: 'abc' }), row(1, 'suite/a.test.ts > case 1', 'skip')]);
      await storage.addTestOutcomes([row(2, odd, 'pass'), row(2, 'only passes', 'pass')]);
      await storage.addTestOutcomes([row(3, 'other', 'error', { fingerprint: 'def' })]);
      await storage.addTestOutcomes([]);
      const all = await storage.listTestOutcomes(builds[0]!.id);
      assert.equal(all.length, 251);
      assert.deepEqual(all.slice(0, 2).map((r) => r.testId), ['suite/a.test.ts > case 0', 'suite/a.test.ts > case 1']);
      const failed = await storage.listTestOutcomes(builds[0]!.id, ['fail', 'error']);
      assert.equal(failed.length, 1);
      const f = failed[0]!;
      assert.deepEqual([f.testId, f.file, f.outcome, f.attempt, f.durationMs, f.message, f.fingerprint, f.startedAt, f.builder, f.revision, f.step],
        [odd, 'dir/sub dir/x.test.ts', 'fail', 1, 13, 'AssertionError: 1 != 2', 'abc', 100, 'to', 'r0', 'test']);
      assert.ok(f.details !== null && f.details.length < MAX_STORED_DETAILS + 20 && f.details.endsWith('(cut)'));
      assert.deepEqual(await storage.listTestOutcomes(builds[0]!.id, []), []);
      // A failing insert stores nothing of its batch.
      await assert.rejects(storage.addTestOutcomes([row(2, 'x', 'pass'), row(2, 'y', 'pass', { buildId: 999999 })]));
      assert.deepEqual((await storage.listTestOutcomes(builds[2]!.id)).map((r) => r.testId), [odd, 'only passes']);

      const history = await storage.testHistory(odd, 10);
      assert.deepEqual(history.map((r) => [r.buildId, r.outcome]), [[builds[2]!.id, 'pass'], [builds[1]!.id, 'flaky'], [builds[0]!.id, 'fail']]);
      assert.equal((await storage.testHistory(odd, 1)).length, 1);

      // Only the tests that ever failed, errored or flaked, in test then build-time order.
      const insight = await storage.listInsightOutcomes({});
      assert.deepEqual(insight.map((r) => [r.testId, r.buildId, r.outcome, r.fingerprint]), [
        [odd, builds[0]!.id, 'fail', 'abc'], [odd, builds[1]!.id, 'flaky', 'abc'], [odd, builds[2]!.id, 'pass', undefined],
        ['other', builds[3]!.id, 'error', 'def'],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0)));
      assert.deepEqual((await storage.listInsightOutcomes({ since: 101 })).map((r) => r.buildId), [builds[1]!.id, builds[2]!.id, builds[3]!.id]);
      assert.deepEqual(await storage.listInsightOutcomes({ branch: 'nope' }), []);
      // Only the tests red in the given builds: 'other' errored in build 3; the odd one was green there.
      assert.deepEqual((await storage.listInsightOutcomes({ failedIn: [builds[3]!.id, builds[2]!.id] })).map((r) => r.testId), ['other']);
      assert.deepEqual((await storage.listInsightOutcomes({ failedIn: [builds[0]!.id] })).map((r) => r.buildId), [builds[0]!.id, builds[1]!.id, builds[2]!.id]);
      assert.deepEqual(await storage.listInsightOutcomes({ failedIn: [] }), []);
      const lanes = await storage.latestLaneBuilds({});
      assert.deepEqual(lanes.map((l) => [l.builder, l.branch, l.buildId, l.revision, l.startedAt]), [
        ['to', 'main', builds[2]!.id, 'r2', 102], ['to-b', 'main', builds[3]!.id, 'r3', 103],
      ]);
    });

    it('quarantines tests by their whole id', async () => {
      const id = 'test_ssl > ThreadedTests > test echo/x';
      assert.equal(await storage.quarantineTest(id, 'flaky on macOS', 5), true);
      assert.equal(await storage.quarantineTest(id, 'again', 6), false);
      await storage.quarantineTest('a_first', null, 7);
      assert.deepEqual(await storage.listQuarantinedTests(), [
        { testId: 'a_first', reason: null, createdAt: 7 }, { testId: id, reason: 'flaky on macOS', createdAt: 5 },
      ]);
      assert.equal(await storage.unquarantineTest(id), true);
      assert.equal(await storage.unquarantineTest(id), false);
      assert.deepEqual((await storage.listQuarantinedTests()).map((q) => q.testId), ['a_first']);
    });

    describe('changes (issue 5)', () => {
      // Epoch ms past 2^31, so PostgreSQL's bigint must come back as a number.
      const T = 1_764_000_000_000;
      const change = (repository: string, branch: string, revision: string, extra: Partial<NewChange> = {}): NewChange => ({
        repository, branch, revision, author: 'Ada <ada@example.org>', time: T, message: `commit ${revision}`, files: [], source: 'poller', ...extra,
      });
      const ids = (changes: readonly ChangeRecord[]): number[] => changes.map((c) => c.id);
      const revisions = (changes: readonly ChangeRecord[]): string[] => changes.map((c) => c.revision);
      /** A request of `builder` on `branch`, claimed, with one build of it linked to `changes`. */
      const buildWith = async (builder: string, branch: string, changes: readonly ChangeRecord[]): Promise<BuildRecord> => {
        const req = await storage.addBuildRequest({ builder, branch, submittedAt: 1, changeIds: ids(changes) });
        const build = await storage.createBuild({ requestId: req, builder, worker: 'w', master: 'm', startedAt: 2 });
        await storage.setBuildChanges(build.id, ids(changes));
        return build;
      };

      it('records changes in order and reads a full and a minimal one back as given', async () => {
        const full: NewChange = {
          repository: 'https://git.example.org/rt.git', branch: 'refs/pull/42/merge', revision: 'a'.repeat(40),
          author: 'Ada Lovelace <ada@example.org>', committer: 'Grace Hopper <grace@example.org>', time: T + 5,
          message: 'Parse TAP 14\n\nWith ünïcode, "quotes" and\ttabs.', files: ['src/tap.ts', 'dir with space/é.ts'],
          link: 'https://git.example.org/rt/commit/aaaa', category: 'pull-request', source: 'github', project: 'owner/rt',
          properties: { pullRequest: 42, headBranch: 'feature', nested: { list: [1, 'two', null], flag: true } },
        };
        const minimal: NewChange = { repository: 'https://git.example.org/rt.git', branch: 'main', revision: 'b1', author: '', time: T, message: '', files: [], source: 'api' };
        // Explicit undefineds are stored as not given.
        const undefinedOptionals = { ...minimal, revision: 'b2', link: undefined, committer: undefined, properties: undefined };
        const recorded = await storage.recordChanges([full, minimal, undefinedOptionals], T + 100);
        assert.equal(recorded.length, 3);
        assert.ok(recorded[0]!.id < recorded[1]!.id && recorded[1]!.id < recorded[2]!.id, 'ids follow the order given');
        assert.deepEqual(recorded[0], { ...full, id: recorded[0]!.id, recordedAt: T + 100 });
        assert.deepEqual(recorded[1], { ...minimal, id: recorded[1]!.id, recordedAt: T + 100 });
        for (const r of recorded) assert.deepEqual(await storage.getChange(r.id), r);
        const stored = (await storage.getChange(recorded[2]!.id))!;
        for (const key of ['committer', 'link', 'category', 'project', 'properties']) assert.ok(!(key in stored), `${key} is absent`);
        assert.deepEqual(stored, { ...minimal, revision: 'b2', id: recorded[2]!.id, recordedAt: T + 100 });
        // An empty object and empty strings are given values, not absent ones.
        const [empty] = await storage.recordChanges([change('rt-empty', 'main', 'c1', { properties: {}, committer: '' })], T);
        assert.deepEqual([empty?.properties, empty?.committer], [{}, '']);
        assert.equal(await storage.getChange(999999), undefined);
        assert.deepEqual(await storage.recordChanges([], T), []);
      });

      it('replaces a poller\'s tips with its changes, in one transaction', async () => {
        const repo = 'ssh://git@example.org/tips.git';
        assert.equal(await storage.getPollerTips(repo), undefined);
        await storage.recordChanges([change(repo, 'main', 'm1'), change(repo, 'dev', 'd1')], T, { repository: repo, revisions: { main: 'm1', dev: 'd1' } });
        await storage.recordChanges([], T, { repository: 'other-repo', revisions: { main: 'o1' } });
        assert.deepEqual(await storage.getPollerTips(repo), { main: 'm1', dev: 'd1' });
        // Replaced, not merged: the deleted branch is forgotten; another repository's tips stay.
        const [m2] = await storage.recordChanges([change(repo, 'main', 'm2')], T + 1, { repository: repo, revisions: { main: 'm2', 'feature/x': 'f1' } });
        assert.deepEqual(await storage.getPollerTips(repo), { main: 'm2', 'feature/x': 'f1' });
        assert.deepEqual(await storage.getPollerTips('other-repo'), { main: 'o1' });
        // Without changes the tips are still stored; with no branches left they are {}.
        await storage.recordChanges([], T + 2, { repository: repo, revisions: {} });
        assert.deepEqual(await storage.getPollerTips(repo), {});
        await storage.recordChanges([], T + 3, { repository: repo, revisions: { main: 'm2' } });

        // A change that cannot be stored (a NOT NULL field missing) stores neither the change
        // before it nor the tips.
        const total = (await storage.listChanges({ repository: repo })).total;
        const noAuthor = { ...change(repo, 'main', 'm4'), author: undefined } as unknown as NewChange;
        await assert.rejects(storage.recordChanges([change(repo, 'main', 'm3'), noAuthor], T + 4, { repository: repo, revisions: { main: 'm4' } }));
        // A tip that cannot be stored takes the changes before it back too.
        const badTip = { main: undefined } as unknown as Record<string, string>;
        await assert.rejects(storage.recordChanges([change(repo, 'main', 'm5')], T + 5, { repository: repo, revisions: badTip }));
        assert.deepEqual(await storage.getPollerTips(repo), { main: 'm2' });
        const after = await storage.listChanges({ repository: repo });
        assert.equal(after.total, total);
        assert.equal(after.changes[0]?.id, m2?.id);
        // Ids taken by a rolled-back insert may be skipped, never reused out of order.
        const [m6] = await storage.recordChanges([change(repo, 'main', 'm6')], T + 6);
        assert.ok(m6!.id > m2!.id);
      });

      it('records a poller\'s changes only if the tips are still those its poll began from; of two racing pollers one wins', async () => {
        const repo = 'https://git.example.org/race.git';
        const conflict = (err: unknown) => err instanceof Error && (err as { code?: string }).code === 'KEEL_ERR_CONFLICT';
        // Never polled: expected null. Two masters' first polls at once: exactly one is stored.
        const first = await Promise.allSettled([
          storage.recordChanges([change(repo, 'main', 'a1')], T, { repository: repo, revisions: { main: 'a1' }, expected: null }),
          storage.recordChanges([change(repo, 'main', 'a1')], T, { repository: repo, revisions: { main: 'a1' }, expected: null }),
        ]);
        assert.deepEqual(first.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
        const refused = first.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
        assert.ok(conflict(refused.reason), String(refused.reason));
        assert.equal((await storage.listChanges({ repository: repo })).total, 1);
        // The next poll, from the stored tips, moves on; one from stale tips stores nothing.
        await storage.recordChanges([change(repo, 'main', 'a2')], T, { repository: repo, revisions: { main: 'a2' }, expected: { main: 'a1' } });
        await assert.rejects(storage.recordChanges([change(repo, 'main', 'a2')], T, { repository: repo, revisions: { main: 'a2' }, expected: { main: 'a1' } }), conflict);
        await assert.rejects(storage.recordChanges([], T, { repository: repo, revisions: {}, expected: null }), conflict);
        await assert.rejects(storage.recordChanges([], T, { repository: repo, revisions: {}, expected: { main: 'a2', dev: 'x' } }), conflict);
        assert.deepEqual(revisions((await storage.listChanges({ repository: repo })).changes), ['a2', 'a1']);
        assert.deepEqual(await storage.getPollerTips(repo), { main: 'a2' });
        // Racing pollers that both began from the same tips: one records the new commit, once.
        const race = await Promise.allSettled([1, 2, 3].map(() =>
          storage.recordChanges([change(repo, 'main', 'a3')], T, { repository: repo, revisions: { main: 'a3' }, expected: { main: 'a2' } })));
        assert.equal(race.filter((r) => r.status === 'fulfilled').length, 1);
        assert.ok(race.every((r) => r.status === 'fulfilled' || conflict(r.reason)));
        assert.deepEqual(revisions((await storage.listChanges({ repository: repo })).changes), ['a3', 'a2', 'a1']);
      });

      it('lists changes newest first by repository and branch, with a total and pages; ranges of one branch', async () => {
        const a = 'https://example.org/list-a.git';
        const b = 'https://example.org/list-b.git';
        const recorded = await storage.recordChanges([
          change(a, 'main', 'a1'), change(a, 'dev', 'a2'), change(b, 'main', 'b1'), change(a, 'main', 'a3'), change(b, 'main', 'b2'), change(a, 'main', 'a4'),
        ], T);
        const all = await storage.listChanges({ repository: a });
        assert.deepEqual([all.total, revisions(all.changes)], [4, ['a4', 'a3', 'a2', 'a1']]);
        const main = await storage.listChanges({ repository: a, branch: 'main' });
        assert.deepEqual([main.total, revisions(main.changes)], [3, ['a4', 'a3', 'a1']]);
        const page = await storage.listChanges({ repository: a, branch: 'main', limit: 1, offset: 1 });
        assert.deepEqual([page.total, revisions(page.changes)], [3, ['a3']]);
        assert.deepEqual(await storage.listChanges({ repository: 'nope' }), { changes: [], total: 0 });
        const everything = await storage.listChanges({ limit: 2 });
        assert.deepEqual(revisions(everything.changes), ['a4', 'b2'], 'unfiltered: the newest of every repository');
        assert.ok(everything.total >= recorded.length);
        // (afterId, upToId], oldest first; every repository unless one is named.
        const [a1, , , a3, b2, a4] = recorded;
        assert.deepEqual(revisions(await storage.listChangesBetween({ branch: 'main', afterId: a1!.id, upToId: a4!.id })), ['b1', 'a3', 'b2', 'a4']);
        assert.deepEqual(revisions(await storage.listChangesBetween({ branch: 'main', repository: null, afterId: a1!.id, upToId: b2!.id })), ['b1', 'a3', 'b2']);
        assert.deepEqual(revisions(await storage.listChangesBetween({ branch: 'main', repository: a, afterId: a1!.id - 1, upToId: a4!.id })), ['a1', 'a3', 'a4']);
        assert.deepEqual(await storage.listChangesBetween({ branch: 'main', repository: a, afterId: a3!.id, upToId: a3!.id }), []);
        assert.deepEqual(await storage.listChangesBetween({ branch: 'dev', repository: b, afterId: 0, upToId: a4!.id }), []);
      });

      it('links changes to a build request in the same transaction', async () => {
        const [c1, c2, c3] = await storage.recordChanges([change('rq', 'main', 'r1'), change('rq', 'main', 'r2'), change('rq', 'main', 'r3')], T);
        const req = await storage.addBuildRequest({ builder: 'ch-rq', branch: 'main', submittedAt: 1, changeIds: [c3!.id, c1!.id, c3!.id] });
        assert.deepEqual(revisions(await storage.listRequestChanges(req)), ['r1', 'r3']);
        const plain = await storage.addBuildRequest({ builder: 'ch-rq', submittedAt: 2, changeIds: [] });
        assert.deepEqual(await storage.listRequestChanges(plain), []);
        assert.equal((await storage.getBuildRequest(req))?.mergedInto, null);
        assert.deepEqual((await storage.listQueuedRequests('ch-rq')).map((r) => [r.id, r.mergedInto]), [[req, null], [plain, null]]);
        assert.equal((await storage.claimBuildRequest(['ch-rq'], 'm', 3))?.mergedInto, null);
        // A change that does not exist stores no request at all.
        await assert.rejects(storage.addBuildRequest({ builder: 'ch-rq-bad', submittedAt: 4, changeIds: [c2!.id, 999999] }));
        assert.deepEqual(await storage.listQueuedRequests('ch-rq-bad'), []);
      });

      it('merges only the still-queued requests into a claimed one: changes united, revision taken, never claimed again', async () => {
        const builder = 'ch-merge';
        const [c1, c2, c3, c4, c5] = await storage.recordChanges(['1', '2', '3', '4', '5'].map((n) => change('mg', 'main', `g${n}`)), T);
        const into = await storage.addBuildRequest({ builder, branch: 'main', revision: 'g1', submittedAt: 1, changeIds: [c1!.id, c2!.id] });
        const queuedA = await storage.addBuildRequest({ builder, branch: 'main', revision: 'g3', submittedAt: 2, changeIds: [c2!.id, c3!.id] });
        const queuedB = await storage.addBuildRequest({ builder, branch: 'main', revision: 'g4', submittedAt: 3, changeIds: [c4!.id] });
        const claimedElsewhere = await storage.addBuildRequest({ builder, branch: 'main', revision: 'g5', submittedAt: 4, changeIds: [c5!.id] });
        const completed = await storage.addBuildRequest({ builder, branch: 'main', submittedAt: 5 });
        assert.equal((await storage.claimBuildRequest([builder], 'm1', 10))?.id, into);
        // Claimed by another master after this one read the queue.
        assert.ok(storage instanceof KyselyStorage);
        await storage.db.updateTable('build_requests').set({ claimed_by: 'm2', claimed_at: 11 }).where('id', '=', claimedElsewhere).execute();
        await storage.completeBuildRequest(completed, 'cancelled', 12);

        const merged = await storage.mergeBuildRequests(into, [claimedElsewhere, queuedB, completed, into, queuedA, queuedB], 'g4', 20);
        assert.deepEqual(merged, [queuedA, queuedB]);
        for (const id of [queuedA, queuedB]) {
          const r = await storage.getBuildRequest(id);
          assert.deepEqual([r?.result, r?.completedAt, r?.mergedInto, r?.claimedBy], ['merged', 20, into, null]);
        }
        const winner = await storage.getBuildRequest(into);
        assert.deepEqual([winner?.revision, winner?.claimedBy, winner?.completedAt, winner?.mergedInto], ['g4', 'm1', null, null]);
        assert.deepEqual(revisions(await storage.listRequestChanges(into)), ['g1', 'g2', 'g3', 'g4']);
        const untouched = await storage.getBuildRequest(claimedElsewhere);
        assert.deepEqual([untouched?.claimedBy, untouched?.result, untouched?.mergedInto], ['m2', null, null]);
        assert.deepEqual([(await storage.getBuildRequest(completed))?.result], ['cancelled']);
        assert.deepEqual(revisions(await storage.listRequestChanges(claimedElsewhere)), ['g5']);
        // Merged requests are out of the queue, whoever looks and even after a master restart.
        assert.deepEqual(await storage.listQueuedRequests(builder), []);
        await storage.releaseMaster('m1', 'retry', 'restart', 21);
        await storage.unclaimBuildRequest(claimedElsewhere);
        assert.deepEqual((await storage.listQueuedRequests(builder)).map((r) => r.id), [into, claimedElsewhere]);
        assert.equal((await storage.claimBuildRequest([builder], 'm3', 22))?.id, into);
        assert.equal((await storage.claimBuildRequest([builder], 'm3', 22))?.id, claimedElsewhere);
        assert.equal(await storage.claimBuildRequest([builder], 'm3', 22), undefined);
        // Nothing left to merge: the revision stays.
        assert.deepEqual(await storage.mergeBuildRequests(into, [claimedElsewhere, queuedA], 'other', 23), []);
        assert.equal((await storage.getBuildRequest(into))?.revision, 'g4');

        // A merged request's builds are those of the request it was merged into, along a chain.
        const build = await storage.createBuild({ requestId: into, builder, worker: 'w', master: 'm3', startedAt: 24 });
        assert.deepEqual(await storage.listBuildIdsForRequest(queuedA), [build.id]);
        const top = await storage.addBuildRequest({ builder: 'ch-chain', branch: 'main', submittedAt: 30 });
        const middle = await storage.addBuildRequest({ builder: 'ch-chain', branch: 'main', submittedAt: 31 });
        const bottom = await storage.addBuildRequest({ builder: 'ch-chain', branch: 'main', submittedAt: 32, changeIds: [c1!.id] });
        assert.deepEqual(await storage.mergeBuildRequests(middle, [bottom], null, 33), [bottom]);
        assert.equal((await storage.claimBuildRequest(['ch-chain'], 'm', 34))?.id, top);
        assert.deepEqual(await storage.mergeBuildRequests(top, [middle], null, 35), [middle]);
        assert.deepEqual(revisions(await storage.listRequestChanges(top)), ['g1']);
        const topBuild = await storage.createBuild({ requestId: top, builder: 'ch-chain', worker: 'w', master: 'm', startedAt: 36 });
        assert.deepEqual(await storage.listBuildIdsForRequest(bottom), [topBuild.id]);
        assert.deepEqual(await storage.listBuildIdsForRequest(middle), [topBuild.id]);
      });

      it('a queued request is either claimed or merged, never both, when masters race', async () => {
        const builder = 'ch-race';
        for (let round = 0; round < 5; round++) {
          const into = await storage.addBuildRequest({ builder, branch: 'main', submittedAt: round });
          assert.equal((await storage.claimBuildRequest([builder], 'm1', round))?.id, into);
          const contested = await storage.addBuildRequest({ builder, branch: 'main', submittedAt: round });
          const [merged, claimed] = await Promise.all([
            storage.mergeBuildRequests(into, [contested], 'rev', 100 + round),
            storage.claimBuildRequest([builder], 'm2', 100 + round),
          ]);
          const r = await storage.getBuildRequest(contested);
          if (merged.length === 1) {
            assert.equal(claimed, undefined);
            assert.deepEqual([r?.result, r?.claimedBy], ['merged', null]);
          } else {
            assert.equal(claimed?.id, contested);
            assert.deepEqual([r?.result, r?.claimedBy, r?.mergedInto], [null, 'm2', null]);
          }
          await storage.completeBuildRequest(into, 'success', 200);
          if (claimed !== undefined) await storage.completeBuildRequest(claimed.id, 'success', 200);
        }
      });

      it('keeps each build\'s blamelist and finds the last blamed change and the blamelists between builds of a lane', async () => {
        const [x1, x2, x3, x4, x5, x6] = await storage.recordChanges(['1', '2', '3', '4', '5', '6'].map((n) => change('bl', n === '5' ? 'dev' : 'main', `x${n}`)), T);
        assert.equal(await storage.lastBlamedChangeId('ch-bl', 'main', 2_000_000_000), undefined);
        const b1 = await buildWith('ch-bl', 'main', [x1!, x2!]);
        await buildWith('ch-bl', 'dev', [x5!]);
        const other = await buildWith('ch-bl-other', 'main', [x6!]);
        const b2 = await buildWith('ch-bl', 'main', [x4!, x3!, x3!]);
        const b3 = await buildWith('ch-bl', 'main', []);
        const b4 = await buildWith('ch-bl', 'main', [x6!]);
        assert.deepEqual(revisions(await storage.listBuildChanges(b2.id)), ['x3', 'x4']);
        assert.deepEqual(await storage.listBuildChanges(b3.id), []);
        // Setting again replaces, and a change that does not exist changes nothing.
        await storage.setBuildChanges(b3.id, [x4!.id]);
        await storage.setBuildChanges(b3.id, []);
        assert.deepEqual(await storage.listBuildChanges(b3.id), []);
        await assert.rejects(storage.setBuildChanges(b2.id, [x1!.id, 999999]));
        assert.deepEqual(revisions(await storage.listBuildChanges(b2.id)), ['x3', 'x4']);

        // Only this builder's builds on this branch, strictly before the given build.
        assert.equal(await storage.lastBlamedChangeId('ch-bl', 'main', b1.id), undefined);
        assert.equal(await storage.lastBlamedChangeId('ch-bl', 'main', b2.id), x2!.id, 'not dev\'s x5 nor the other builder\'s x6');
        assert.equal(await storage.lastBlamedChangeId('ch-bl', 'main', b3.id), x4!.id);
        assert.equal(await storage.lastBlamedChangeId('ch-bl', 'main', b4.id), x4!.id, 'an empty blamelist between changes nothing');
        assert.equal(await storage.lastBlamedChangeId('ch-bl', 'main', b4.id + 1), x6!.id);
        assert.equal(await storage.lastBlamedChangeId('ch-bl', 'dev', b4.id + 1), x5!.id);
        assert.equal(await storage.lastBlamedChangeId('ch-bl-other', 'main', other.id), undefined);
        assert.equal(await storage.lastBlamedChangeId('ch-bl-other', 'main', other.id + 1), x6!.id);
        assert.equal(await storage.lastBlamedChangeId('ch-bl', 'nope', b4.id + 1), undefined);

        // (after, upTo]: the first bound is out, the second in; united, each change once, oldest first.
        assert.deepEqual(revisions(await storage.listBlamelistsBetween('ch-bl', 'main', b1.id, b4.id)), ['x3', 'x4', 'x6']);
        assert.deepEqual(revisions(await storage.listBlamelistsBetween('ch-bl', 'main', b1.id - 1, b2.id)), ['x1', 'x2', 'x3', 'x4']);
        assert.deepEqual(revisions(await storage.listBlamelistsBetween('ch-bl', 'main', b2.id, b3.id)), []);
        assert.deepEqual(revisions(await storage.listBlamelistsBetween('ch-bl', 'dev', 0, b4.id)), ['x5']);
        assert.deepEqual(revisions(await storage.listBlamelistsBetween('ch-bl-other', 'main', 0, b4.id)), ['x6']);
        // The same change in two builds of the lane is listed once.
        await storage.setBuildChanges(b3.id, [x4!.id, x6!.id]);
        assert.deepEqual(revisions(await storage.listBlamelistsBetween('ch-bl', 'main', b1.id, b4.id)), ['x3', 'x4', 'x6']);
      });
    });
  });
}
