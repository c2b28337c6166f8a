// The body of the WAL checkpointer's thread (wal-checkpointer.ts): a connection of its own to the
// master's SQLite file that copies the write-ahead log back into the database every interval.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };

// Module-level, so neither becomes garbage before the thread ends (see keptAlive in
// open-storage.ts: better-sqlite3's objects must not be finalised outside a JS context on Node 24).
const db = new Database(path, { fileMustExist: true });
// PASSIVE never waits for the master's readers or writers: it copies what it can and returns.
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

const timer = setInterval(() => {
  try {
    checkpoint.get();
  } catch {
    // Busy or interrupted: the next interval tries again, and the master's own backstop
    // checkpoint (a bigger wal_autocheckpoint) still bounds the log if it never succeeds.
  }
}, intervalMs);

parentPort?.on('message', (msg) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
