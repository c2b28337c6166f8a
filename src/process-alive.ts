// Whether a process still runs, for files a process leaves behind (a master's lock, a worker's
// FIFO folder) that the next one may take over once their owner is gone.

/** True while `pid` runs, also as another user's process (EPERM). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
