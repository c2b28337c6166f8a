// The body of the WAL checkpointer's thread (wal-checkpointer.ts): a connection of its own to the
// master's SQLite file that copies the write-ahead log back into the database once it is long
// enough, as SQLite itself would after a commit.
import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, intervalMs, thresholdPages } = workerData as { path: string; intervalMs: number; thresholdPages: number };

// Module-level, so neither becomes garbage before the thread ends (see keptAlive in
// open-storage.ts: better-sqlite3's objects must not be finalised outside a JS context on Node 24).
const db = new Database(path, { fileMustExist: true });
// PASSIVE never waits for the master's readers or writers: it copies what it can and returns.
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

/**
 * The log's frames, and how many of them are not yet copied back, from the wal-index header
 * (https://www.sqlite.org/walformat.html: version 3007000 first, mxFrame at byte 16, nBackfill at
 * byte 96, in the machine's byte order), so that looking costs one read and no lock. Undefined
 * when the file cannot be read or understood: then every interval checkpoints.
 */
const WAL_INDEX_VERSION = 3007000;
const header = Buffer.alloc(100);
const u32 = endianness() === 'LE' ? (at: number) => header.readUInt32LE(at) : (at: number) => header.readUInt32BE(at);
let shm: number | undefined;
function walState(): { frames: number; waiting: number } | undefined {
  try {
    shm ??= openSync(`${path}-shm`, 'r');
    if (readSync(shm, header, 0, header.length, 0) < header.length) return undefined;
  } catch {
    return undefined;
  }
  if (u32(0) !== WAL_INDEX_VERSION) return undefined;
  const mxFrame = u32(16);
  const nBackfill = u32(96);
  return mxFrame >= nBackfill ? { frames: mxFrame, waiting: mxFrame - nBackfill } : undefined;
}

// SQLite's own rule, a log of thresholdPages or more, and then at every look while anything in it
// waits: the log starts over only after a checkpoint that left nothing waiting, and one that
// commits overtook is finished at the next look rather than when as many pages wait again.
const timer = setInterval(() => {
  const wal = walState();
  if (wal !== undefined && (wal.frames < thresholdPages || wal.waiting === 0)) return;
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
  if (shm !== undefined) closeSync(shm);
  db.close();
  parentPort?.close();
});
