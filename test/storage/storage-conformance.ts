// The storage conformance suite: one set of cases every backend must pass. Each backend's test
// file calls `storageConformance` with a factory that opens a fresh, empty database.
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { LogWriter } from '../../src/storage/log-writer.js';
import { CHUNK_TARGET_BYTES } from '../../src/storage/log-chunks.js';
import { KyselyStorage } from '../../src/storage/kysely-storage.js';
import { MAX_STORED_DETAILS } from '../../src/storage/storage.js';
import type { BuildRecord, NewTestOutcome, Storage } from '../../src/storage/storage.js';

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
  });
}
