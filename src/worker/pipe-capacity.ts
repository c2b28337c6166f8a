// A pipe's capacity (Linux's F_SETPIPE_SZ), asked of libc through koffi: Node has no fcntl. A
// 64 KB pipe makes a reader that keeps up with a fast writer wake up for every 8-16 KB it
// prints; a bigger one lets the reader take a millisecond's output at a time (see pipe-reader.ts).
import { createRequire } from 'node:module';
import type Koffi from 'koffi';

const F_SETPIPE_SZ = 1031;

type Fcntl = (fd: number, cmd: number, argType: 'int', arg: number) => number;

let fcntl: Fcntl | null | undefined;

function loadFcntl(): Fcntl | null {
  if (fcntl !== undefined) return fcntl;
  fcntl = null;
  if (process.platform !== 'linux') return fcntl;
  try {
    // Loaded synchronously and only where used: a worker on a platform without koffi's prebuilt
    // binary still runs, with the kernel's default pipes.
    const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
    fcntl = koffi.load(null).func('int fcntl(int, int, ...)') as Fcntl;
  } catch {
    fcntl = null;
  }
  return fcntl;
}

/**
 * Asks for a pipe of `bytes` (rounded up by the kernel to a power of two pages); the capacity
 * it got, or undefined when it cannot be changed here (not Linux, no koffi, over
 * /proc/sys/fs/pipe-max-size or the user's pipe-user-pages limits).
 */
export function setPipeCapacity(fd: number, bytes: number): number | undefined {
  const f = loadFcntl();
  if (!f) return undefined;
  const got = f(fd, F_SETPIPE_SZ, 'int', bytes);
  return got > 0 ? got : undefined;
}
