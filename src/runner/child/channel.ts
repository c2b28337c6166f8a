// The results channel of a test process: JSON lines written synchronously to the file descriptor
// the runner opened for it (fd 3), never to stdout. A file that prints garbage, calls
// process.exit() or crashes still leaves every result it sent before that (regrtest gh-109276).
import { writeSync } from 'node:fs';

export const CHANNEL_FD_ENV = 'KEEL_CHANNEL_FD';

/** Messages from a test process to the runner, one JSON object per line. */
export type ChannelMessage =
  | { t: 'hello'; pid: number; node: string }
  | { t: 'running'; name: string; nesting: number }
  | {
      t: 'test';
      names: string[];
      outcome: 'pass' | 'fail' | 'skip' | 'todo';
      durationMs: number;
      /** True for a describe() suite or a test that had subtests: not counted as a test itself. */
      container: boolean;
      /** True for a describe() suite. */
      suite: boolean;
      /** Why a failure happened, in node:test's words (testCodeFailure, hookFailed, subtestsFailed …). */
      failureType?: string;
      message?: string;
      stack?: string;
      reason?: string;
    }
  | { t: 'diagnostic'; message: string }
  /** The in-process driver (-R, bisect) started importing a file for the given run (0-based). */
  | { t: 'run'; file: string; run: number }
  /** Leak hunting: what the process held after a run (run -1: before the first), after a forced GC. */
  | { t: 'sample'; run: number; heapUsed: number; resources: Record<string, number>; fds: number | null }
  | { t: 'end'; complete: boolean; envChanges: string[]; problem?: string };

const fd = Number(process.env[CHANNEL_FD_ENV] ?? '-1');
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function channelOpen(): boolean {
  return fd >= 0;
}

export function send(message: ChannelMessage): void {
  if (fd < 0) return;
  const buf = Buffer.from(JSON.stringify(message) + '\n');
  let offset = 0;
  while (offset < buf.length) {
    try {
      offset += writeSync(fd, buf, offset);
    } catch (err) {
      // The runner reads continuously, so a full pipe drains soon; a closed one means it is gone.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
}
