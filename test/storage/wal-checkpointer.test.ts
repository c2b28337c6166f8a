// SQLite's WAL checkpoints run on a thread of their own, never inside the master's commits.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openStorage } from '../../src/storage/open-storage.js';
import { startWalCheckpointer } from '../../src/storage/wal-checkpointer.js';

/** better-sqlite3's objects stay reachable to the end (see keptAlive in open-storage.ts). */
const keptAlive: object[] = [];

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-wal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the thread copies the log into the database while the writer never checkpoints', async (t) => {
  const path = join(tempDir(t), 'db.sqlite');
  const db = new Database(path);
  t.after(() => db.close());
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB)');
  const lost: Error[] = [];
  const checkpointer = startWalCheckpointer(path, (err) => lost.push(err), { intervalMs: 20, thresholdPages: 16 });
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  keptAlive.push(db, insert);
  // 8 MB in 16 transactions: with no checkpoint at all it all stays in the -wal file.
  for (let i = 0; i < 16; i++) {
    db.transaction(() => {
      for (let j = 0; j < 128; j++) insert.run(Buffer.alloc(4000, i));
    })();
    await sleep(5);
  }
  const deadline = Date.now() + 10_000;
  while (statSync(path).size < 8_000_000 && Date.now() < deadline) await sleep(20);
  await checkpointer.stop();
  assert.ok(statSync(path).size >= 8_000_000, `database file ${statSync(path).size} bytes: the thread never checkpointed`);
  assert.deepEqual(lost, []);
});

test('the thread waits until the pages waiting reach its threshold, read from the wal-index', async (t) => {
  const path = join(tempDir(t), 'db.sqlite');
  const db = new Database(path);
  t.after(() => db.close());
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB)');
  const checkpointer = startWalCheckpointer(path, () => {}, { intervalMs: 10, thresholdPages: 1000 });
  t.after(() => checkpointer.stop());
  const insert = db.prepare('INSERT INTO t VALUES (?)');
  keptAlive.push(db, insert);
  const write = (rows: number) => db.transaction(() => {
    for (let j = 0; j < rows; j++) insert.run(Buffer.alloc(4000, j));
  })();
  const before = statSync(path).size;
  // About 500 pages: under the threshold, so twenty looks later they are still only in the log.
  write(500);
  await sleep(200);
  assert.equal(statSync(path).size, before, 'the thread checkpointed under its threshold');
  // Past it: copied back within a few looks.
  write(700);
  const deadline = Date.now() + 10_000;
  while (statSync(path).size < 4_000_000 && Date.now() < deadline) await sleep(10);
  assert.ok(statSync(path).size >= 4_000_000, `database file ${statSync(path).size} bytes: no checkpoint past the threshold`);
});

test('a thread that cannot open the database says so, and the caller checkpoints again', async (t) => {
  const path = join(tempDir(t), 'missing', 'db.sqlite');
  const lost = await new Promise<Error>((resolve, reject) => {
    // The thread never keeps a process alive (a master's servers do): this timer does, here.
    const timer = setTimeout(() => reject(new Error('no word from the thread in 10 s')), 10_000);
    const checkpointer = startWalCheckpointer(path, (err) => {
      clearTimeout(timer);
      resolve(err);
    }, { intervalMs: 20 });
    t.after(() => checkpointer.stop());
  });
  assert.match(lost.message, /directory does not exist|unable to open|exited/);
});

test('closing the storage ends the thread first: the last connection removes the WAL', async (t) => {
  const path = join(tempDir(t), 'keel.sqlite');
  const storage = await openStorage(`sqlite:${path}`);
  await storage.addBuildRequest({ builder: 'x', submittedAt: 1 });
  // Long enough for the thread to have opened its connection.
  await sleep(300);
  assert.ok(existsSync(`${path}-wal`));
  await storage.close();
  assert.equal(existsSync(`${path}-wal`), false, 'a connection was still open when the master closed its own');
});
