// Moves SQLite's WAL checkpoints off the master's event loop. A checkpoint copies the write-ahead
// log back into the database file and syncs both; by default it runs inside whichever commit
// takes the log past 1,000 pages (4 MB), so storing build output held the master's event loop
// (every build's live output, the API, the workers' heartbeats) for 13-20 ms every 4 MB on this
// VM's disk, far longer on a slow one. A thread with a connection of its own checkpoints
// instead, while the master goes on writing (bench/ci/sqlite-checkpoints).
import { Worker } from 'node:worker_threads';

/** How often the thread looks at how much of the log waits: one read of the -shm file. */
export const CHECKPOINT_INTERVAL_MS = 100;
/**
 * The thread checkpoints once the log holds this many pages, as SQLite does after a commit by
 * default. A checkpoint syncs both files even for a few pages: checkpointing at every look, a
 * master busy with small commits (build and step rows) synced up to 20 times a second, where
 * SQLite's way syncs twice per 4 MB of log.
 */
export const DEFAULT_WAL_PAGES = 1000;
/**
 * The master's own checkpoint while the thread runs. The log starts over only when a commit
 * finds it all copied back, so while commits come faster than a checkpoint takes, it grows (at
 * 20 MB a second of stored chunks here, not at 6); at this size (40 MB) a commit checkpoints by
 * itself: one stall of 40-50 ms where SQLite's default made ten of 13-20 ms. SQLite's default,
 * 1,000 pages, comes back when the thread cannot run.
 */
export const BACKSTOP_WAL_PAGES = 10_000;

export interface WalCheckpointer {
  /** Ends the thread and closes its connection; resolves once it is gone. */
  stop(): Promise<void>;
}

/**
 * Starts checkpointing the database at `path` (in WAL mode) from a thread. `onLost` is called if
 * the thread cannot open the database or dies: the caller then checkpoints by itself again.
 */
export function startWalCheckpointer(path: string, onLost: (err: Error) => void, options: { intervalMs?: number; thresholdPages?: number } = {}): WalCheckpointer {
  const workerData = { path, intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS, thresholdPages: options.thresholdPages ?? DEFAULT_WAL_PAGES };
  const worker = new Worker(new URL('./wal-checkpoint-thread.js', import.meta.url), { workerData });
  // Never what keeps the master running.
  worker.unref();
  let stopping = false;
  let lost = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const lose = (err: Error) => {
    if (stopping || lost) return;
    lost = true;
    onLost(err);
  };
  worker.on('error', lose);
  worker.on('exit', (code) => lose(new Error(`WAL checkpoint thread exited with code ${code}`)));
  return {
    async stop() {
      if (stopping) return exited;
      stopping = true;
      worker.postMessage('stop');
      // A thread stuck in a sync is ended rather than waited for.
      const timeout = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
